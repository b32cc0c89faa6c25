"""STSTNet-style ``norm_u_v_os`` flow images from raw frames, named and labelled like the shared ones.

The widely shared MEGC 2019 flow images (STSTNet, Liong et al. 2019; redistributed by HTNet) are 28x28x3
PNGs of the onset -> apex TV-L1 flow of the aligned face: R = u, G = v, B = optical strain, each channel
min-max scaled to 0-255 over its own image, named ``<subject>_<clip>.png`` (``sub01_EP02_01f.png``,
``s01_s01_ne_01.png``, ``006_006_1_2.png``). Writing them from one's own licensed release lets a person
compare the package's flow with the shared files, or train on both the same way.

How each image is made here (our choices where the release documents none):

* the package's ``flow`` representation (face aligned on the onset, TV-L1 by default, at ``size`` px,
  strain from the flow at that size), computed with bounds no flow reaches so that nothing is clipped,
  and cached like any ``prepare`` entry;
* u, v and strain each shrunk to ``image_size`` with area interpolation (an average, so no aliasing),
  then min-max scaled per image and channel to [0, 255] and rounded; a channel with no variation (no
  motion) is written as 0 and reported;
* channels stored R, G, B = u, v, strain (``cv2.imwrite`` is given B, G, R = strain, v, u), so the
  package's precomputed reader and any RGB image reader see u first.

Min-max scaling does not depend on the flow's scale, which is why the bounds can be set out of reach: the
image of the unclipped flow is exactly the image of the flow in pixels.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..datasets.precomputed import is_precomputed
from ..errors import ConfigError, InputError
from .prepare import load_rows, prepare

logger = logging.getLogger("mer_keras")

IMAGE_SIZE = 28
UNCLIPPED = {"third": "strain", "flow_bound": 1.0e4, "strain_bound": 1.0e4}
"""Flow settings of the export: strain as the third channel, bounds (px, dimensionless) no flow reaches."""
LABEL_FILE = "labels.csv"
LABEL_COLUMNS = ("dataset", "subject", "clip", "emotion", "label", "file")


def norm_u_v_os(encoded: np.ndarray, image_size: int = IMAGE_SIZE) -> tuple[np.ndarray, list[int]]:
    """(image float32 (s, s, 3) in [0, 1], flat channel indices) of one unclipped flow entry (u, v, strain).

    Each channel is shrunk to ``image_size`` (area interpolation), then min-max scaled over the image; a
    flat channel (max = min) is 0."""
    x = np.asarray(encoded, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"expected a (H, W, 3) flow entry (u, v, strain), got shape {x.shape}")
    if x.shape[:2] != (image_size, image_size):
        interp = cv2.INTER_AREA if x.shape[0] >= image_size else cv2.INTER_LINEAR
        x = cv2.resize(x, (image_size, image_size), interpolation=interp)
    lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
    span = hi - lo
    flat = [int(c) for c in np.flatnonzero(span <= 0)]
    out = (x - lo) / np.where(span > 0, span, 1.0)
    out[..., flat] = 0.0
    return out.astype(np.float32), flat


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] float -> 0..255 uint8, rounded (the file's quantisation: at most 0.5 / 255 off)."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_image(path, image: np.ndarray) -> None:
    """Write an RGB (u, v, strain) image in [0, 1] as a PNG whose R, G, B are u, v, strain."""
    if not cv2.imwrite(str(path), to_uint8(image)[..., ::-1]):
        raise InputError(f"{path}: cannot write the image")


def image_stem(dataset: str, subject: str, clip: str) -> str:
    """The public ``<subject>_<clip>`` name: the subject without its dataset prefix; SMIC's ``s1`` written
    ``s01`` as the MEGC 2019 list and the shared files spell it (the reader maps it back)."""
    dataset, subject, clip = str(dataset), str(subject), str(clip)
    local = subject[len(dataset) + 1:] if subject.startswith(f"{dataset}/") else subject
    if dataset.startswith("smic"):
        local = re.sub(r"^s(\d+)$", lambda m: f"s{int(m.group(1)):02d}", local)
        clip = re.sub(r"^s(\d+)_", lambda m: f"s{int(m.group(1)):02d}_", clip)
    stem = f"{local}_{clip}"
    if "/" in stem or "\\" in stem:
        raise InputError(f"clip {subject}/{clip}: its name {stem!r} cannot be a file name")
    return stem


def check_export(manifest, out_dir) -> tuple[pd.DataFrame, list[str], Path]:
    """(rows, file stems, folder) of an export, checked before any flow is computed: frames (not ready files),
    one file name per clip, a folder that can be made."""
    rows = load_rows(manifest)
    if is_precomputed(rows):
        raise InputError("flow images are computed from frames; this manifest points at ready input files "
                         "(input_* columns), which are already images")
    stems = [image_stem(r.dataset, r.subject, r.clip) for r in rows.itertuples()]
    seen: dict[str, int] = {}
    clashes = []
    for i, stem in enumerate(stems):
        if stem.lower() in seen:
            j = seen[stem.lower()]
            clashes.append(f"rows {j} ({rows.at[j, 'subject']}/{rows.at[j, 'clip']}) and {i} "
                           f"({rows.at[i, 'subject']}/{rows.at[i, 'clip']}) would both be {stem}.png")
        seen.setdefault(stem.lower(), i)
    if clashes:
        raise InputError("flow images: two clips share a file name; export one dataset at a time or rename: "
                         + "; ".join(clashes[:5]))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"--export-images {out}: a file stands where the folder should be") from None
    except PermissionError:
        raise InputError(f"--export-images {out}: cannot create the folder (permission denied)") from None
    return rows, stems, out


def export_flow_images(manifest, out_dir, cache_dir, *, image_size: int = IMAGE_SIZE, n_jobs: int = 2,
                       progress: bool = True, verify_cache: bool = False, allow_zero_motion: bool = False,
                       **params) -> pd.DataFrame:
    """Write one ``norm_u_v_os`` PNG per manifest row into ``out_dir``, plus ``labels.csv`` (module doc).

    ``params`` are the ``flow`` representation's (size, flow_size, flow_method, masks, TV-L1 settings...);
    ``third``, ``flow_bound`` and ``strain_bound`` are the export's own (``UNCLIPPED``). Returns the label
    table (``LABEL_COLUMNS`` plus ``flat_channels``), which ``mer-keras manifest precomputed --labels
    DIR/labels.csv --input flow=DIR`` reads back."""
    if int(image_size) < 2:
        raise ConfigError(f"image_size must be at least 2 px, got {image_size}")
    rows, stems, out = check_export(manifest, out_dir)
    overridden = {k: v for k, v in params.items() if k in UNCLIPPED and v != UNCLIPPED[k]}
    if overridden:
        logger.info("flow images use their own scaling (strain, min-max per image); not applied to them: %s",
                    ", ".join(f"{k}={v}" for k, v in sorted(overridden.items())))
    flows = prepare(rows, "flow", cache_dir, n_jobs=n_jobs, progress=progress, verify_cache=verify_cache,
                    allow_zero_motion=allow_zero_motion, **{**params, **UNCLIPPED})
    records = []
    for i, row in enumerate(rows.to_dict("records")):
        image, flat = norm_u_v_os(flows[i], int(image_size))
        if flat:
            logger.warning("flow image of %s/%s: channel(s) %s do not vary (no motion), written as 0",
                           row["subject"], row["clip"], [("u", "v", "strain")[c] for c in flat])
        name = f"{stems[i]}.png"
        write_image(out / name, image)
        subject = str(row["subject"])
        records.append({"dataset": row["dataset"], "subject": subject.split("/", 1)[1] if "/" in subject
                        else subject, "clip": row["clip"], "emotion": row.get("emotion", ""),
                        "label": row.get("label", ""), "file": name,
                        "flat_channels": ",".join(("u", "v", "strain")[c] for c in flat)})
    table = pd.DataFrame(records, columns=[*LABEL_COLUMNS, "flat_channels"])
    table.to_csv(out / LABEL_FILE, index=False)
    return table
