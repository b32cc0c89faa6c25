"""``prepare``: compute a representation for every manifest row once, in parallel, and cache it.

Rows already in the cache are reused; the rest run on a process pool (workers with their own
dlib models and ``cv2.setNumThreads(1)``), each worker writing its own entries, so an
interrupted run keeps every finished row. Failures do not stop the other rows: they are
collected and raised together at the end as ``PreprocessingError``, each naming its clip.

``on_no_face="previous"`` is resolved after the pool, in manifest order: a clip without a
detectable face borrows the alignment of the nearest earlier clip of the same subject that had
one (else the nearest later one), and its entry records which clip it borrowed from.

Every fallback (``on_no_face="previous"`` or ``"center"``, a frame without a face under
``redetect``) is logged as a warning on the ``mer_keras`` logger, listed in
``Prepared.fallback_records`` (one dict per fallback: clip, frame, kind) and written beside its
cache entry as ``<key>.fallbacks.json``; reused entries report theirs again.

Workers are spawned, never forked: a forked child inherits OpenCV's (and TensorFlow's) thread
pools in a broken state and hangs (seen here). A calling script therefore guards its entry point
with ``if __name__ == "__main__":``, as every spawn-based pool requires. The pool is ``workers.worker_pool``:
an interrupted run terminates its workers, and a worker whose parent is gone (killed with SIGKILL, say) exits.
"""
from __future__ import annotations

import logging
import tempfile
from concurrent.futures import as_completed
from pathlib import Path

import cv2
import pandas as pd
from tqdm.auto import tqdm

from ..datasets.manifest import FRAME_SEP, read_manifest
from ..datasets.precomputed import is_precomputed
from ..errors import InputError, MerKerasError
from ..workers import worker_pool
from . import representations as reps
from .cache import (
    entry_key,
    entry_path,
    entry_problem,
    frames_digest,
    read_info,
    write_entry,
    write_fallbacks,
)
from .face import NoFaceError
from .precomputed import prepare_precomputed
from .prepared import Prepared

logger = logging.getLogger("mer_keras")

NO_FACE_HINT = ("use --on-no-face previous or center (preprocess.on_no_face in an experiment) for an explicit, "
                "recorded fallback")

FALLBACK_COLUMNS = ("row", "dataset", "subject", "clip", "frame", "frame_file", "kind", "detail")


class PreprocessingError(MerKerasError, RuntimeError):
    """Every row that failed, one line each naming its clip; finished rows stay cached."""

    def __init__(self, failures):
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} row(s) failed:\n  " + "\n  ".join(self.failures))


def load_rows(manifest) -> pd.DataFrame:
    """A manifest DataFrame (index reset) from a DataFrame or a CSV path."""
    if isinstance(manifest, pd.DataFrame):
        return manifest.reset_index(drop=True)
    return read_manifest(manifest).reset_index(drop=True)


def _init_worker():
    cv2.setNumThreads(1)


def _work(row: dict, representation: str, params: dict, path: str, given=None):
    """Compute and store one row; returns ("ok", None) | ("no_face", msg) | ("error", msg)."""
    try:
        array, info = reps.compute(row, representation, params, given)
        info["frames_sha256"] = frames_digest(row)
        write_entry(Path(path), array, info)
        write_fallbacks(Path(path), _entry_fallbacks(row, info))
        return "ok", None
    except NoFaceError as e:
        if params["on_no_face"] == "previous" and given is None:
            return "no_face", str(e)
        return "error", f"{e} ({NO_FACE_HINT})"
    except (ValueError, OSError, RuntimeError, cv2.error) as e:  # cv2.error derives from Exception only
        return "error", f"clip {reps.clip_name(row)}: {e}" if "clip " not in str(e) else str(e)


def _bar(total: int, label: str, enabled: bool):
    """One progress display for the rows computed now (tqdm: drawn on a terminal, silent in a log file)."""
    return tqdm(total=total, desc=label, unit="row", disable=None if enabled and total else True, leave=False)


def _run(jobs, representation, params, n_jobs, bar):
    """Run ``jobs`` [(i, row, path)]; returns {i: (status, message)}."""
    results = {}
    if n_jobs <= 1 or len(jobs) <= 1:
        for i, row, path in jobs:
            results[i] = _work(row, representation, params, path)
            bar.update(1)
        return results
    with worker_pool(min(n_jobs, len(jobs)), _init_worker) as pool:  # stopped on an exception, workers too
        futures = {pool.submit(_work, row, representation, params, path): i for i, row, path in jobs}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update(1)
    return results


def _donor(rows: pd.DataFrame, i: int, paths, usable) -> int | None:
    """Nearest earlier (else later) row of the same subject with a detected face."""
    same = rows.index[(rows["subject"] == rows.at[i, "subject"]) & rows.index.isin(usable)]
    earlier = [j for j in same if j < i]
    later = [j for j in same if j > i]
    return earlier[-1] if earlier else (later[0] if later else None)


def _entry_fallbacks(row: dict, info: dict) -> list[dict]:
    """The fallbacks recorded in one entry's info (entries written before ``fallbacks`` existed keep only
    the ``fallback`` text: its kind is read from the text, its frame is the onset)."""
    events = info.get("fallbacks")
    if events is None and info.get("fallback"):
        text = str(info["fallback"])
        kind = "previous" if text.startswith("previous") else "center" if text.startswith("center") else "redetect"
        events = [{"kind": kind, "frame": int(row["onset_idx"]), "detail": text}]
    files = str(row["frame_files"]).split(FRAME_SEP)
    out = []
    for e in events or ():
        frame = int(e["frame"])
        out.append({"dataset": row["dataset"], "subject": row["subject"], "clip": row["clip"], "frame": frame,
                    "frame_file": files[frame] if 0 <= frame < len(files) else None, "kind": e["kind"],
                    "detail": e["detail"]})
    return out


def check_cache_writable(cache_dir, representation: str) -> Path:
    """Fail before any work when the cache folder cannot take new entries (read-only, a file in the way)."""
    folder = Path(cache_dir) / representation
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except FileExistsError:
        raise InputError(f"cache {cache_dir}: {folder} or a folder above it is a file; --cache must be a folder") \
            from None
    except NotADirectoryError:
        raise InputError(f"cache {cache_dir}: a file stands where a folder is expected; --cache must be a folder") \
            from None
    except PermissionError:
        raise InputError(f"cache {folder} is not writable; choose a --cache folder you can write to") from None
    return folder


def _stale(paths, records, verify: bool) -> set[int]:
    """Rows whose entry exists but whose frames' content changed since it was written (``verify_cache``)."""
    if not verify:
        return set()
    stale = set()
    for i, path in enumerate(paths):
        if path is not None and path.is_file() and read_info(path).get("frames_sha256") != frames_digest(records[i]):
            stale.add(i)
    return stale


def damaged_entries(paths, records) -> set[int]:
    """Rows whose cache entry exists but does not read back whole (truncated, corrupt, another checksum):
    logged and recomputed, never reused (``cache.read_entry`` verifies every entry it reads)."""
    damaged = set()
    for i, path in enumerate(paths):
        why = entry_problem(path) if path.is_file() else None
        if why:
            logger.warning("%s/%s: %s: recomputing", records[i]["subject"], records[i]["clip"], why)
            damaged.add(i)
    return damaged


def zero_motion_rows(rows: pd.DataFrame, representation: str) -> list[str]:
    """Rows whose motion would be exactly zero: the apex (flow) or offset (ARS/RRS, EVM, flow stacks) is
    the onset frame, as a one- or two-frame clip folder or a mistyped apex gives."""
    end = reps.MOTION_END.get(representation)
    if end is None:
        return []
    same = rows[rows["onset_idx"].astype(int) == rows[f"{end}_idx"].astype(int)]
    return [f"clip {r.subject}/{r.clip}: its {end} is the onset frame (position {int(r.onset_idx)} of "
            f"{len(str(r.frame_files).split(FRAME_SEP))} frame(s)), so {representation} has no motion to show; "
            f"fix its onset/{end}, leave it out, or pass --allow-zero-motion" for r in same.itertuples()]


def prepare(manifest, representation: str, cache_dir, *, n_jobs: int = 2, progress: bool = True,
            verify_cache: bool = False, allow_zero_motion: bool = False, **params) -> Prepared:
    """Compute (or reuse) ``representation`` for every row of ``manifest`` under ``cache_dir``.

    ``params`` are the representation's (see ``representations.REPRESENTATIONS``; unknown names
    are an error). ``verify_cache=True`` hashes the frame files of every cached row and recomputes
    those whose content changed (the cache key alone trusts file size and modification time; an entry
    written before hashes were kept is recomputed). A row whose motion would be zero (apex or offset
    at the onset, ``zero_motion_rows``) is refused before any work unless ``allow_zero_motion``.
    Returns a ``Prepared`` in manifest order.
    """
    rows = load_rows(manifest)
    p = reps.normalize_params(representation, params)
    check_cache_writable(cache_dir, representation)
    if is_precomputed(rows):  # ready input files (datasets.precomputed): read as they are, never recomputed
        if p.get("frames") == "sequence":
            raise InputError("precomputed inputs hold one image per clip: frames = 'sequence' needs the clips' "
                             "frames (a manifest of frame folders)")
        return prepare_precomputed(rows, representation, cache_dir, p)
    still = zero_motion_rows(rows, representation)
    if still and not allow_zero_motion:
        raise PreprocessingError(still)
    for message in still:
        logger.warning("%s (allowed)", message)
    records = [r for r in rows.to_dict("records")]
    paths = [entry_path(cache_dir, representation, entry_key(r, representation, p)) for r in records]
    damaged = damaged_entries(paths, records)
    stale = damaged | _stale([None if i in damaged else path for i, path in enumerate(paths)], records, verify_cache)
    for i in sorted(stale - damaged):
        logger.warning("cache entry of %s/%s is stale (a frame's content changed since it was written): "
                       "recomputing", records[i]["subject"], records[i]["clip"])
    todo = [(i, records[i], str(paths[i])) for i in range(len(records)) if i in stale or not paths[i].is_file()]
    with _bar(len(todo), f"prepare {representation}", progress) as bar:
        results = _run(todo, representation, p, n_jobs, bar)
    failures = [msg for _, (status, msg) in sorted(results.items()) if status == "error"]
    faceless = [i for i, (status, _) in sorted(results.items()) if status == "no_face"]
    if faceless:
        usable = [i for i in range(len(records)) if i not in faceless and paths[i].is_file()
                  and read_info(paths[i]).get("landmarks") is not None]
        for i in faceless:
            j = _donor(rows, i, paths, usable)
            if j is None:
                failures.append(f"{results[i][1]}; --on-no-face previous, but no other clip of subject "
                                f"{records[i]['subject']} has a detected face (try --on-no-face center)")
                continue
            info = read_info(paths[j])
            given = {"matrix": info["matrix"], "landmarks": info["landmarks"],
                     "fallback": f"previous clip transform (from {reps.clip_name(records[j])}): {results[i][1]}"}
            status, msg = _work(records[i], representation, p, str(paths[i]), given)
            if status != "ok":
                failures.append(msg)
    if failures:
        raise PreprocessingError(failures)
    fallbacks = []
    for i, path in enumerate(paths):
        for record in _entry_fallbacks(records[i], read_info(path)):
            fallbacks.append({"row": i, **record})
            logger.warning("fallback (%s): %s/%s frame %d (%s): %s", record["kind"], record["subject"],
                           record["clip"], record["frame"], record["frame_file"], record["detail"])
    return Prepared(rows, representation, p, paths, computed=len(todo), fallback_records=fallbacks)
