"""SAMM: the FACS-codes spreadsheet plus ``<subject>/<clip>/`` frame folders.

Layout::

    root/SAMM_Micro_FACS_Codes_v2.xlsx      (sheet MICRO_ONLY, 13 preamble rows above the header)
    root/SAMM/006/006_1_2/006_05562.jpg     (grayscale, absolute frame numbers, 5-digit padding)

Columns: ``Subject``, ``Filename``, ``Onset Frame``, ``Apex Frame``, ``Offset Frame``,
``Estimated Emotion`` (capitalised: Anger, Contempt, ..., Other). The header row is found wherever
it sits. ``Subject`` may be text ``'006'`` or an integer ``6``; both become ``samm/006``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .casme2 import REQUIRED, frames_root
from .reading import Reading, add_sheet_rows
from .sheets import as_text, find_sheet, read_sheet

FPS = 200.0
SHEET_PATTERNS = ("SAMM*FACS*.*", "SAMM*Codes*.*", "SAMM*micro*.*")
EMOTIONS = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise", "other")
SUBJECT_FOLDER = r"\d{3}"


def subject_folder(value) -> str | None:
    """Sheet subject cell -> folder name: '006', 6, 6.0 -> '006'."""
    m = re.fullmatch(r"0*(\d+)", as_text(value))
    return f"{int(m.group(1)):03d}" if m else None


def read(root, dataset="samm", fps=FPS, sheet=None, missing_apex="middle", *, frames=None,
         emotions=EMOTIONS, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of SAMM, every sheet row checked against its frames on disk.

    Same options as ``casme2.read``: ``missing_apex`` ("middle" | "drop" | "error"), ``frames``
    (the folder holding the ``006``-style subject folders), ``emotions``, ``on_error``.
    """
    root = Path(root)
    sheet = Path(sheet) if sheet is not None else find_sheet(root, SHEET_PATTERNS, "SAMM FACS-codes sheet")
    table = read_sheet(sheet, REQUIRED)
    base = frames_root(root, frames, holding=SUBJECT_FOLDER, what="006-style")
    reading = Reading(dataset, on_error)
    add_sheet_rows(reading, table, sheet, subject_of=subject_folder,
                   folder_of=lambda subject, clip, emotion: base / subject / clip,
                   emotions=emotions, missing_apex=missing_apex, fps=fps)
    return reading.result()
