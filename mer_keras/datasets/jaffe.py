"""JAFFE: single posed images whose file names carry subject and emotion (``KA.AN1.39.tiff``).

Name = ``<subject>.<emotion code><take>.<image number>.tiff`` with codes AN anger, DI disgust,
FE fear, HA happiness, NE neutral, SA sadness, SU surprise. Each image is one manifest row with
onset = apex = offset = its image number, ``apex_source="single"``. Image files whose name does
not follow the pattern are reported, never skipped silently (other files, e.g. README, are ignored).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .manifest import IMAGE_EXTENSIONS, ManifestError, Problem
from .reading import Reading

FPS = 1.0
"""Single images have no frame rate; 1 keeps the manifest's fps column positive."""
EMOTION_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
                 "SA": "sadness", "SU": "surprise"}
NAME = re.compile(r"([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def image_folder(root: Path) -> Path:
    """The folder under ``root`` (itself included, depth <= 2) that holds JAFFE-named images."""
    candidates = [root] + sorted(d for d in [*root.glob("*"), *root.glob("*/*")] if d.is_dir())
    hits = [d for d in candidates if d.is_dir() and any(NAME.fullmatch(p.stem) for p in _images(d))]
    if len(hits) == 1:
        return hits[0]
    message = ("no images named like KA.AN1.39.tiff found up to 2 folders deep" if not hits
               else f"several folders hold JAFFE images ({', '.join(map(str, hits))}); point root at one")
    raise ManifestError([Problem("-", "", str(root), message)])


def read(root, dataset="jaffe", fps=FPS, *, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of JAFFE: one per image; subject keys ``jaffe/KA``."""
    folder = image_folder(Path(root))
    reading = Reading(dataset, on_error)
    for path in _images(folder):
        m = NAME.fullmatch(path.stem)
        if m is None:
            reading.problem("-", path.name, path, "image name is not <subject>.<code><take>.<number> "
                            "like KA.AN1.39.tiff")
            continue
        subject, code, number = m.group(1).upper(), m.group(2).upper(), int(m.group(4))
        if code not in EMOTION_CODES:
            reading.problem("-", path.name, path, f"unknown emotion code {code!r}; expected one of "
                            f"{sorted(EMOTION_CODES)}")
            continue
        reading.add(subject=f"{dataset}/{subject}", clip=path.stem, emotion=EMOTION_CODES[code],
                    onset=number, apex=number, offset=number, frames_dir=folder, frame_files=[path.name],
                    apex_source="single", fps=fps, source=str(path))
    return reading.result()
