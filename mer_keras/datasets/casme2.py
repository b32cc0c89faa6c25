"""CASME II: the coding spreadsheet plus ``subNN/<clip>/`` frame folders (raw or cropped release).

Layout (either release, any folder name, up to three folders below ``root``)::

    root/CASME2-coding-20140508.xlsx          (or -20190701, -updated, a .csv export)
    root/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     (raw, frames numbered as in the sheet)
    root/Cropped/sub01/EP02_01f/reg_img46.jpg             (official crops)

Sheet columns (any spelling that matches ignoring case and punctuation): ``Subject``, ``Filename``,
``OnsetFrame``, ``ApexFrame``, ``OffsetFrame``, ``Estimated Emotion``. ``Subject`` may be text
``'01'`` or an integer ``1``; both become ``casme2/sub01``. One apex of the 20140508 sheet is ``/``
(sub04/EP12_01f): ``missing_apex`` decides what happens to such rows.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .manifest import ManifestError, Problem
from .reading import Reading, add_sheet_rows, find_dir
from .sheets import as_text, find_sheet, read_sheet

FPS = 200.0
SHEET_PATTERNS = ("CASME2*coding*.*", "CASME2*label*.*", "CASME*II*coding*.*")
EMOTIONS = ("happiness", "surprise", "disgust", "repression", "fear", "sadness", "others")
"""The fine emotions of the CASME II sheets; anything else is reported as an unknown emotion."""
REQUIRED = ("subject", "clip", "onset", "apex", "offset", "emotion")
SUBJECT_FOLDER = r"sub\d+"


def subject_folder(value) -> str | None:
    """Sheet subject cell -> folder name: '01', 1, 1.0, 'sub01', 'sub1' -> 'sub01'."""
    m = re.fullmatch(r"(?i)(?:sub)?0*(\d+)", as_text(value))
    return f"sub{int(m.group(1)):02d}" if m else None


def frames_root(root, frames=None, holding=SUBJECT_FOLDER, what="subNN") -> Path:
    """The folder holding the subject folders: ``frames`` if given, else the single one under ``root``."""
    if frames is not None:
        return Path(frames)
    hits = find_dir(Path(root), (), holding=holding, max_depth=3)
    if len(hits) == 1:
        return hits[0]
    message = f"no folder holding {what} subject folders" if not hits else (
        f"several folders hold {what} subject folders ({', '.join(map(str, hits))}), e.g. raw and "
        "cropped releases; choose one with frames=")
    raise ManifestError([Problem("-", "", str(root), message)])


def read(root, dataset="casme2", fps=FPS, sheet=None, missing_apex="middle", *, frames=None,
         emotions=EMOTIONS, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of a CASME II-layout corpus, checked against the frames on disk.

    missing_apex: what to do with a non-numeric apex cell ('/', empty): ``"middle"`` (default)
    estimates it as the middle frame of onset..offset and marks ``apex_source="middle"``;
    ``"drop"`` leaves the clip out and lists it in ``attrs["skipped"]``; ``"error"`` reports it
    as a problem. ``emotions``: the known vocabulary (None accepts any label). ``frames``: the
    folder holding ``subNN`` when ``root`` has several (raw and cropped). Raises ``ManifestError``
    with every problem unless ``on_error="report"`` (see ``reading.Reading``).
    """
    root = Path(root)
    sheet = Path(sheet) if sheet is not None else find_sheet(root, SHEET_PATTERNS, "CASME II coding sheet")
    table = read_sheet(sheet, REQUIRED)
    base = frames_root(root, frames)
    reading = Reading(dataset, on_error)
    add_sheet_rows(reading, table, sheet, subject_of=subject_folder,
                   folder_of=lambda subject, clip, emotion: base / subject / clip,
                   emotions=emotions, missing_apex=missing_apex, fps=fps)
    return reading.result()
