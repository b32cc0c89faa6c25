"""MMEW (micro-expression part): its spreadsheet plus ``<emotion>/<clip>/`` frame folders.

Layout::

    root/MMEW_Micro_Exp.xlsx
    root/Micro_Expression/happiness/S01-01-001/1.jpg ... 15.jpg   (numbered from 1 = onset)

Columns: ``Subject`` (integer 1-30), ``Filename`` (``S01-01-001``), ``OnsetFrame``, ``ApexFrame``,
``OffsetFrame``, ``Estimated Emotion`` (happiness, surprise, disgust, fear, sadness, anger, others).
Subject keys are ``mmew/S01`` (the spelling of the clip names), never a bare ``01`` that would
collide with CASME II. 90 fps (MMEW paper). A ``Subject`` cell that disagrees with the clip name's
``S01-`` prefix is reported with its sheet row (the row is not read: which one is wrong cannot be told).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .casme2 import REQUIRED
from .reading import Reading, add_sheet_rows, one_dir
from .sheets import as_text, find_sheet, read_sheet

FPS = 90.0
SHEET_PATTERNS = ("MMEW*Micro*.*", "MMEW*.xls*")
EMOTIONS = ("happiness", "surprise", "disgust", "fear", "sadness", "anger", "others")
FRAMES_FOLDERS = ("Micro_Expression", "Micro-Expression", "micro_expression")


def subject_key(value) -> str | None:
    """Sheet subject cell -> subject name: 1, '1', '01', 'S01' -> 'S01'."""
    m = re.fullmatch(r"(?i)s?0*(\d+)", as_text(value))
    return f"S{int(m.group(1)):02d}" if m else None


def emotion_folder(base: Path, emotion: str) -> Path:
    """The emotion folder as spelled on disk (case-insensitive match), else the expected path."""
    for child in base.iterdir() if base.is_dir() else ():
        if child.is_dir() and child.name.lower() == emotion:
            return child
    return base / emotion


def read(root, dataset="mmew", fps=FPS, sheet=None, missing_apex="middle", *, frames=None,
         emotions=EMOTIONS, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of MMEW micro-expressions, checked against the frames on disk.

    ``frames``: the folder holding the emotion folders (default: the ``Micro_Expression`` folder
    under ``root``). Other options as ``casme2.read``.
    """
    root = Path(root)
    sheet = Path(sheet) if sheet is not None else find_sheet(root, SHEET_PATTERNS, "MMEW micro-expression sheet")
    table = read_sheet(sheet, REQUIRED)
    base = Path(frames) if frames is not None else one_dir(root, FRAMES_FOLDERS, "MMEW Micro_Expression")
    reading = Reading(dataset, on_error)
    agree = []
    for rec in table.to_dict("records"):
        m = re.match(r"(?i)s0*(\d+)-", as_text(rec["clip"]))
        cell = subject_key(rec["subject"])
        ok = m is None or cell is None or cell == f"S{int(m.group(1)):02d}"
        if not ok:
            reading.problem(rec["sheet_row"], f"{cell}/{as_text(rec['clip'])}", sheet, f"Subject cell "
                            f"{as_text(rec['subject'])!r} ({cell}) disagrees with the clip name's prefix "
                            f"S{int(m.group(1)):02d}")
        agree.append(ok)
    kept = table[agree].reset_index(drop=True)
    kept.attrs = dict(table.attrs)  # the sheet's name, for each row's source
    table = kept
    add_sheet_rows(reading, table, sheet, subject_of=subject_key,
                   folder_of=lambda subject, clip, emotion: emotion_folder(base, emotion) / clip,
                   emotions=emotions, missing_apex=missing_apex, fps=fps)
    return reading.result()
