"""Clips without a manifest (a frame folder, a video, a folder of them) as manifest rows.

What ``predict`` runs on: a video is decoded to numbered PNG frames first; a clip's onset and apex are
0-based positions given by the caller, or its first and middle frames.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import pandas as pd

from ..errors import InputError
from .manifest import read_manifest
from .schema import IMAGE_EXTENSIONS, frame_number, list_frames, make_row

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv")


def video_to_frames(video: Path, out_dir: Path) -> Path:
    """Decode a video into numbered PNG frames (lossless, so sub-pixel motion survives)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"{video}: OpenCV cannot open this video")
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        cv2.imwrite(str(out_dir / f"{n}.png"), frame)
    cap.release()
    if n == 0:
        raise InputError(f"{video}: no frame could be decoded")
    return out_dir


def clip_manifest(frames_dir: Path, onset=None, apex=None, fps=30.0, subject="clip/any") -> pd.DataFrame:
    """A one-row manifest for a clip folder; onset/apex are 0-based positions (default: first / middle).

    An apex rule (``"spot"``, ``"middle"``) gives the middle frame here, marked ``middle``; ``predict`` spots it."""
    frames_dir = Path(frames_dir)
    files = list_frames(frames_dir)
    if not files:
        raise InputError(f"{frames_dir}: no numbered image frames found")
    apex = None if isinstance(apex, str) else apex
    on = 0 if onset is None else int(onset)
    ap = (on + len(files) - 1) // 2 if apex is None else int(apex)
    if not 0 <= on <= ap < len(files):
        raise InputError(f"{frames_dir}: need 0 <= onset ({on}) <= apex ({ap}) < number of frames ({len(files)})")
    row = make_row(dataset="clip", subject=subject, clip=frames_dir.name, emotion="unknown",
                   onset=frame_number(files[on]), apex=frame_number(files[ap]),
                   offset=frame_number(files[-1]), frames_dir=frames_dir, frame_files=files,
                   apex_source="annotated" if apex is not None else "middle", fps=fps)
    return pd.DataFrame([row])


def _has_frames(folder: Path) -> bool:
    return any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir())


def clips_manifest(source, tmp: Path, onset=None, apex=None) -> pd.DataFrame:
    """Rows to predict: a manifest CSV, one clip (frame folder or video) or a folder of clip folders/videos."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: does not exist; expected a manifest CSV, a clip folder, a video or a "
                         "folder of clips")
    if source.is_file() and source.suffix.lower() == ".csv":
        if onset is not None or apex not in (None, "spot"):
            raise InputError("--onset/--apex N (or middle) apply to one clip; a manifest gives each row's own "
                             "(--apex spot re-spots its middle-frame apexes)")
        return read_manifest(source, check_frames=True).reset_index(drop=True)
    if source.is_file():
        if source.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"{source}: expected a manifest .csv, a video ({', '.join(VIDEO_SUFFIXES)}) or a folder")
        return clip_manifest(video_to_frames(source, tmp / source.stem), onset, apex)
    if _has_frames(source):
        return clip_manifest(source, onset, apex)
    parts = []
    for child in sorted(source.iterdir()):
        if child.is_dir() and _has_frames(child):
            parts.append(clip_manifest(child, onset, apex))
        elif child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            parts.append(clip_manifest(video_to_frames(child, tmp / child.stem), onset, apex))
    if not parts:
        raise InputError(f"{source}: holds no frames, clip folders or videos")
    return pd.concat(parts, ignore_index=True)


def is_manifest(source) -> bool:
    """A manifest (DataFrame or CSV) rather than clips: its rows carry their own onset and apex."""
    return isinstance(source, pd.DataFrame) or Path(source).suffix.lower() == ".csv"
