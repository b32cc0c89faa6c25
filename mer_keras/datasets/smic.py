"""SMIC (HS, VIS, NIR): ``<variant>/<subject>/micro/<class>/<clip>/`` frame folders, no sheet.

Layout (raw or ``SMIC_all_cropped`` release; the variant folder may sit up to two folders deep)::

    root/HS/s1/micro/negative/s1_ne_01/image042219.bmp     (or reg_image042219.bmp)
    root/VIS/s1/micro/positive/s1_po_01/...
    root/NIR/s1/micro/surprise/s1_sur_01/...

The label is the class folder (negative, positive, surprise): never a sheet, because the SMIC-E
sheets label ``s18_sur_03`` negative. A clip whose name code (``ne``/``po``/``sur``) disagrees
with its folder is reported. Clips are already cut from onset to offset and carry no apex, so
onset = first frame, offset = last frame and apex = the middle frame, marked
``apex_source="middle"``. ``non_micro`` folders are not read.

Subject folders may be zero-padded or upper-case (``s01``, ``S3``: some copies rename them); they and
the clip names are keyed the way the native release and the MEGC 2019 list meet (``smic-hs/s1``,
``s1_ne_01``), with the folder as spelled on disk in ``frames_dir``. A folder beside them that is not a
subject folder is counted in ``attrs["skipped"]``, never dropped silently; two folders of one subject
(``s1`` and ``s01``) are a problem.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .manifest import ManifestError, Problem, frame_number
from .reading import Reading, find_dir, middle_frame, subject_dirs

VARIANTS = {"smic-hs": ("HS", 100.0), "smic-vis": ("VIS", 25.0), "smic-nir": ("NIR", 25.0)}
"""Dataset key -> (variant folder, frame rate; HS 100 fps, VIS/NIR 25 fps per the SMIC paper)."""
CLASSES = ("negative", "positive", "surprise")
CLIP_CODES = {"ne": "negative", "po": "positive", "sur": "surprise", "su": "surprise"}
SUBJECT = r"(?i)s\d+"
IGNORED_FOLDERS = ("non_micro",)


def subject_key(name: str) -> str:
    """Subject folder -> key: s1, s01, S3 -> s1, s1, s3."""
    return f"s{int(name[1:])}"


def clip_key(name: str) -> str:
    """Clip folder -> key: s01_ne_01, S1_NE_01 -> s1_ne_01 (other names kept as they are)."""
    m = re.fullmatch(r"(?i)s0*(\d+)_([a-z]+)_(\d+)", name)
    return f"s{int(m.group(1))}_{m.group(2).lower()}_{m.group(3)}" if m else name


def variant_root(root: Path, variant: str, names=None) -> Path:
    """The ``HS``/``VIS``/``NIR`` folder (or one named in ``names``) under ``root``, or ``root`` itself when it
    holds ``s1``..."""
    hits = find_dir(root, names or (variant,), max_depth=2)
    if len(hits) == 1:
        return hits[0]
    if not hits and subject_dirs(root, SUBJECT):
        return root
    message = (f"no {variant} folder (nor s1-style subject folders) found up to 2 folders deep" if not hits
               else f"several {variant} folders ({', '.join(map(str, hits))}); point root at one release")
    raise ManifestError([Problem("-", "", str(root), message)])


def subject_folders(base: Path, reading) -> dict:
    """Subject key -> folder of the ``s1``/``s01``/``S3`` folders under ``base``. Other folders are counted in
    ``reading``'s skipped clips; a second folder of one subject (``s1`` and ``s01``) is a problem."""
    subjects = subject_dirs(base, SUBJECT)
    if not subjects:
        reading.problem("-", "", base, "no subject folders like s1 found")
    others = sorted(p.name for p in base.iterdir() if p.is_dir() and p not in subjects) if base.is_dir() else []
    for name in others:
        reading.skip("", name, "", "folder is not a SMIC subject folder (s1, s01, S3)")
    seen = {}
    for subject_dir in subjects:
        key = subject_key(subject_dir.name)
        if key in seen:
            reading.problem("-", key, subject_dir, f"subject {key} has two folders ({seen[key].name}, "
                            f"{subject_dir.name}); keep one")
            continue
        seen[key] = subject_dir
    return seen


def read(root, dataset="smic-hs", fps=None, *, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of one SMIC variant (``dataset`` = smic-hs, smic-vis, smic-nir)."""
    if dataset not in VARIANTS:
        raise ValueError(f"dataset must be one of {sorted(VARIANTS)}, got {dataset!r}")
    variant, default_fps = VARIANTS[dataset]
    base = variant_root(Path(root), variant)
    reading = Reading(dataset, on_error)
    for key, subject_dir in subject_folders(base, reading).items():
        micro = subject_dir / "micro"
        if not micro.is_dir():
            reading.problem("-", subject_dir.name, micro, "subject has no micro folder")
            continue
        for class_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            emotion = class_dir.name.lower()
            if emotion not in CLASSES:
                reading.problem("-", subject_dir.name, class_dir,
                                f"unknown emotion folder {class_dir.name!r}; expected one of {CLASSES}")
                continue
            for clip_dir in sorted(p for p in class_dir.iterdir() if p.is_dir()):
                name = f"{subject_dir.name}/{clip_dir.name}"
                m = re.fullmatch(r"s\d+_([a-z]+)_\d+", clip_dir.name.lower())
                clip = clip_key(clip_dir.name)
                if m and CLIP_CODES.get(m.group(1), emotion) != emotion:
                    reading.problem("-", name, clip_dir, f"clip name says {CLIP_CODES[m.group(1)]} but "
                                    f"it sits in the {emotion} folder")
                    continue
                files = reading.frames(clip_dir, "-", name)
                if files is None:
                    continue
                onset, offset = frame_number(files[0]), frame_number(files[-1])
                reading.add(subject=f"{dataset}/{key}", clip=clip, emotion=emotion,
                            onset=onset, apex=middle_frame(files, onset, offset), offset=offset,
                            frames_dir=clip_dir, frame_files=files, apex_source="middle",
                            fps=default_fps if fps is None else fps, source=str(clip_dir))
    return reading.result()
