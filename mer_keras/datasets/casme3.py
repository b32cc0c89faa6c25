"""CAS(ME)^3 part A: the micro-expression sheet plus the task videos as absolute-numbered frames.

Layout (the release's ``part_A`` folder may sit up to three folders below ``root``)::

    root/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx
    root/data/part_A_split/part_A/spNO.1/a/color/355.jpg     (a depth/ folder beside color/ is not read)

Sheet columns (DATASETS.md C.5): ``Subject`` (``spNO.1``), ``Filename`` (the task letter ``a``..``m``),
``Onset``, ``Apex``, ``Offset`` (absolute frame numbers of the task video), ``AU``, ``Objective class``,
``emotion`` (happy, sad, disgust, fear, anger, surprise, others). A sheet that also lists macro-expressions
(an ``Expression type`` column, as in ``CAS(ME)3_part_A_v2.xls``) has its non-micro rows counted in
``attrs["skipped"]``. meb's extracted copies (``spNO.1/a2/color/`` holding only the clip, with a ``Filename``
counter) are read the same way: the folder is whatever the ``Filename`` cell names.

One task video holds several micro-expressions, so the clip is named ``<Filename>_<onset>`` (``a_355``): our
choice (meb appends a counter in sheet order instead, which changes when the sheet is edited), and
``frame_files`` lists only the frames of onset..offset, not the whole video. The release drops frames, so a
missing frame inside the interval is logged by ``load_manifest`` and a missing onset/apex/offset frame is a
problem, as is an apex outside onset..offset (DATASETS.md counts one: ``spNO.149/d``, onset 112 > apex 83).

Protocols (``labels.py``): ``casme3-3class`` (default; negative = anger, disgust, fear, sad; positive = happy;
surprise; others dropped: HTNet's ``label_for_3``), ``casme3-4class`` (the same plus ``others``; the CAS(ME)^3
paper's 4-class task as far as we know, not verified against its text here) and ``all`` (the 7 emotions).
Frame rate 30 fps: the CAS(ME)^3 paper's RGB-D recording, not re-verified here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .casme2 import REQUIRED, frames_root
from .manifest import frame_number
from .reading import MISSING_APEX, Reading, middle_frame
from .sheets import COMMON_COLUMNS, ROW_NUMBER, as_int, as_text, find_sheet, read_sheet

FPS = 30.0
SHEET_PATTERNS = ("*(me)3*part*A*.*", "*(ME)3*part*A*.*", "CAS*ME*3*part*A*.*", "cas*me*3*part*A*.*")
EMOTIONS = ("happy", "sad", "disgust", "fear", "anger", "surprise", "others")
SUBJECT = r"(?i)sp\s*no\.?\s*0*(\d+)"
COLUMNS = {**COMMON_COLUMNS, "expression_type": ("expressiontype",)}
"""``COMMON_COLUMNS`` plus the optional ``Expression type`` of sheets that also list macro-expressions."""


def subject_number(value) -> int | None:
    """Subject cell or folder -> its number: 'spNO.1', 'spno.01', 1 -> 1."""
    m = re.fullmatch(SUBJECT, as_text(value)) or re.fullmatch(r"0*(\d+)", as_text(value))
    return int(m.group(1)) if m else None


def child_dir(folder: Path, name: str) -> Path:
    """``folder/name`` as spelled on disk (case-insensitive), else the expected path."""
    for child in folder.iterdir() if folder.is_dir() else ():
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return folder / name


def read(root, dataset="casme3", fps=FPS, sheet=None, missing_apex="middle", *, frames=None,
         emotions=EMOTIONS, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of CAS(ME)^3 part A micro-expressions, checked against the frames on disk.

    ``frames``: the folder holding the ``spNO.N`` subject folders when ``root`` holds several; other
    options as ``casme2.read`` (``missing_apex`` "middle" | "drop" | "error" for a non-numeric apex).
    """
    if missing_apex not in MISSING_APEX:
        raise ValueError(f"missing_apex must be one of {MISSING_APEX}, got {missing_apex!r}")
    root = Path(root)
    sheet = Path(sheet) if sheet is not None else find_sheet(root, SHEET_PATTERNS, "CAS(ME)^3 part A sheet")
    table = read_sheet(sheet, REQUIRED, COLUMNS)
    base = frames_root(root, frames, holding=SUBJECT, what="spNO.N")
    reading = Reading(dataset, on_error)
    subjects = {}
    for d in sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(SUBJECT, p.name)):
        n = subject_number(d.name)
        if n in subjects:
            reading.problem("-", f"spNO.{n}", d, f"subject spNO.{n} has two folders ({subjects[n].name}, "
                            f"{d.name}); keep one")
        subjects.setdefault(n, d)
    known = None if emotions is None else {e.lower() for e in emotions}
    listed = {}  # video folder -> its frames: one task video holds several clips
    for rec in table.to_dict("records"):
        line, task = rec[ROW_NUMBER], as_text(rec["clip"])
        n = subject_number(rec["subject"])
        subject = f"spNO.{n}" if n is not None else as_text(rec["subject"])
        onset, apex, offset = (as_int(rec[k]) for k in ("onset", "apex", "offset"))
        clip = f"{task}_{onset}" if onset is not None else task
        name = f"{subject}/{clip}"
        emotion = as_text(rec["emotion"]).lower()
        kind = as_text(rec.get("expression_type", "")).lower()
        if kind and "micro" not in kind:
            reading.skip(f"{dataset}/{subject}", clip, emotion, "not a micro-expression (Expression type "
                         f"{as_text(rec['expression_type'])!r})")
            continue
        if n is None or not task:
            reading.problem(line, name, sheet, f"unexpected subject {as_text(rec['subject'])!r} (expected spNO.N) "
                            f"or Filename {task!r}")
            continue
        if known is not None and emotion not in known:
            reading.problem(line, name, sheet, f"unknown emotion {emotion!r}; expected one of {sorted(known)}")
            continue
        if onset is None or offset is None:
            reading.problem(line, name, sheet, f"onset/offset must be frame numbers, got "
                            f"{as_text(rec['onset'])!r}/{as_text(rec['offset'])!r}")
            continue
        if n not in subjects:
            reading.problem(line, name, base / subject, f"no subject folder {subject} in {base}")
            continue
        video = child_dir(subjects[n], task)
        folder = child_dir(video, "color") if child_dir(video, "color").is_dir() else video
        files = listed.get(folder) or reading.frames(folder, line, name)
        if files is None:
            continue
        listed[folder] = files
        inside = [f for f in files if onset <= frame_number(f) <= offset]
        if not inside:
            reading.problem(line, name, folder, f"no frame of onset..offset {onset}..{offset} on disk (the folder "
                            f"holds {frame_number(files[0])}..{frame_number(files[-1])})")
            continue
        apex_source = "annotated"
        if apex is None:
            if missing_apex == "error":
                reading.problem(line, name, sheet, f"apex {as_text(rec['apex'])!r} is not a frame number "
                                "(--missing-apex error; middle estimates it, drop leaves the clip out)")
                continue
            if missing_apex == "drop":
                reading.skip(f"{dataset}/{subject}", clip, emotion, "apex missing in the sheet")
                continue
            apex, apex_source = middle_frame(inside, onset, offset), "middle"
        reading.add(subject=f"{dataset}/{subject}", clip=clip, emotion=emotion, onset=onset, apex=apex,
                    offset=offset, frames_dir=folder, frame_files=inside, apex_source=apex_source, fps=fps,
                    source=f"{table.attrs['sheet']} row {line}")
    return reading.result()
