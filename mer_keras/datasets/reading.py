"""What every reader shares: collecting rows, problems and skipped clips, and finding folders.

A reader walks a native layout and calls ``Reading.add`` for each good clip, ``Reading.problem``
for each bad one (naming its sheet row, clip and file) and ``Reading.skip`` for a clip left out on
purpose (unlabelled CK+ sequence, neutral expression, ``missing_apex="drop"``). ``Reading.result``
returns the rows; with ``on_error="raise"`` (the default) it raises ``ManifestError`` listing every
problem, with ``"report"`` it returns the good rows and keeps the problems in
``df.attrs["problems"]`` and the skipped clips in ``df.attrs["skipped"]`` (plain lists, so pandas
can carry them through copies; ``skipped_table`` turns them into a DataFrame).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .manifest import ManifestError, Problem, frame_number, list_frames, make_row
from .sheets import ROW_NUMBER, as_int, as_text

ROW_COLUMNS = (
    "dataset", "subject", "clip", "emotion", "onset", "apex", "offset", "onset_idx", "apex_idx",
    "offset_idx", "frames_dir", "frame_files", "apex_source", "fps", "source",
)
"""Columns of a reader's rows: the manifest columns before a protocol assigns labels."""

SKIPPED_COLUMNS = ("dataset", "subject", "clip", "emotion", "reason")
ON_ERROR = ("raise", "report")
MISSING_APEX = ("middle", "drop", "error")


def skipped_table(df: pd.DataFrame) -> pd.DataFrame:
    """The clips left out on purpose while building ``df`` (one row each, with its reason)."""
    return pd.DataFrame(df.attrs.get("skipped", []), columns=list(SKIPPED_COLUMNS))


def check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    return on_error


class Reading:
    """Rows, problems and skipped clips gathered while reading one dataset."""

    def __init__(self, dataset: str, on_error: str = "raise"):
        self.dataset = dataset
        self.on_error = check_on_error(on_error)
        self.rows: list[dict] = []
        self.problems: list[Problem] = []
        self.skipped: list[dict] = []

    def add(self, **row) -> None:
        self.rows.append(make_row(dataset=self.dataset, **row))

    def problem(self, row, clip: str, file, message: str) -> None:
        self.problems.append(Problem(row, clip, str(file), message))

    def skip(self, subject: str, clip: str, emotion: str, reason: str) -> None:
        self.skipped.append({"dataset": self.dataset, "subject": subject, "clip": clip,
                             "emotion": str(emotion).strip().lower(), "reason": reason})

    def frames(self, folder: Path, row, clip: str) -> list[str] | None:
        """Sorted frame files of a clip folder, or None after recording why there are none."""
        if not folder.is_dir():
            self.problem(row, clip, folder, "clip folder does not exist")
            return None
        try:
            files = list_frames(folder)
        except InputError as e:  # a dangling symbolic link among the frames
            self.problem(row, clip, folder, str(e).removeprefix(f"{folder}: "))
            return None
        except OSError as e:
            self.problem(row, clip, folder, f"cannot list the clip folder: {e}")
            return None
        if not files:
            self.problem(row, clip, folder, "clip folder holds no numbered image frames")
            return None
        return files

    def result(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(ROW_COLUMNS))
        if self.problems and self.on_error == "raise":
            raise ManifestError(self.problems)
        df.attrs["problems"] = list(self.problems)
        df.attrs["skipped"] = list(self.skipped)
        return df


def subject_dirs(folder: Path, pattern: str) -> list[Path]:
    """Sub-folders of ``folder`` whose names match the regular expression ``pattern`` (sorted)."""
    rx = re.compile(pattern)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and rx.fullmatch(p.name))


def find_dir(root: Path, names, holding: str | None = None, max_depth: int = 2) -> list[Path]:
    """Folders under ``root`` (itself included, depth <= ``max_depth``) named one of ``names``
    (case-insensitive), or, with ``holding``, any folder that has a child matching that regex."""
    root = Path(root)
    wanted = {n.lower() for n in names}
    rx = re.compile(holding) if holding else None
    hits, level = [], [root]
    for _ in range(max_depth + 1):
        nxt = []
        for d in level:
            if not d.is_dir():
                continue
            if d.name.lower() in wanted or rx is not None and any(c.is_dir() and rx.fullmatch(c.name) for c in d.iterdir()):
                hits.append(d)
            else:
                nxt += sorted(c for c in d.iterdir() if c.is_dir())
        level = nxt
    return hits


def one_dir(root: Path, names, what: str, holding: str | None = None, max_depth: int = 2) -> Path:
    """Exactly one folder found by ``find_dir``; ``ManifestError`` naming the candidates otherwise."""
    hits = find_dir(root, names, holding, max_depth)
    if not hits:
        looked = list(names) + ([f"a folder holding {holding!r}"] if holding else [])
        raise ManifestError([Problem("-", "", str(root), f"no {what} folder found (looked for {looked} "
                                     f"up to {max_depth} folders deep)")])
    if len(hits) > 1:
        raise ManifestError([Problem("-", "", str(root), f"several {what} folders found "
                                     f"({', '.join(map(str, hits))}); point root at one of them")])
    return hits[0]


def middle_frame(frame_files: list[str], onset: int, offset: int) -> int | None:
    """Frame number in the middle of onset..offset among the files on disk (meb's midpoint rule)."""
    inside = [n for n in map(frame_number, frame_files) if onset <= n <= offset]
    return inside[(len(inside) - 1) // 2] if inside else None


def add_sheet_rows(reading: Reading, table, sheet, *, subject_of, folder_of, emotions, missing_apex, fps):
    """Check each row of a coding sheet (CASME II, SAMM, MMEW) against its clip folder and add it.

    subject_of(cell) -> subject name on disk or None; folder_of(subject, clip, emotion) -> the
    clip folder. missing_apex: ``"middle"`` estimates a non-numeric apex ('/', empty) as the
    middle frame of onset..offset (``apex_source="middle"``), ``"drop"`` skips the clip with a
    reason, ``"error"`` reports it. emotions: the known vocabulary (None accepts any label).
    """
    if missing_apex not in MISSING_APEX:
        raise ValueError(f"missing_apex must be one of {MISSING_APEX}, got {missing_apex!r}")
    known = None if emotions is None else {e.lower() for e in emotions}
    dataset = reading.dataset
    for rec in table.to_dict("records"):
        line = rec[ROW_NUMBER]
        clip, subject = as_text(rec["clip"]), subject_of(rec["subject"])
        name = f"{subject or as_text(rec['subject'])}/{clip}"
        if subject is None or not clip:
            reading.problem(line, name, sheet, f"unexpected subject {as_text(rec['subject'])!r} or "
                            f"clip {clip!r}")
            continue
        emotion = as_text(rec["emotion"]).lower()
        if known is not None and emotion not in known:
            reading.problem(line, name, sheet, f"unknown emotion {emotion!r}; expected one of {sorted(known)}")
            continue
        onset, apex, offset = (as_int(rec[k]) for k in ("onset", "apex", "offset"))
        if onset is None or offset is None:
            reading.problem(line, name, sheet, f"onset/offset must be frame numbers, got "
                            f"{as_text(rec['onset'])!r}/{as_text(rec['offset'])!r}")
            continue
        folder = folder_of(subject, clip, emotion)
        files = reading.frames(folder, line, name)
        if files is None:
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
            apex, apex_source = middle_frame(files, onset, offset), "middle"
            if apex is None:
                reading.problem(line, name, folder, f"apex missing and no frame on disk lies within "
                                f"onset..offset {onset}..{offset}")
                continue
        reading.add(subject=f"{dataset}/{subject}", clip=clip, emotion=emotion, onset=onset, apex=apex,
                    offset=offset, frames_dir=folder, frame_files=files, apex_source=apex_source,
                    fps=fps, source=f"{table.attrs['sheet']} row {line}")


def add_sequence(reading: Reading, subject: str, clip: str, emotion: str, folder: Path, files, fps) -> None:
    """A posed sequence that runs from neutral (first frame) to the peak (last frame)."""
    first, last = frame_number(files[0]), frame_number(files[-1])
    reading.add(subject=f"{reading.dataset}/{subject}", clip=clip, emotion=emotion, onset=first,
                apex=last, offset=last, frames_dir=folder, frame_files=files, apex_source="annotated",
                fps=fps, source=str(folder))
