"""MUG facial expression database: ``<subject>/<emotion>/<take>/`` image sequences.

Layout (the subjects folder may sit up to two folders deep)::

    root/subjects3/001/happiness/take000/img_0000.jpg ...

Emotions: anger, disgust, fear, happiness, neutral, sadness, surprise. The manifest treats each
take as running to its peak at the last frame (onset = first frame, apex = offset = last frame):
an assumption to revisit if a take is found to return to neutral. Subject keys ``mug/001``,
clips ``<emotion>_<take>`` (``happiness_take000``) since take names repeat across emotions. 19 fps.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .casme2 import frames_root
from .reading import Reading, add_sequence, subject_dirs

FPS = 19.0
EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
SUBJECT = r"\d{3}"


def read(root, dataset="mug", fps=FPS, *, frames=None, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of MUG: one per take. ``frames``: the folder holding ``001``..."""
    base = frames_root(Path(root), frames, holding=SUBJECT, what="001-style")
    reading = Reading(dataset, on_error)
    for subject_dir in subject_dirs(base, SUBJECT):
        for emotion_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            emotion = emotion_dir.name.lower()
            if emotion not in EMOTIONS:
                reading.problem("-", f"{subject_dir.name}/{emotion_dir.name}", emotion_dir,
                                f"unknown emotion folder {emotion_dir.name!r}; expected one of {EMOTIONS}")
                continue
            for take_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                clip = f"{emotion}_{take_dir.name}"
                files = reading.frames(take_dir, "-", f"{subject_dir.name}/{clip}")
                if files is not None:
                    add_sequence(reading, subject_dir.name, clip, emotion, take_dir, files, fps)
    return reading.result()
