"""MUG facial expression database: ``<subject>/<emotion>/<take>/`` image sequences.

Layout (the subjects folder may sit up to two folders deep)::

    root/subjects3/001/happiness/take000/img_0000.jpg ...

Emotions: anger, disgust, fear, happiness, neutral, sadness, surprise. A MUG take starts *and ends*
neutral with the apex in between (Aifanti et al. 2010; paper 004: "starting and ending with the
normal expression frame ... the vertex frame in between"), and MUG annotates no apex frame. So
onset = first frame, offset = last frame and apex = the middle frame on disk
(``apex_source="middle"``, the same midpoint rule as SMIC's): never the last frame, which is near
neutral. Subject keys ``mug/001``, clips ``<emotion>_<take>`` (``happiness_take000``) since take
names repeat across emotions. 19 fps.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .casme2 import frames_root
from .manifest import frame_number
from .reading import Reading, middle_frame, subject_dirs

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
                    first, last = frame_number(files[0]), frame_number(files[-1])
                    reading.add(subject=f"{dataset}/{subject_dir.name}", clip=clip, emotion=emotion, onset=first,
                                apex=middle_frame(files, first, last), offset=last, frames_dir=take_dir,
                                frame_files=files, apex_source="middle", fps=fps, source=str(take_dir))
    return reading.result()
