"""Oulu-CASIA NIR&VIS: the visible-light, strong-illumination sequences (``VL/Strong``).

Layout (``OriginalImg`` or a cropped release; ``VL/Strong`` may sit up to four folders deep)::

    root/OriginalImg/VL/Strong/P001/Anger/000.jpeg ... 011.jpeg

Six emotion folders per subject (Anger, Disgust, Fear, Happiness, Sadness, Surprise). Each
sequence runs from neutral to the peak, so onset = first frame, apex = offset = last frame.
Subject keys ``oulu-casia/P001``, clips the emotion folder name (``Anger``). 25 fps.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .manifest import ManifestError, Problem
from .reading import Reading, add_sequence, find_dir, subject_dirs

FPS = 25.0
EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
VISIBLE = ("vl", "vis")
SUBJECT = r"P\d+"


def strong_root(root: Path) -> Path:
    """The ``VL/Strong`` folder under ``root`` (or ``root`` itself when it holds P001...)."""
    hits = [d for d in find_dir(root, ("Strong",), max_depth=4) if d.parent.name.lower() in VISIBLE]
    if len(hits) == 1:
        return hits[0]
    if not hits and subject_dirs(root, SUBJECT):
        return root
    message = ("no VL/Strong folder (nor P001-style subject folders) found up to 4 folders deep" if not hits
               else f"several VL/Strong folders ({', '.join(map(str, hits))}); point root at one release")
    raise ManifestError([Problem("-", "", str(root), message)])


def read(root, dataset="oulu-casia", fps=FPS, *, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of Oulu-CASIA VIS strong-illumination: one per sequence."""
    base = strong_root(Path(root))
    reading = Reading(dataset, on_error)
    subjects = subject_dirs(base, SUBJECT)
    if not subjects:
        reading.problem("-", "", base, "no subject folders like P001 found")
    for subject_dir in subjects:
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            name = f"{subject_dir.name}/{seq_dir.name}"
            if seq_dir.name.lower() not in EMOTIONS:
                reading.problem("-", name, seq_dir, f"unknown emotion folder {seq_dir.name!r}; "
                                f"expected one of {EMOTIONS}")
                continue
            files = reading.frames(seq_dir, "-", name)
            if files is not None:
                add_sequence(reading, subject_dir.name, seq_dir.name, seq_dir.name.lower(), seq_dir, files, fps)
    return reading.result()
