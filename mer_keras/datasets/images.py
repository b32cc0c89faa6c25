"""Decoding one frame file, with the decoder's warnings turned into errors.

Every frame the pipeline reads goes through ``read_image``: OpenCV alone returns a half-grey picture for a
truncated JPEG and says so only on the terminal.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from ..errors import FrameDecodeError, InputNotFoundError

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
