"""`mer-keras predict`: one clip (a folder of frames or a video) through exported weights and head."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv")


def video_to_frames(video: Path, out_dir: Path) -> Path:
    """Decode a video into numbered PNG frames (lossless, so sub-pixel motion survives)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"{video}: OpenCV cannot open this video")
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        cv2.imwrite(str(out_dir / f"{n}.png"), frame)
    cap.release()
    if n == 0:
        raise ValueError(f"{video}: no frame could be decoded")
    return out_dir


def clip_manifest(frames_dir: Path, onset=None, apex=None, fps=30.0) -> pd.DataFrame:
    """A one-row manifest for a clip folder; onset/apex are 0-based positions (default: first / middle)."""
    from ..datasets.manifest import frame_number, list_frames, make_row

    files = list_frames(frames_dir)
    if not files:
        raise ValueError(f"{frames_dir}: no numbered image frames found")
    on = 0 if onset is None else int(onset)
    ap = (on + len(files) - 1) // 2 if apex is None else int(apex)
    if not 0 <= on <= ap < len(files):
        raise ValueError(f"{frames_dir}: need 0 <= onset ({on}) <= apex ({ap}) < number of frames ({len(files)})")
    row = make_row(dataset="clip", subject="clip/any", clip=frames_dir.name, emotion="unknown",
                   onset=frame_number(files[on]), apex=frame_number(files[ap]),
                   offset=frame_number(files[-1]), frames_dir=frames_dir, frame_files=files,
                   apex_source="annotated" if apex is not None else "middle", fps=fps)
    return pd.DataFrame([row])


def predict_clip(clip, weights, head=None, config=None, onset=None, apex=None, cache=None) -> dict:
    """Class prediction for one clip with the time of each stage (seconds)."""
    import joblib

    from .data import prepared, preprocess_from_dict
    from .networks import build_exported

    times = {}
    weights = Path(weights)
    config = Path(config) if config else weights.with_name("config.json")
    if not config.is_file():
        raise FileNotFoundError(f"{config}: the export's config.json (model, preprocessing, classes) is needed")
    cfg = json.loads(config.read_text())
    clip = Path(clip)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        frames = clip
        if clip.is_file() and clip.suffix.lower() in VIDEO_SUFFIXES:
            frames = video_to_frames(clip, Path(tmp))
        elif not clip.is_dir():
            raise FileNotFoundError(f"{clip}: expected a folder of frames or a video file")
        manifest = clip_manifest(frames, onset, apex)
        times["read_s"] = time.perf_counter() - t
        t = time.perf_counter()
        x, _ = prepared(manifest, preprocess_from_dict(cfg["preprocess"]), Path(cache or tmp), progress=False,
                        n_jobs=1)
        times["preprocess_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model = build_exported(cfg)
    model.load_weights(str(weights))
    times["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out = {"classes": cfg["classes"]}
    if head:
        from ..models import embedding_model

        clf = joblib.load(head)
        feats = np.asarray(embedding_model(model).predict_on_batch(x))
        out["decision_values"] = np.atleast_1d(clf.decision_function(feats)[0]).tolist()
        out["predicted"] = cfg["classes"][int(clf.predict(feats)[0])]
    else:
        probs = np.asarray(model.predict_on_batch(x))[0]
        out["probabilities"] = probs.tolist()
        out["predicted"] = cfg["classes"][int(probs.argmax())]
    times["network_and_head_s"] = time.perf_counter() - t
    out["times"] = times
    out["onset_idx"] = int(manifest["onset_idx"][0])
    out["apex_idx"] = int(manifest["apex_idx"][0])
    return out
