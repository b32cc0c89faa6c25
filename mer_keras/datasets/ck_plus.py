"""CK+ (extended Cohn-Kanade): image sequences plus one emotion label file per labelled sequence.

Layout (folder names as released; either may sit one or two folders below ``root``)::

    root/cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    root/Emotion/S005/001/S005_001_00000011_emotion.txt      ("   3.0000000e+00")

Each sequence runs from neutral (first frame) to the peak (last frame); the label file is named
after the peak frame, which becomes the apex. Codes: 0 neutral, 1 anger, 2 contempt, 3 disgust,
4 fear, 5 happiness, 6 sadness, 7 surprise. Only 327 of the 593 sequences carry a label file: the
others are listed in ``attrs["skipped"]`` (reason "no emotion label file"), never used unlabelled.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .manifest import frame_number
from .reading import Reading, one_dir, subject_dirs

FPS = 30.0
EMOTION_CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness",
                 6: "sadness", 7: "surprise"}
IMAGES_FOLDERS = ("cohn-kanade-images", "extended-cohn-kanade-images", "ck+ images")
EMOTION_FOLDERS = ("Emotion", "Emotion_labels", "emotion")
SUBJECT = r"S\d+"


def read_label(path: Path) -> int:
    """Emotion code of a CK+ label file ("   3.0000000e+00" -> 3); ValueError naming the file otherwise."""
    text = path.read_text(errors="replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: expected one number 0-7, found {text[:40]!r}") from None
    if not value.is_integer() or int(value) not in EMOTION_CODES:
        raise ValueError(f"{path}: emotion code {text!r} is not one of {sorted(EMOTION_CODES)}")
    return int(value)


def read(root, dataset="ck+", fps=FPS, *, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of a CK+-layout corpus: one per labelled sequence.

    onset = first frame, apex = the frame named by the label file (the last, peak frame),
    offset = last frame; subject key ``ck+/S005``, clip = the sequence folder (``001``).
    """
    root = Path(root)
    images = one_dir(root, IMAGES_FOLDERS, "CK+ image", holding=None, max_depth=2)
    labels = one_dir(root, EMOTION_FOLDERS, "CK+ emotion label", max_depth=2)
    reading = Reading(dataset, on_error)
    subjects = subject_dirs(images, SUBJECT)
    if not subjects:
        reading.problem("-", "", images, "no subject folders like S005 in the image folder")
    for subject_dir in subjects:
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            subject, clip = subject_dir.name, seq_dir.name
            name = f"{subject}/{clip}"
            files = reading.frames(seq_dir, "-", name)
            if files is None:
                continue
            label_files = sorted((labels / subject / clip).glob("*_emotion.txt"))
            if not label_files:
                reading.skip(f"{dataset}/{subject}", clip, "", "no emotion label file")
                continue
            if len(label_files) > 1:
                reading.problem("-", name, labels / subject / clip,
                                f"{len(label_files)} emotion label files; expected one")
                continue
            try:
                code = read_label(label_files[0])
            except ValueError as e:
                reading.problem("-", name, label_files[0], str(e))
                continue
            m = re.search(r"(\d+)_emotion$", label_files[0].stem)
            apex = int(m.group(1)) if m else frame_number(files[-1])
            reading.add(subject=f"{dataset}/{subject}", clip=clip, emotion=EMOTION_CODES[code],
                        onset=frame_number(files[0]), apex=apex, offset=frame_number(files[-1]),
                        frames_dir=seq_dir, frame_files=files, apex_source="annotated", fps=fps,
                        source=str(label_files[0]))
    return reading.result()
