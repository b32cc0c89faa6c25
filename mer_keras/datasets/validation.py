"""Validating a manifest, plain or precomputed: every problem found, each naming its row, clip and file.

One module for both kinds so ``validate`` can hand a precomputed manifest (``input_*`` columns) to its own
checks without an import cycle; nothing is dropped silently, every row is checked to the end it can reach.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, InputNotFoundError
from .images import read_image
from .labels import classes_for
from .schema import (
    APEX_SOURCES,
    COLUMNS,
    FRAME_SEP,
    PRECOMPUTED_APEX,
    ManifestError,
    Problem,
    different_size,
    foreign_frame_name,
    frame_number,
    input_columns,
    is_precomputed,
    stem_collisions,
)

PRECOMPUTED_NEEDED = ("dataset", "subject", "clip", "emotion", "label", "class_name", "protocol", "apex_source")
"""Columns a precomputed manifest must hold besides its ``input_*`` ones."""


def validate(df: pd.DataFrame, check_frames: bool = True, raise_on_error: bool = True, *,
             decode_frames: bool = False, lines=None, file: str | None = None):
    """Check every row; return the list of problems, or raise ``ManifestError`` with all of them.

    check_frames: every listed frame file exists; decode_frames: every listed frame also decodes
    cleanly (``read_image``; slow: every file is read). ``lines`` (optional, one per row) names each
    row in the messages (e.g. the CSV line) instead of the table index; ``file`` is named when a row
    has no ``source``. A precomputed manifest (``input_*`` columns) goes to ``validate_precomputed``.
    """
    if is_precomputed(df):
        return validate_precomputed(df, check_frames, raise_on_error, lines=lines, file=file)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        return _result([Problem("-", "", file or "", f"missing column(s) {missing}; expected {list(COLUMNS)}")],
                       raise_on_error)
    problems = _row_problems(df, lines, file, lambda row: str(row.get("frames_dir", "")),
                             lambda row, duplicate: _plain_messages(row, duplicate, check_frames, decode_frames))
    return _result(problems, raise_on_error)


def validate_precomputed(df: pd.DataFrame, check_frames: bool = True, raise_on_error: bool = True, *,
                         lines=None, file=None):
    """``validate`` for a precomputed manifest: identity, labels and one file per input column.

    ``lines`` (one per row) names each row in the messages instead of the table index (a CSV line)."""
    missing = [c for c in PRECOMPUTED_NEEDED if c not in df.columns]
    if missing or not is_precomputed(df):
        return _result([Problem("-", "", "", f"missing column(s) {missing + ([] if is_precomputed(df) else ['input_<representation>'])}"
                                f" of a precomputed manifest")], raise_on_error)
    inputs = input_columns(df)
    problems = _row_problems(df, lines, file, lambda row: "",
                             lambda row, duplicate: _precomputed_messages(row, duplicate, inputs, check_frames))
    return _result(problems, raise_on_error)


def _result(problems: list[Problem], raise_on_error: bool) -> list[Problem]:
    if problems and raise_on_error:
        raise ManifestError(problems)
    return problems


def _row_problems(df, lines, file, fallback_source, messages_of) -> list[Problem]:
    """Subject-stem collisions, then each row's messages (``messages_of(row, duplicate)``) as problems named by
    the row's locator (table index or ``lines``), clip and source (its ``source``, else ``file``, else
    ``fallback_source(row)``)."""
    dup = df.duplicated(subset=["dataset", "subject", "clip"], keep=False)
    problems = stem_collisions(df, file)
    locators = list(df.index) if lines is None else list(lines)
    for (i, row), where in zip(df.iterrows(), locators):
        clip = f"{row['subject']}/{row['clip']}"
        src = str(row.get("source", "") or "")
        src = (src if src != "nan" else "") or file or fallback_source(row)
        problems += [Problem(where, clip, src, message) for message in messages_of(row, dup[i])]
    return problems


def _as_index(value) -> int | None:
    """An integer cell (3, 3.0, '3') as int, or None (empty, NaN, text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) and number.is_integer() else None


def _identity(row, duplicate) -> list[str]:
    """The (dataset, subject, clip) id is unique and the subject is qualified by its dataset."""
    out = ["duplicate (dataset, subject, clip) id"] if duplicate else []
    if not str(row["subject"]).startswith(f"{row['dataset']}/"):
        out.append(f"subject {row['subject']!r} is not qualified by its dataset {row['dataset']!r}")
    return out


def _check_label(row, index, shown, out: list) -> bool:
    """The label (``index``, None when not an integer) is a class index of the row's protocol and
    ``class_name`` its name; False when the protocol is unknown, so nothing after it can be checked."""
    protocol = str(row["protocol"])
    if protocol == "all":
        return True
    try:
        classes = classes_for(protocol)
    except ValueError as e:
        out.append(str(e))
        return False
    if index is None or not 0 <= index < len(classes):
        out.append(f"label {row['label']!r} is not a class index of protocol {protocol} {classes}")
    elif classes[index] != row["class_name"]:
        out.append(f"class_name {row['class_name']!r} does not match label {shown} ({classes[index]})")
    return True


# --- a plain row: frame numbers, positions, files on disk -----------------------------------------------


def _plain_messages(row, duplicate, check_frames: bool, decode_frames: bool) -> list[str]:
    """Every problem of one plain row, in order; one that makes the later checks meaningless ends them."""
    out = _identity(row, duplicate)
    if not _check_span(row, out):
        return out
    files = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n and n != "nan"]
    if not files:
        out.append(f"no frames listed for the clip in {row['frames_dir']}")
    foreign = [why for why in map(foreign_frame_name, files) if why]
    if foreign:
        return out + foreign[:1]
    _check_frame_numbers(row, files, out)
    if row["apex_source"] not in APEX_SOURCES:
        out.append(f"apex_source {row['apex_source']!r} is not one of {APEX_SOURCES}")
    try:
        fps_ok = float(row["fps"]) > 0
    except (TypeError, ValueError):
        fps_ok = False
    if not fps_ok:
        out.append(f"fps must be a positive number, got {row['fps']!r}")
    label = _as_index(row["label"])
    if _check_label(row, label, label, out) and check_frames and files:
        _check_on_disk(row, files, decode_frames, out)
    return out


def _check_span(row, out: list) -> bool:
    """onset <= apex <= offset; False when they are not integers (nothing about frames can be checked)."""
    on, ap, off = (_as_index(row[k]) for k in ("onset", "apex", "offset"))
    if None in (on, ap, off):
        out.append(f"onset/apex/offset must be integers, got {row['onset']!r}/{row['apex']!r}/{row['offset']!r}")
        return False
    if on > off:
        out.append(f"onset {on} is after offset {off}")
    elif not on <= ap <= off:
        out.append(f"apex {ap} is not within onset..offset {on}..{off}")
    return True


def _check_frame_numbers(row, files: list[str], out: list) -> None:
    """Each listed file has its own frame number, and the onset/apex/offset positions point among them."""
    try:
        numbers = [frame_number(n) for n in files]
    except ValueError as e:
        out.append(str(e))
        numbers = []
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        names = [f for f, n in zip(files, numbers) if n == repeated[0]]
        out.append(f"frame number {repeated[0]} appears in several files {names}: which one is the frame is "
                   "ambiguous")
    for col in ("onset_idx", "apex_idx", "offset_idx"):
        k = _as_index(row[col])
        what = col[: -len("_idx")]
        if k is None:
            out.append(f"{col} must be an integer position, got {row[col]!r}")
        elif not 0 <= k < max(len(files), 1):
            out.append(f"{what} frame {row[what]} is not among the clip's {len(files)} frame file(s) on disk")


def _check_on_disk(row, files: list[str], decode_frames: bool, out: list) -> None:
    """Every listed frame exists in the clip folder; with ``decode_frames`` each decodes and all share a size."""
    folder = Path(row["frames_dir"])
    if not folder.is_dir():
        out.append(f"frames folder {folder} does not exist")
        return
    absent = [n for n in files if not (folder / n).is_file()]
    if absent:
        out.append(f"{len(absent)} listed frame(s) missing in {folder}, first {absent[0]}")
        return
    if decode_frames:
        shapes = {}
        for name in files:
            try:
                shapes[name] = read_image(folder / name).shape
            except (InputError, InputNotFoundError, OSError) as e:
                out.append(str(e))
        other = different_size(shapes)
        if other:
            out.append(other)


# --- a precomputed row: one file per input column --------------------------------------------------------


def _precomputed_messages(row, duplicate, inputs: list[str], check_frames: bool) -> list[str]:
    """Every problem of one precomputed row: identity, apex source, label, then one file per input column."""
    out = _identity(row, duplicate)
    if row["apex_source"] not in APEX_SOURCES + (PRECOMPUTED_APEX,):
        out.append(f"apex_source {row['apex_source']!r} is not one of {APEX_SOURCES + (PRECOMPUTED_APEX,)}")
    lab = row["label"]
    if not _check_label(row, int(lab) if str(lab).lstrip("-").isdigit() else None, lab, out):
        return out
    for col in inputs:
        value = row[col]
        if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
            out.append(f"no file in column {col}")
        elif check_frames and not Path(str(value)).is_file():
            out.append(f"{col} file {value} does not exist")
    return out
