"""``prepare``: compute a representation for every manifest row once, in parallel, and cache it.

Rows already in the cache are reused; the rest run on a process pool (workers with their own
dlib models and ``cv2.setNumThreads(1)``), each worker writing its own entries, so an
interrupted run keeps every finished row. Failures do not stop the other rows: they are
collected and raised together at the end as ``PreprocessingError``, each naming its clip.

``on_no_face="previous"`` is resolved after the pool, in manifest order: a clip without a
detectable face borrows the alignment of the nearest earlier clip of the same subject that had
one (else the nearest later one), and its entry records which clip it borrowed from.

Workers are spawned, never forked: a forked child inherits OpenCV's (and TensorFlow's) thread
pools in a broken state and hangs (seen here). A calling script therefore guards its entry point
with ``if __name__ == "__main__":``, as every spawn-based pool requires.
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import representations as reps
from .cache import entry_key, entry_path, read_entry, read_info, write_entry
from .face import NoFaceError, apply_affine


class PreprocessingError(RuntimeError):
    """Every row that failed, one line each naming its clip; finished rows stay cached."""

    def __init__(self, failures):
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} row(s) failed:\n  " + "\n  ".join(self.failures))


class Prepared:
    """The prepared rows in manifest order; arrays are read from the cache on access."""

    def __init__(self, manifest: pd.DataFrame, representation: str, params: dict, paths, computed: int):
        self.manifest = manifest
        self.representation = representation
        self.params = params
        self.paths = list(paths)
        self.computed = computed
        self.reused = len(self.paths) - computed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        return read_entry(self.paths[i])[0]

    def info(self, i: int) -> dict:
        return read_info(self.paths[i])

    def landmarks(self, i: int):
        """The 68 landmarks of row i in output pixels (None after a centre-crop fallback)."""
        info = self.info(i)
        if info.get("landmarks") is None:
            return None
        return apply_affine(np.asarray(info["matrix"]), np.asarray(info["landmarks"]))  # matrix is at `size`

    def stack(self) -> np.ndarray:
        """All rows as one float32 array (N, ...)."""
        if not self.paths:
            return np.zeros((0,), np.float32)
        return np.stack([self[i] for i in range(len(self))]).astype(np.float32, copy=False)

    @property
    def fallbacks(self) -> pd.DataFrame:
        """Rows where an explicit fallback was used, with a ``fallback`` column saying which."""
        notes = [self.info(i).get("fallback") for i in range(len(self))]
        df = self.manifest.assign(fallback=notes)
        return df[df["fallback"].notna()]


def load_rows(manifest) -> pd.DataFrame:
    """A manifest DataFrame (index reset) from a DataFrame or a CSV path."""
    if isinstance(manifest, pd.DataFrame):
        return manifest.reset_index(drop=True)
    from ..datasets.manifest import read_manifest

    return read_manifest(manifest).reset_index(drop=True)


def _init_worker():
    import cv2

    cv2.setNumThreads(1)


def _work(row: dict, representation: str, params: dict, path: str, given=None):
    """Compute and store one row; returns ("ok", None) | ("no_face", msg) | ("error", msg)."""
    try:
        array, info = reps.compute(row, representation, params, given)
        write_entry(Path(path), array, info)
        return "ok", None
    except NoFaceError as e:
        if params["on_no_face"] == "previous" and given is None:
            return "no_face", str(e)
        return "error", f"{e} (use on_no_face='previous' or 'center' for an explicit fallback)"
    except (ValueError, OSError, RuntimeError, cv2.error) as e:  # cv2.error derives from Exception only
        return "error", f"clip {reps.clip_name(row)}: {e}" if "clip " not in str(e) else str(e)


class _Bar:
    """Plain stderr progress bar (no dependency)."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled, self.done, self.t0 = total, label, enabled and total > 0, 0, time.time()

    def step(self):
        self.done += 1
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                f"{time.time() - self.t0:.1f}s"
            )
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _run(jobs, representation, params, n_jobs, bar):
    """Run ``jobs`` [(i, row, path)]; returns {i: (status, message)}."""
    results = {}
    if n_jobs <= 1 or len(jobs) <= 1:
        for i, row, path in jobs:
            results[i] = _work(row, representation, params, path)
            bar.step()
        return results
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=get_context("spawn"),
                             initializer=_init_worker) as pool:
        futures = {pool.submit(_work, row, representation, params, path): i for i, row, path in jobs}
        try:
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.step()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def _donor(rows: pd.DataFrame, i: int, paths, usable) -> int | None:
    """Nearest earlier (else later) row of the same subject with a detected face."""
    same = rows.index[(rows["subject"] == rows.at[i, "subject"]) & rows.index.isin(usable)]
    earlier = [j for j in same if j < i]
    later = [j for j in same if j > i]
    return earlier[-1] if earlier else (later[0] if later else None)


def prepare(manifest, representation: str, cache_dir, *, n_jobs: int = 2, progress: bool = True, **params) -> Prepared:
    """Compute (or reuse) ``representation`` for every row of ``manifest`` under ``cache_dir``.

    ``params`` are the representation's (see ``representations.REPRESENTATIONS``; unknown names
    are an error). Returns a ``Prepared`` in manifest order.
    """
    rows = load_rows(manifest)
    p = reps.normalize_params(representation, params)
    records = [r for r in rows.to_dict("records")]
    paths = [entry_path(cache_dir, representation, entry_key(r, representation, p)) for r in records]
    todo = [(i, records[i], str(paths[i])) for i in range(len(records)) if not paths[i].is_file()]
    bar = _Bar(len(todo), f"prepare {representation}", progress)
    results = _run(todo, representation, p, n_jobs, bar)
    failures = [msg for _, (status, msg) in sorted(results.items()) if status == "error"]
    faceless = [i for i, (status, _) in sorted(results.items()) if status == "no_face"]
    if faceless:
        usable = [i for i in range(len(records)) if i not in faceless and paths[i].is_file()
                  and read_info(paths[i]).get("landmarks") is not None]
        for i in faceless:
            j = _donor(rows, i, paths, usable)
            if j is None:
                failures.append(f"{results[i][1]}; on_no_face='previous' but no other clip of subject "
                                f"{records[i]['subject']} has a detected face")
                continue
            info = read_info(paths[j])
            given = {"matrix": info["matrix"], "landmarks": info["landmarks"],
                     "fallback": f"previous clip transform (from {reps.clip_name(records[j])}): {results[i][1]}"}
            status, msg = _work(records[i], representation, p, str(paths[i]), given)
            if status != "ok":
                failures.append(msg)
    if failures:
        raise PreprocessingError(failures)
    return Prepared(rows, representation, p, paths, computed=len(todo))
