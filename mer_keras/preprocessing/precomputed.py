"""Reading precomputed inputs (``datasets.precomputed``) as arrays of a representation: no recomputation.

``prepare`` hands a precomputed manifest here. Each row's file for the requested representation
(column ``input_<representation>``) is read as it is and only made to fit the model input:

* resized to ``size`` x ``size`` (area interpolation when shrinking, bilinear when enlarging);
* images: 8-bit / 16-bit values divided by 255 / 65535 into [0, 1], BGR turned into RGB (so the first
  channel of an STSTNet ``norm_u_v_os`` image, written R = u, G = v, B = strain, is u); ``grayscale``
  gives one channel, otherwise a one-channel file is repeated to three; an alpha channel is dropped;
* ``.npy`` / ``.npz`` arrays: values kept as they are (float32), channels kept;
* flow-like representations (``flow``, ``flow_stack``) read from an *image*: the image is taken to
  be per-image min-max scaled (the shared STSTNet files are), so u and v are mapped from [0, 1] to
  [-1, 1] (2 x - 1), the package's signed-flow convention. Mirroring u under min-max scaling is then
  exactly negation (scaling -u gives 1 - x), so the pipeline's ``hflip(kind="flow")`` stays right;
  ``augment.hflip(kind="flow_scaled")`` mirrors data still in the file's own scale. The third channel
  (strain or magnitude) stays in [0, 1]. This mapping is our choice, recorded in each entry's info.

The settings that need frames (alignment, masks, flow method) cannot apply to a ready file; those
that differ from their defaults are named once in the log and in each entry's info. Entries are
cached like computed ones (keyed by the file's path, size and modification time).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from ..datasets.precomputed import INPUT_PREFIX, representations
from ..errors import InputError
from .cache import CACHE_VERSION, entry_path, entry_problem, write_entry
from .defaults import FLOW_VECTOR_REPRESENTATIONS
from .prepared import Prepared
from .representations import REPRESENTATIONS

logger = logging.getLogger("mer_keras")
USED = ("size", "grayscale")


def _load(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: cannot be read as a NumPy array ({e})") from None
        if suffix == ".npz":
            keys = list(data.keys())
            if not keys:
                raise InputError(f"{path}: the .npz file holds no array")
            data = data["array"] if "array" in keys else data[keys[0]]
        return np.asarray(data)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{path}: cannot be read as an image")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    """Resize the spatial axes (-3, -2) of an (H, W, C) or (T, H, W, C) array."""
    if x.shape[-3:-1] == (size, size):
        return x
    interp = cv2.INTER_AREA if x.shape[-3] > size else cv2.INTER_LINEAR
    flat = x.reshape((-1,) + x.shape[-3:])
    out = []
    for img in flat:
        r = cv2.resize(img, (size, size), interpolation=interp)
        out.append(r[..., None] if r.ndim == 2 else r)
    return np.stack(out).reshape(x.shape[:-3] + (size, size, x.shape[-1]))


def read_input(path, representation: str, size: int, grayscale: bool = False):
    """(float32 array, info) of one precomputed file for ``representation`` (see the module doc)."""
    path = Path(path)
    raw = _load(path)
    info = {"source_file": str(path), "source_shape": list(raw.shape), "source_dtype": str(raw.dtype),
            "source_range": [float(raw.min()), float(raw.max())] if raw.size else None}
    bad = int(raw.size - np.count_nonzero(np.isfinite(raw))) if raw.dtype.kind in "fc" else 0
    if bad:  # NaN or inf: the SVM or the network would fail (or learn NaN) far from the file's name
        raise InputError(f"{path}: {bad} of its {raw.size} values are not finite numbers (NaN or infinity); "
                         "a precomputed input must hold finite numbers")
    is_image = path.suffix.lower() not in (".npy", ".npz")
    x = raw[..., None] if raw.ndim == 2 else raw
    if x.ndim not in (3, 4):
        raise InputError(f"{path}: expected an image (H, W[, C]) or a stack (T, H, W, C), got shape {raw.shape}")
    if is_image:
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(x.dtype, 1.0)
        x = x.astype(np.float32) / scale
        info["scaling"] = f"/ {scale:g}"
    else:
        x = x.astype(np.float32)
        info["scaling"] = "none (array values kept)"
    flow_like = representation in FLOW_VECTOR_REPRESENTATIONS
    if is_image and not flow_like:
        if grayscale and x.shape[-1] == 3:
            x = np.dot(x, np.array([0.299, 0.587, 0.114], np.float32))[..., None]
            info["channels"] = "RGB -> gray"
        elif not grayscale and x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
            info["channels"] = "gray repeated to RGB"
    x = _resize(x, int(size))
    if is_image and flow_like:
        if x.shape[-1] < 2:
            raise InputError(f"{path}: a {representation} image needs u and v channels, it has {x.shape[-1]}")
        x[..., :2] = 2.0 * x[..., :2] - 1.0
        info["scaling"] += "; u, v mapped to 2x - 1 (per-image min-max scaled flow)"
    info["shape"] = list(x.shape)
    return np.ascontiguousarray(x, dtype=np.float32), info


def _key(path: Path, representation: str, p: dict) -> str:
    st = path.stat()
    payload = {"version": CACHE_VERSION, "precomputed": True, "representation": representation,
               "size": p["size"], "grayscale": bool(p.get("grayscale")) and representation not in FLOW_VECTOR_REPRESENTATIONS,
               "file": [str(path), st.st_size, st.st_mtime_ns]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def prepare_precomputed(rows, representation: str, cache_dir, p: dict) -> Prepared:
    """``prepare`` for a precomputed manifest: each row's ``input_<representation>`` file, fitted (module doc)."""
    column = INPUT_PREFIX + representation
    if column not in rows.columns:
        held = representations(rows)
        raise InputError(f"this stage needs the {representation!r} input but the precomputed manifest holds "
                         f"only {held} (no column {column!r}); add it with `mer-keras manifest precomputed "
                         f"... --input {representation}=DIR`")
    defaults = REPRESENTATIONS[representation][1]
    ignored = {k: v for k, v in p.items() if k not in USED and v != defaults.get(k) and v not in ((), [], None)}
    if ignored:
        logger.info("precomputed %s inputs are read as they are; not applied: %s", representation,
                    ", ".join(f"{k}={v}" for k, v in sorted(ignored.items())))
    paths, computed = [], 0
    for i, row in enumerate(rows.to_dict("records")):
        source = Path(str(row[column]))
        if not source.is_file():
            raise InputError(f"row {i} ({row['subject']}/{row['clip']}): {column} file {source} does not exist")
        entry = entry_path(cache_dir, representation, _key(source, representation, p))
        why = entry_problem(entry) if entry.is_file() else None
        if why:
            logger.warning("%s/%s: %s: recomputing", row["subject"], row["clip"], why)
        if why or not entry.is_file():
            array, info = read_input(source, representation, p["size"], bool(p.get("grayscale")))
            info["not_applied"] = {k: str(v) for k, v in ignored.items()}
            write_entry(entry, array, info)
            computed += 1
        paths.append(entry)
    return Prepared(rows, representation, p, paths, computed=computed)
