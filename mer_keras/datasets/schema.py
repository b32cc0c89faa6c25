"""The manifest schema: its columns, the rows readers build, and the problems that name a row.

The bottom of ``mer_keras.datasets``: every reader, the validation and the loaders build on these names and
this module imports none of them. The schema is documented in ``data_manifests/README.md``; a precomputed
manifest (``datasets.precomputed``) adds one ``input_<representation>`` column per ready input file.
"""
from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import stem_key
from .labels import PROTOCOL_MAPPERS, classes_for

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
    "protocol": "protocol that assigned `label` (megc2019, casme2-5class, casme2-4class-jin2024, three-class, all, ...)",
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


class ManifestError(InputError):
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
    """Image files of a clip folder sorted by their frame number (numerically, not as text).

    A frame-named entry that is not a readable file (a symbolic link to a missing file, a folder
    named ``img3.jpg``) raises ``InputError`` naming it: dropping it would leave a silent gap.
    """
    folder = Path(folder)
    names, broken = [], []
    for p in folder.iterdir():
        if p.suffix.lower() not in IMAGE_EXTENSIONS or not FRAME_NUMBER.search(p.stem):
            continue
        if p.is_file():
            names.append(p.name)
        else:
            broken.append(f"{p.name} ({'symbolic link to missing ' + os.readlink(p) if p.is_symlink() else 'not a file'})")
    if broken:
        raise InputError(f"{folder}: frame entr{'y is' if len(broken) == 1 else 'ies are'} not readable "
                         f"file(s): {', '.join(sorted(broken))}")
    return sorted(names, key=lambda n: (frame_number(n), n))


def missing_numbers(frame_files, first: int, last: int) -> list[int]:
    """Frame numbers in ``first..last`` with no file (a gap in the numbering of a clip)."""
    have = {frame_number(n) for n in frame_files}
    return [n for n in range(int(first), int(last) + 1) if n not in have]



def foreign_frame_name(name: str) -> str | None:
    """Why a ``frame_files`` entry is not a plain file name of its clip folder (``../b/img3.jpg``, an absolute
    path), or None: a frame must sit inside its own clip folder, never read another clip's."""
    if name in (".", "..") or "/" in name or "\\" in name or os.path.isabs(name):
        return f"frame entry {name!r} is not a plain file name inside the clip folder (a path to another folder)"
    return None


def frame_paths(row) -> list[Path]:
    """Full paths of a manifest row's frames, in temporal order; an entry that leaves the clip folder is an
    ``InputError`` naming it (``foreign_frame_name``)."""
    names = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n]
    for name in names:
        why = foreign_frame_name(name)
        if why:
            raise InputError(f"clip {row['subject']}/{row['clip']}: {why}")
    return [Path(row["frames_dir"]) / n for n in names]


def different_size(shapes: dict) -> str | None:
    """Which frame of a clip is not the clip's size, or None. ``shapes``: {frame name: image shape} in temporal
    order; the first frame's height x width is the clip's (a frame resized elsewhere gives flow of another
    scale)."""
    if not shapes:
        return None
    (first, shape), *rest = shapes.items()
    for name, other in rest:
        if tuple(other[:2]) != tuple(shape[:2]):
            return (f"frame {name} is {other[1]}x{other[0]} px but the clip's frames are {shape[1]}x{shape[0]} "
                    f"(as {first}): every frame of a clip must have the clip's size")
    return None


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


def stem_collisions(df: pd.DataFrame, file: str | None = None) -> list[Problem]:
    """Subjects whose fold-file stems collide (``x/y`` and ``x__y`` both name ``x__y.csv``): two folds would
    write one file, the later overwriting the earlier, so the manifest is refused until one is renamed."""
    seen: dict = {}
    problems = []
    for subject in pd.unique(df["subject"].astype(str)):
        try:
            stem = stem_key(subject)
        except ValueError as e:
            problems.append(Problem("-", subject, file or "", str(e)))
            continue
        if stem in seen:
            problems.append(Problem("-", subject, file or "", f"subjects {seen[stem]!r} and {subject!r} map to the "
                                    f"same file name {stem!r} (fold and weights files): rename one"))
        else:
            seen[stem] = subject
    return problems


INPUT_PREFIX = "input_"
"""Column prefix of a precomputed input: ``input_flow`` holds the path of the clip's flow file."""
PRECOMPUTED_APEX = "precomputed"
"""``apex_source`` of a precomputed row: the apex is the one the files' maker chose, unknown here."""


def input_columns(df) -> list[str]:
    return [c for c in df.columns if str(c).startswith(INPUT_PREFIX)]


def is_precomputed(df) -> bool:
    """Whether a manifest holds precomputed inputs (any ``input_*`` column) rather than frame folders."""
    return bool(input_columns(df))


def input_source(df) -> str:
    """Where a manifest's inputs come from: ``"precomputed"`` files (read and scaled as the files were, e.g.
    per-image min-max flow images) or ``"frames"`` (computed by ``prepare`` at fixed scales). An export records
    it and ``predict`` refuses rows of the other kind: the same representation would reach the network scaled
    otherwise."""
    return "precomputed" if is_precomputed(df) else "frames"


def representations(df) -> list[str]:
    return [c[len(INPUT_PREFIX):] for c in input_columns(df)]
