"""SMIC-E (the long, un-cropped SMIC clips): onset and offset from its annotation sheet.

Layout (the variant folder may sit up to two folders deep, or ``root`` may hold the subject folders)::

    root/SMIC-HS-E_annotation.xlsx                  (sheets HS and VIS; NIR ships in a file of its own)
    root/SMIC_HS_E/s20/s20_ne_01/image17581039.jpg  (absolute frame numbers; the clip runs FirstF..LastF)

Sheet columns (DATASETS.md C.3): ``Subject`` (integer), ``Filename`` (unpadded ``s20_ne_01``), ``OnsetF``,
``OffsetF`` (absolute frame numbers), optional ``Onset2F``/``Offset2F`` (a second interval), ``FirstF``,
``LastF``, ``Emotion``. The sheet of the variant is the one named ``HS``/``VIS``/``NIR`` (or the only sheet of
a file whose name says the variant); ``sheet=`` picks the file when several are found.

- The label comes from the clip name's code (``ne``/``po``/``sur``), as the SMIC reader takes it from the class
  folder: both SMIC-E sheets call ``s18_sur_03`` negative. A disagreeing ``Emotion`` cell is logged with its
  row; a name without a code falls back to the cell.
- The apex is the middle frame of onset..offset among the frames on disk (``apex_source="middle"``, meb's
  rule) unless the sheet has an apex column (``ApexF``, ``Apex``), then ``annotated``. A spotted apex (as
  CapsuleNet's ``data_apex.csv`` gives) is not read here.
- ``frame_files`` lists only the onset..offset frames: the long clip around them is not the sample. Only
  the first interval is read; clips with a second one are counted in a log line (our choice: the MEGC list
  and the classic release hold one sample per clip).
- Subjects and clips are keyed as the SMIC reader keys them (folders ``s01``/``S3`` -> ``smic-hs-e/s1``,
  ``s01_ne_01`` -> ``s1_ne_01``); a clip folder with no sheet row is counted in ``attrs["skipped"]`` (the HS
  sheet lacks ``s01_ne_02`` and ``s02_sur_05`` of the MEGC list). HS is 100 fps, VIS and NIR 25 fps (the SMIC
  paper; not re-verified here).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .manifest import ManifestError, Problem, frame_number
from .reading import Reading, middle_frame
from .sheets import (
    COMMON_COLUMNS,
    ROW_NUMBER,
    SHEET_SUFFIXES,
    _header_position,
    _raw_tables,
    as_int,
    as_text,
)
from .smic import CLASSES, CLIP_CODES, clip_key, subject_folders, variant_root

logger = logging.getLogger("mer_keras")

VARIANTS = {"smic-hs-e": ("HS", 100.0), "smic-vis-e": ("VIS", 25.0), "smic-nir-e": ("NIR", 25.0)}
"""Dataset key -> (variant, frame rate)."""
SHEET_PATTERNS = ("SMIC*annotation*.*", "SMIC*E*.xls*", "SMIC*E*.csv")
COLUMNS = {**COMMON_COLUMNS, "onset2": ("onset2f", "onset2"), "first": ("firstf",), "last": ("lastf",)}
REQUIRED = ("clip", "onset", "offset")
CLIP_NAME = r"(?i)s0*(\d+)_([a-z]+)_\d+"


def frames_folders(variant: str) -> tuple[str, ...]:
    return (f"SMIC_{variant}_E", f"SMIC-{variant}-E", f"{variant}_E", f"{variant}-E")


def _names_variant(path: Path, variant: str) -> bool:
    return variant.lower() in re.split(r"[^a-z0-9]+", path.stem.lower())


def variant_sheet(root, variant: str, sheet=None) -> tuple[Path, str, pd.DataFrame]:
    """(file, sheet name, raw table) of the variant's annotation: the sheet named ``HS``/``VIS``/``NIR``, or the
    only sheet of a file that names the variant (or of ``sheet``); ``ManifestError`` naming the candidates."""
    if sheet is not None:
        files = [Path(sheet)]
        if not files[0].is_file():
            raise ManifestError([Problem("-", "", str(sheet), "annotation sheet not found")])
    else:
        root = Path(root)
        files = sorted({p for depth in ("", "*/", "*/*/") for pattern in SHEET_PATTERNS for p in root.glob(depth + pattern)
                        if p.is_file() and p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith("~$")})
    hits = []
    for path in files:
        tables = _raw_tables(path)
        named = [(n, t) for n, t in tables.items() if str(n).strip().lower() == variant.lower()]
        if not named and len(tables) == 1 and (sheet is not None or _names_variant(path, variant)):
            named = list(tables.items())
        hits += [(path, n, t) for n, t in named]
    if len(hits) == 1:
        return hits[0]
    where = str(sheet or root)
    if not hits:
        looked = [p.name for p in files] or list(SHEET_PATTERNS)
        raise ManifestError([Problem("-", "", where, f"no SMIC-E sheet for {variant} (a sheet named {variant!r}, or "
                                     f"the only sheet of a file naming {variant}) among {looked}; pass sheet=")])
    names = ", ".join(f"{p.name}:{n}" for p, n, _ in hits)
    raise ManifestError([Problem("-", "", where, f"several SMIC-E sheets for {variant} ({names}); choose the file "
                                 "with sheet=")])


def sheet_rows(path: Path, name: str, raw: pd.DataFrame) -> pd.DataFrame:
    """The rows under the header of one SMIC-E sheet with canonical column names and ``sheet_row``."""
    found = _header_position(raw, COLUMNS, REQUIRED)
    if found is None:
        wanted = {k: list(COLUMNS[k]) for k in REQUIRED}
        raise ManifestError([Problem("-", "", str(path), f"sheet {name!r} has no header row with the columns "
                                     f"{wanted} (compared ignoring case, spaces and punctuation)")])
    r, mapping = found
    body = raw.iloc[r + 1:]
    out = pd.DataFrame({key: body.iloc[:, j].to_numpy() for key, j in mapping.items()})
    out[ROW_NUMBER] = [r + 2 + k for k in range(len(body))]
    return out[~out.drop(columns=ROW_NUMBER).isna().all(axis=1)].reset_index(drop=True)


@dataclass(frozen=True)
class _Variant:
    """Where one SMIC-E variant's rows are checked: its sheet and the subject and clip folders on disk."""

    dataset: str
    sheet: Path
    label: str
    base: Path
    subjects: dict
    clips: dict
    fps: float


def read(root, dataset="smic-hs-e", fps=None, sheet=None, *, frames=None, on_error="raise") -> pd.DataFrame:
    """Rows (before any protocol) of one SMIC-E variant (``dataset`` = smic-hs-e, smic-vis-e, smic-nir-e).

    ``sheet``: the annotation file when ``root`` holds several; ``frames``: the folder holding the subject
    folders (default: the ``SMIC_<variant>_E`` folder under ``root``).
    """
    if dataset not in VARIANTS:
        raise ValueError(f"dataset must be one of {sorted(VARIANTS)}, got {dataset!r}")
    variant, default_fps = VARIANTS[dataset]
    path, name, raw = variant_sheet(root, variant, sheet)
    table = sheet_rows(path, name, raw)
    label = f"{path.name}:{name}" if path.suffix.lower() != ".csv" else path.name
    base = Path(frames) if frames is not None else variant_root(Path(root), variant, frames_folders(variant))
    reading = Reading(dataset, on_error)
    subjects = subject_folders(base, reading)
    clips = {key: {clip_key(c.name): c for c in d.iterdir() if c.is_dir()} for key, d in subjects.items()}
    where = _Variant(dataset, path, label, base, subjects, clips, default_fps if fps is None else fps)
    named: set = set()
    second = sum(_add_row(reading, rec, where, named) for rec in table.to_dict("records"))
    for key, by_name in clips.items():
        for clip in sorted(c for c in by_name if (key, c) not in named):
            m = re.fullmatch(CLIP_NAME, clip)
            reading.skip(f"{dataset}/{key}", clip, CLIP_CODES.get(m.group(2).lower(), "") if m else "",
                         "clip folder has no row in the SMIC-E sheet")
    if second:
        logger.info("%s: %d clip(s) have a second interval (Onset2F..Offset2F); only OnsetF..OffsetF is read",
                    label, second)
    return reading.result()


def _add_row(reading: Reading, rec: dict, v: _Variant, named: set) -> bool:
    """Check one sheet row against its clip folder and add its onset..offset frames; True when the row was
    added and has a second interval (counted in a log line, not read)."""
    found = _row_clip(reading, rec, v.sheet, named)
    if found is None:
        return False
    n, clip, cell, match, where = found
    line = rec[ROW_NUMBER]
    emotion = _row_emotion(reading, rec, match, where, v)
    if emotion is None:
        return False
    onset, offset = as_int(rec["onset"]), as_int(rec["offset"])
    if onset is None or offset is None:
        reading.problem(line, where, v.sheet, f"OnsetF/OffsetF must be frame numbers, got "
                        f"{as_text(rec['onset'])!r}/{as_text(rec['offset'])!r}")
        return False
    key = f"s{n}"
    if key not in v.subjects:
        reading.problem(line, where, v.base / key, f"no subject folder {key} (nor s0{n}, S{n}) in {v.base}")
        return False
    folder = v.clips[key].get(clip, v.subjects[key] / cell)
    files = reading.frames(folder, line, where)
    if files is None:
        return False
    inside = [f for f in files if onset <= frame_number(f) <= offset]
    if not inside:
        first = as_int(rec.get("first"))
        hint = f"; the sheet's FirstF is {first}" if first is not None else ""
        reading.problem(line, where, folder, f"no frame of OnsetF..OffsetF {onset}..{offset} on disk (the folder "
                        f"holds {frame_number(files[0])}..{frame_number(files[-1])}{hint})")
        return False
    apex, apex_source = as_int(rec.get("apex")), "annotated"
    if apex is None:
        apex, apex_source = middle_frame(inside, onset, offset), "middle"
    reading.add(subject=f"{v.dataset}/{key}", clip=clip, emotion=emotion, onset=onset, apex=apex, offset=offset,
                frames_dir=folder, frame_files=inside, apex_source=apex_source, fps=v.fps,
                source=f"{v.label} row {line}")
    return as_int(rec.get("onset2")) is not None


def _row_clip(reading: Reading, rec: dict, sheet: Path, named: set):
    """(subject number, clip key, Filename cell, clip-name match, name in messages) of a sheet row, or None after
    recording its problem. The clip is added to ``named`` either way: a clip the sheet names is never "without
    a row", even when its row is bad."""
    line, cell = rec[ROW_NUMBER], as_text(rec["clip"])
    clip = clip_key(cell)
    m = re.fullmatch(CLIP_NAME, cell)
    n_cell = as_int(rec.get("subject"))
    n = int(m.group(1)) if m else n_cell
    where = f"s{n}/{clip}" if n is not None else clip
    named.add((f"s{n}", clip))
    if n is None or not cell:
        reading.problem(line, where, sheet, f"no subject in Subject {as_text(rec.get('subject'))!r} nor in "
                        f"Filename {cell!r}")
        return None
    if m and n_cell is not None and n_cell != n:
        reading.problem(line, where, sheet, f"Subject cell {as_text(rec['subject'])!r} disagrees with the clip "
                        f"name's s{n}")
        return None
    return n, clip, cell, m, where


def _row_emotion(reading: Reading, rec: dict, match, where: str, v: _Variant) -> str | None:
    """The clip name's ne/po/sur code (a disagreeing Emotion cell is logged), else the Emotion cell; None after
    recording that neither names a class."""
    line = rec[ROW_NUMBER]
    cell_emotion = as_text(rec.get("emotion")).lower()
    cell_emotion = CLIP_CODES.get(cell_emotion, cell_emotion)
    emotion = CLIP_CODES.get(match.group(2).lower()) if match else None
    if emotion is None:
        if cell_emotion not in CLASSES:
            reading.problem(line, where, v.sheet, f"no emotion: the clip name has no ne/po/sur code and the "
                            f"Emotion cell {cell_emotion!r} is not one of {CLASSES}")
            return None
        return cell_emotion
    if cell_emotion and cell_emotion != emotion:
        logger.warning("%s row %s (%s): Emotion %r disagrees with the clip name (%s); the clip name is used",
                       v.label, line, where, cell_emotion, emotion)
    return emotion
