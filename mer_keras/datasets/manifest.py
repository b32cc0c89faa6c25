"""The manifest: one row per clip, the contract between the dataset readers and every later stage.

Readers (one module per dataset) turn a native folder into a DataFrame with the columns of
``COLUMNS``; preprocessing, training and evaluation only ever read that DataFrame. The schema is
documented in ``data_manifests/README.md``. ``validate`` checks every row and reports every
problem with its row, clip and file; nothing is dropped silently.
"""
from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .labels import classes_for

FRAME_SEP = "|"
"""Separator of the file names in ``frame_files`` (never occurs in the datasets' file names)."""

APEX_SOURCES = ("annotated", "middle", "spotted", "single")

COLUMNS = {
    "dataset": "dataset key, lower case (casme2, samm, smic-hs, mmew, ck+, synthme, ...)",
    "subject": "dataset-qualified subject key used for LOSO, e.g. 'casme2/sub01', 'samm/006'",
    "clip": "clip name as the dataset spells it on disk (EP02_01f, 006_1_2, s1_ne_01)",
    "emotion": "fine emotion, lower case, as the dataset labels it",
    "label": "integer class index under `protocol`",
    "class_name": "name of the class `label` stands for",
    "protocol": "protocol that assigned `label` (megc2019, casme2-5class, three-class, all)",
    "onset": "onset frame number as annotated (native numbering)",
    "apex": "apex frame number (annotated, or estimated: see apex_source)",
    "offset": "offset frame number as annotated (native numbering)",
    "onset_idx": "0-based position of the onset frame in frame_files",
    "apex_idx": "0-based position of the apex frame in frame_files",
    "offset_idx": "0-based position of the offset frame in frame_files",
    "frames_dir": "absolute folder holding the clip's frames",
    "frame_files": f"the clip's frame file names in temporal order, joined by '{FRAME_SEP}'",
    "apex_source": f"one of {APEX_SOURCES}",
    "fps": "frame rate of the recording",
    "source": "annotation file (and row) the entry came from, for error messages",
}

FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")


class ManifestError(ValueError):
    """Raised with every problem found, one per line, each naming its row, clip and file."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        super().__init__(f"{len(lines)} problem(s) in the manifest:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Problem:
    row: object
    clip: str
    file: str
    message: str

    def __str__(self):
        # An integer row is a table row; other locators ("line 12") print as given; "-" means none.
        row = "" if self.row in (None, "", "-") else (
            f"row {self.row}" if isinstance(self.row, numbers.Integral) else str(self.row))
        where = " ".join(w for w in (row, f"({self.clip})" if row and self.clip else self.clip) if w)
        return f"{where or '-'}: {self.message}" + (f" [{self.file}]" if self.file else "")


def frame_number(name: str) -> int:
    """Number in a frame file name (img46.jpg -> 46, 006_05562.jpg -> 5562, reg_img7.bmp -> 7)."""
    m = FRAME_NUMBER.search(Path(name).stem)
    if m is None:
        raise ValueError(f"frame file {name!r} carries no frame number")
    return int(m.group(1))


def list_frames(folder: str | os.PathLike) -> list[str]:
    """Image files of a clip folder sorted by their frame number (numerically, not as text)."""
    folder = Path(folder)
    names = [
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and FRAME_NUMBER.search(p.stem)
    ]
    return sorted(names, key=lambda n: (frame_number(n), n))


def frame_paths(row) -> list[Path]:
    """Full paths of a manifest row's frames, in temporal order."""
    return [Path(row["frames_dir"]) / n for n in str(row["frame_files"]).split(FRAME_SEP) if n]


def position_of(frame_files: list[str], number: int) -> int | None:
    """Position of native frame ``number`` in a sorted frame list, or None when absent."""
    for i, name in enumerate(frame_files):
        if frame_number(name) == number:
            return i
    return None


def make_row(
    *,
    dataset,
    subject,
    clip,
    emotion,
    onset,
    apex,
    offset,
    frames_dir,
    frame_files,
    apex_source,
    fps,
    source="",
):
    """One manifest row; frame numbers are native, positions are derived from the files on disk.

    Positions are -1 when a frame number is not on disk, which ``validate`` reports.
    """
    numbers = [frame_number(n) for n in frame_files]
    index = {n: i for i, n in enumerate(numbers)}
    return {
        "dataset": dataset,
        "subject": subject,
        "clip": clip,
        "emotion": str(emotion).strip().lower(),
        "onset": int(onset),
        "apex": int(apex),
        "offset": int(offset),
        "onset_idx": index.get(int(onset), -1),
        "apex_idx": index.get(int(apex), -1),
        "offset_idx": index.get(int(offset), -1),
        "frames_dir": str(Path(frames_dir).resolve()),
        "frame_files": FRAME_SEP.join(frame_files),
        "apex_source": apex_source,
        "fps": float(fps),
        "source": str(source),
    }


def select_protocol(rows: pd.DataFrame, protocol: str, mapper=None):
    """Assign ``label``/``class_name`` under ``protocol``; return (kept, dropped) DataFrames.

    ``dropped`` holds the rows whose emotion the protocol does not use, so callers can report
    them; they are never lost without a count.
    """
    from .labels import PROTOCOL_MAPPERS

    df = rows.copy()
    classes = classes_for(protocol, df["emotion"]) if len(df) else ()
    if protocol == "all":
        labels = df["emotion"].map({c: i for i, c in enumerate(classes)})
    else:
        fn = mapper or PROTOCOL_MAPPERS[protocol]
        labels = df["emotion"].map(fn)
    keep = labels.notna()
    kept = df[keep].copy()
    kept["label"] = labels[keep].astype(int)
    kept["class_name"] = [classes[i] for i in kept["label"]]
    kept["protocol"] = protocol
    return kept[list(COLUMNS)].reset_index(drop=True), df[~keep].reset_index(drop=True)


def validate(df: pd.DataFrame, check_frames: bool = True, raise_on_error: bool = True):
    """Check every row; return the list of problems, or raise ``ManifestError`` with all of them."""
    problems: list[Problem] = []
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        problems.append(Problem("-", "", "", f"missing column(s) {missing}; expected {list(COLUMNS)}"))
        if raise_on_error:
            raise ManifestError(problems)
        return problems
    dup = df.duplicated(subset=["dataset", "subject", "clip"], keep=False)
    for i, row in df.iterrows():
        clip = f"{row['subject']}/{row['clip']}"
        src = str(row.get("source", "") or row.get("frames_dir", ""))

        def bad(msg, _i=i, _clip=clip, _src=src):
            problems.append(Problem(_i, _clip, _src, msg))

        if dup[i]:
            bad("duplicate (dataset, subject, clip) id")
        if not str(row["subject"]).startswith(f"{row['dataset']}/"):
            bad(f"subject {row['subject']!r} is not qualified by its dataset {row['dataset']!r}")
        try:
            on, ap, off = int(row["onset"]), int(row["apex"]), int(row["offset"])
        except (TypeError, ValueError):
            bad(f"onset/apex/offset must be integers, got {row['onset']!r}/{row['apex']!r}/{row['offset']!r}")
            continue
        if not on <= ap <= off:
            bad(f"apex {ap} is not within onset..offset {on}..{off}")
        files = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n and n != "nan"]
        if not files:
            bad(f"no frames listed for the clip in {row['frames_dir']}")
        try:
            numbers = [frame_number(n) for n in files]
        except ValueError as e:
            bad(str(e))
            numbers = []
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            names = [f for f, n in zip(files, numbers) if n == repeated[0]]
            bad(f"frame number {repeated[0]} appears in several files {names}: which one is the frame is ambiguous")
        for col in ("onset_idx", "apex_idx", "offset_idx"):
            k = int(row[col])
            if not 0 <= k < max(len(files), 1):
                what = col[: -len("_idx")]
                bad(f"{what} frame {row[what]} is not among the clip's {len(files)} frame file(s) on disk")
        if row["apex_source"] not in APEX_SOURCES:
            bad(f"apex_source {row['apex_source']!r} is not one of {APEX_SOURCES}")
        try:
            fps_ok = float(row["fps"]) > 0
        except (TypeError, ValueError):
            fps_ok = False
        if not fps_ok:
            bad(f"fps must be a positive number, got {row['fps']!r}")
        protocol = str(row["protocol"])
        if protocol != "all":
            try:
                classes = classes_for(protocol)
            except ValueError as e:
                bad(str(e))
                continue
            lab = row["label"]
            if not (str(lab).lstrip("-").isdigit() and 0 <= int(lab) < len(classes)):
                bad(f"label {lab!r} is not a class index of protocol {protocol} {classes}")
            elif classes[int(lab)] != row["class_name"]:
                bad(f"class_name {row['class_name']!r} does not match label {lab} ({classes[int(lab)]})")
        if check_frames and files:
            folder = Path(row["frames_dir"])
            if not folder.is_dir():
                bad(f"frames folder {folder} does not exist")
            else:
                absent = [n for n in files if not (folder / n).is_file()]
                if absent:
                    bad(f"{len(absent)} listed frame(s) missing in {folder}, first {absent[0]}")
    if problems and raise_on_error:
        raise ManifestError(problems)
    return problems


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest CSV atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_manifest(path: str | os.PathLike, check_frames: bool = False) -> pd.DataFrame:
    """Read and validate a manifest CSV written by ``write_manifest`` (or by hand)."""
    df = pd.read_csv(path, dtype={"subject": str, "clip": str, "frame_files": str, "source": str})
    validate(df, check_frames=check_frames)
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Clips per subject and class (rows: subjects, columns: classes, with totals)."""
    table = pd.crosstab(df["subject"], df["class_name"], margins=True, margins_name="total")
    return table
