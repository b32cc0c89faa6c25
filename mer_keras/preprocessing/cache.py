"""On-disk cache of prepared rows: one file per (row, representation, parameters), written atomically.

The key hashes the representation, every normalised parameter, the row's identity and frame
indices, the frame files' sizes and modification times, and ``CACHE_VERSION`` (bumped when an
algorithm changes), so a changed parameter or frame never reuses a stale entry. Each entry is
an ``.npz`` holding the array and a JSON ``info`` (fallback used, alignment matrix, landmarks);
it is written to a temporary name and renamed, so an interrupted run leaves only whole entries
and the next run resumes from them.

Size and modification time miss a frame rewritten in place with the same size and time (a copy
with ``cp -p``, a restored backup): each entry therefore also keeps ``frames_sha256``, a hash of
its frames' content, which ``prepare(..., verify_cache=True)`` (``mer-keras prepare
--verify-cache``) compares before reusing the entry. A row that used a fallback gets a
``<key>.fallbacks.json`` beside its entry listing each one (clip, frame, kind).

Every entry is verified when read (``read_entry``): a truncated or corrupt file (the zip container's
structure and CRC) or an array whose shape or SHA-256 is not the recorded one is a ``CacheEntryError``
naming it; ``prepare`` recomputes such an entry instead of reusing it.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..datasets.manifest import frame_paths
from ..errors import CacheEntryError
from ..files import atomic_write_bytes, atomic_write_text

CACHE_VERSION = 1
ROW_FIELDS = ("dataset", "subject", "clip", "frames_dir", "frame_files", "onset_idx", "apex_idx", "offset_idx", "fps")


def _frames_signature(row) -> list:
    sig = []
    for path in frame_paths(row):
        try:
            st = path.stat()
            sig.append([path.name, st.st_size, st.st_mtime_ns])
        except OSError:
            sig.append([path.name, None, None])  # reported by the reader when the frame is needed
    return sig


def entry_key(row, representation: str, params: dict) -> str:
    """Hex digest identifying one row's output under one representation and parameter set."""
    payload = {
        "version": CACHE_VERSION,
        "representation": representation,
        "params": params,
        "row": {f: _plain(row[f]) for f in ROW_FIELDS},
        "frames": _frames_signature(row),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def entry_path(cache_dir, representation: str, key: str) -> Path:
    return Path(cache_dir) / representation / key[:2] / f"{key}.npz"


def frames_digest(row) -> str:
    """SHA-256 over the names and contents of the row's frame files (missing files hash as absent)."""
    digest = hashlib.sha256()
    for path in frame_paths(row):
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"absent")
    return digest.hexdigest()


def fallbacks_path(entry: Path) -> Path:
    return entry.with_name(f"{entry.stem}.fallbacks.json")


def write_fallbacks(entry: Path, records: list) -> None:
    """The sidecar listing an entry's fallbacks (removed when a recomputation needed none)."""
    path = fallbacks_path(entry)
    if not records:
        path.unlink(missing_ok=True)
        return
    atomic_write_text(path, json.dumps(records, indent=1, default=_plain), sync=False)


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (what ``read_entry`` compares)."""
    array = np.ascontiguousarray(array)
    head = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(head + array.tobytes()).hexdigest()


def write_entry(path: Path, array: np.ndarray, info: dict) -> None:
    """Atomic write (``files.atomic_write_bytes``, without fsync: a damaged entry is recomputed). The info records
    the array's shape, dtype and checksum, so a damaged entry is found when it is read."""
    info = {**info, "array_sha256": array_digest(array), "array_shape": list(np.shape(array)),
            "array_dtype": np.asarray(array).dtype.str}
    buf = io.BytesIO()
    np.savez(buf, array=array, info=np.array(json.dumps(info)))
    atomic_write_bytes(path, buf.getvalue(), sync=False)


def _damaged(path: Path, error) -> CacheEntryError:
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return CacheEntryError(f"cache entry {path} is damaged ({what}); delete it, or run `mer-keras prepare` again "
                           "to recompute it")


def read_entry(path: Path, verify: bool = True):
    """(array, info) of a cache entry; a truncated or corrupt file, or an array whose shape, dtype or checksum is
    not the recorded one, is a ``CacheEntryError`` naming it (entries written before checksums pass unchecked)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            array, info = data["array"], json.loads(str(data["info"]))
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError) as e:  # zlib errors derive from them too
        raise _damaged(path, e) from None
    if verify and "array_sha256" in info and (
            list(array.shape) != info.get("array_shape") or array_digest(array) != info["array_sha256"]):
        raise _damaged(path, ValueError(f"its array is not the {info.get('array_shape')} one written "
                                        "(checksum differs)"))
    return array, info


def read_info(path: Path) -> dict:
    """The info of an entry (``CacheEntryError`` when the file is damaged)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["info"]))
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError) as e:
        raise _damaged(path, e) from None


def entry_problem(path: Path) -> str | None:
    """Why an existing entry cannot be reused (damaged), or None when it reads back whole."""
    try:
        read_entry(path)
    except CacheEntryError as e:
        return str(e)
    return None
