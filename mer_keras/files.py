"""Files that must survive interruption, and the file names of per-subject outputs: the bottom layer that
training, evaluation and preprocessing all write through (issue 23: training never imports evaluation to
write a file).

Every writer goes through ``atomic_write_bytes``: a temporary sibling, then ``os.replace``, so a crash or
Ctrl-C leaves either the previous file or the complete new one, never half a file. A subject key is
``dataset/subject``; its files (fold predictions, pre-training weights) are named by ``subject_file_stem``,
and the manifest refuses two subjects whose stems collide (``stem_key``), so no two folds write one file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    ``sync=False`` skips the ``fsync`` (a cache entry, checked on every read and recomputed when damaged,
    needs the rename's atomicity but not the cost of durability)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared (umask rules)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str, *, sync: bool = True) -> Path:
    """Write ``text`` (UTF-8) atomically; see ``atomic_write_bytes``."""
    return atomic_write_bytes(path, text.encode("utf-8"), sync=sync)


def _plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, NaN/inf to None, paths to str."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    raise TypeError(f"cannot write a {type(obj).__name__} ({obj!r}) to JSON")


def atomic_write_json(path, obj) -> Path:
    """Serialise first (so a bad value raises before any file is touched), then write atomically."""
    text = json.dumps(_plain(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def subject_file_stem(subject: str) -> str:
    """File-name form of a qualified subject key ('casme2/sub01' -> 'casme2__sub01')."""
    stem = str(subject).replace("/", "__").replace("\\", "__")
    if not stem or stem.startswith("."):
        raise ValueError(f"subject {subject!r} cannot name a fold file")
    return stem


def stem_key(subject: str) -> str:
    """What two subjects must not share: their stem, case folded (macOS and Windows file systems ignore case)."""
    return subject_file_stem(subject).casefold()
