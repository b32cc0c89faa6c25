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
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..errors import FrameDecodeError, InputError, InputNotFoundError
from ..naming import stem_key
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


# --- decoding every frame read, with the decoder's warnings turned into errors ----------------------

_DECODE_LOCK = threading.Lock()
_SINK: dict = {}
IGNORED_DECODER_LINES = re.compile(r"libpng warning: iCCP:")
"""Decoder messages that do not mean damage (libpng's note about an sRGB colour profile)."""


@contextmanager
def _stderr_to_sink(messages: list):
    """Send file descriptor 2 to a temporary file while decoding, then append what was written.

    libjpeg and libpng write their warnings ("Premature end of JPEG file", "Corrupt JPEG data")
    straight to the C stderr and still return an image: OpenCV offers no other way to hear them.
    Frames are decoded one at a time per process (a lock), and whatever was captured is reported.
    """
    with _DECODE_LOCK:
        sink = _SINK.get(os.getpid())
        if sink is None:
            sink = _SINK[os.getpid()] = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the process)
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to capture
            yield
            return
        try:
            sys.stderr.flush()
            sink.seek(0)
            sink.truncate()
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
        messages += [line.strip() for line in text.splitlines()
                     if line.strip() and not IGNORED_DECODER_LINES.search(line)]


def _structure_problem(data: bytes, suffix: str) -> str | None:
    """A cheap end-of-file check the decoders may not make: truncated JPEG, PNG, BMP files.

    JPEG must end with its EOI marker (up to 64 padding bytes after it are tolerated), PNG with its
    IEND chunk, BMP must be at least as long as its header says.
    """
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg") or data[:2] == b"\xff\xd8":
        if data[:2] != b"\xff\xd8":
            return "does not start with the JPEG SOI marker"
        if data.rfind(b"\xff\xd9") < len(data) - 66:
            return "is truncated (no JPEG end-of-image marker at its end)"
    elif suffix == ".png":
        if data.rfind(b"IEND") < len(data) - 64:
            return "is truncated (no PNG IEND chunk at its end)"
    elif suffix == ".bmp" and data[:2] == b"BM" and len(data) >= 6:
        declared = int.from_bytes(data[2:6], "little")
        if declared > len(data):
            return f"is truncated ({len(data)} bytes, its header says {declared})"
    return None


def read_image(path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode one frame file (OpenCV, BGR or gray as ``flags`` says), or ``FrameDecodeError`` naming it.

    Every frame the pipeline reads goes through here: a missing or empty file, a truncated file,
    an undecodable one and one the decoder warns about ("Corrupt JPEG data") are all errors, since
    OpenCV alone returns a half-grey picture for a truncated JPEG and says so only on the terminal.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            raise FrameDecodeError(f"frame file {path} is a symbolic link to a missing file") from None
        if not path.parent.is_dir():
            raise InputNotFoundError(f"frames folder {path.parent} does not exist (looking for frame "
                                     f"{path.name})") from None
        raise InputNotFoundError(f"frame file {path} does not exist") from None
    except IsADirectoryError:
        raise FrameDecodeError(f"frame file {path} is a folder, not an image") from None
    if not data:
        raise FrameDecodeError(f"frame file {path} is empty (0 bytes)")
    messages: list[str] = []
    with _stderr_to_sink(messages):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    said = f": the decoder says {'; '.join(messages)!r}" if messages else ""
    problem = _structure_problem(data, path.suffix)
    if problem:
        raise FrameDecodeError(f"frame file {path} {problem}{said}")
    if image is None:
        raise FrameDecodeError(f"frame file {path} cannot be read as an image{said}")
    if messages:
        raise FrameDecodeError(f"frame file {path} is damaged{said}")
    return image


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


def _as_index(value) -> int | None:
    """An integer cell (3, 3.0, '3') as int, or None (empty, NaN, text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) and number.is_integer() else None


def validate(df: pd.DataFrame, check_frames: bool = True, raise_on_error: bool = True, *,
             decode_frames: bool = False, lines=None, file: str | None = None):
    """Check every row; return the list of problems, or raise ``ManifestError`` with all of them.

    check_frames: every listed frame file exists; decode_frames: every listed frame also decodes
    cleanly (``read_image``; slow: every file is read). ``lines`` (optional, one per row) names each
    row in the messages (e.g. the CSV line) instead of the table index; ``file`` is named when a row
    has no ``source``.
    """
    if any(str(c).startswith("input_") for c in df.columns):  # precomputed inputs (datasets.precomputed)
        from .precomputed import validate_precomputed

        return validate_precomputed(df, check_frames, raise_on_error, lines=lines, file=file)
    problems: list[Problem] = []
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        problems.append(Problem("-", "", file or "", f"missing column(s) {missing}; expected {list(COLUMNS)}"))
        if raise_on_error:
            raise ManifestError(problems)
        return problems
    dup = df.duplicated(subset=["dataset", "subject", "clip"], keep=False)
    problems += stem_collisions(df, file)
    locators = list(df.index) if lines is None else list(lines)
    for (i, row), where in zip(df.iterrows(), locators):
        clip = f"{row['subject']}/{row['clip']}"
        src = str(row.get("source", "") or "")
        src = "" if src == "nan" else src
        src = src or file or str(row.get("frames_dir", ""))

        def bad(msg, _i=where, _clip=clip, _src=src):
            problems.append(Problem(_i, _clip, _src, msg))

        if dup[i]:
            bad("duplicate (dataset, subject, clip) id")
        if not str(row["subject"]).startswith(f"{row['dataset']}/"):
            bad(f"subject {row['subject']!r} is not qualified by its dataset {row['dataset']!r}")
        on, ap, off = (_as_index(row[k]) for k in ("onset", "apex", "offset"))
        if None in (on, ap, off):
            bad(f"onset/apex/offset must be integers, got {row['onset']!r}/{row['apex']!r}/{row['offset']!r}")
            continue
        if on > off:
            bad(f"onset {on} is after offset {off}")
        elif not on <= ap <= off:
            bad(f"apex {ap} is not within onset..offset {on}..{off}")
        files = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n and n != "nan"]
        if not files:
            bad(f"no frames listed for the clip in {row['frames_dir']}")
        foreign = [why for why in map(foreign_frame_name, files) if why]
        if foreign:
            bad(foreign[0])
            continue
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
            k = _as_index(row[col])
            what = col[: -len("_idx")]
            if k is None:
                bad(f"{col} must be an integer position, got {row[col]!r}")
            elif not 0 <= k < max(len(files), 1):
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
            lab = _as_index(row["label"])
            if lab is None or not 0 <= lab < len(classes):
                bad(f"label {row['label']!r} is not a class index of protocol {protocol} {classes}")
            elif classes[lab] != row["class_name"]:
                bad(f"class_name {row['class_name']!r} does not match label {lab} ({classes[lab]})")
        if check_frames and files:
            folder = Path(row["frames_dir"])
            if not folder.is_dir():
                bad(f"frames folder {folder} does not exist")
                continue
            absent = [n for n in files if not (folder / n).is_file()]
            if absent:
                bad(f"{len(absent)} listed frame(s) missing in {folder}, first {absent[0]}")
            elif decode_frames:
                shapes = {}
                for name in files:
                    try:
                        shapes[name] = read_image(folder / name).shape
                    except (InputError, InputNotFoundError, OSError) as e:
                        bad(str(e))
                other = different_size(shapes)
                if other:
                    bad(other)
    if problems and raise_on_error:
        raise ManifestError(problems)
    return problems


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


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest CSV atomically (a crash or a failed write never leaves a file behind)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give the manifest CSV's file name (e.g. {path / 'manifest.csv'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise InputError(f"--out {path}: {e.filename} is a file, not a folder, so the manifest cannot be written "
                         "under it") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a manifest is as shared as any file
        with os.fdopen(fd, "w", newline="") as f:
            df.to_csv(f, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_manifest(path: str | os.PathLike, check_frames: bool = False, decode_frames: bool = False) -> pd.DataFrame:
    """Read and validate a manifest CSV written by ``write_manifest`` (or by hand).

    Problems name the CSV line (the header is line 1) and the file; a missing, empty or non-CSV file
    is an ``InputError`` naming it.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"manifest {path} is a folder; expected a manifest CSV file")
        raise InputNotFoundError(f"manifest {path} does not exist")
    try:
        df = pd.read_csv(path, dtype={"subject": str, "clip": str, "frame_files": str, "source": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"manifest {path} cannot be read as a CSV file: {e}") from None
    if len(df) == 0:
        raise ManifestError([Problem("-", "", str(path), "the manifest holds no rows")])
    validate(df, check_frames=check_frames, decode_frames=decode_frames,
             lines=[f"line {i + 2}" for i in range(len(df))], file=str(path))
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Clips per subject and class (rows: subjects, columns: classes, with totals)."""
    table = pd.crosstab(df["subject"], df["class_name"], margins=True, margins_name="total")
    return table
