"""`predict` on a video without --apex spots it and draws its motion curve; --figures draws one PNG per clip."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_keras.cli import main
from mer_keras.datasets import load_manifest, synthme
from mer_keras.errors import ConfigError
from mer_keras.evaluation.plots import CLIP_FIGURE_SIZE, plot_clip_figure
from mer_keras.training.networks import build_exported
from mer_keras.training.predict import clips_manifest, predict

CONFIG = {"model": "ststnet", "classes": ["negative", "positive", "surprise"], "head": "softmax",
          "preprocess": {"representation": "flow", "size": 28, "flow_method": "farneback"},
          "input_shape": [28, 28, 3], "network": {}}
"""A small export (STSTNet builds in well under a second): the figures, not the network, are under test."""


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    build_exported(CONFIG).save_weights(str(out / "model.weights.h5"))
    (out / "config.json").write_text(json.dumps(CONFIG))
    return out / "model.weights.h5"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A SynthME clip as a lossless video (FFV1 in .avi), so its apex is the generator's."""
    root = synthme.generate(tmp_path_factory.mktemp("synthme"), subjects=1, clips_per_subject=1, seed=0, size=128,
                            progress=False)
    row = load_manifest("synthme", root, protocol="all").iloc[0]
    frames = [cv2.imread(f"{row['frames_dir']}/{n}") for n in row["frame_files"].split("|")]
    path = tmp_path_factory.mktemp("video") / "synth_clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 50.0, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    assert path.stat().st_size > 0
    return path, int(row["apex_idx"]) - int(row["onset_idx"])


def png_shape(path):
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a readable image"
    return image.shape


def test_predict_video_without_apex_spots_it_and_writes_curve_and_figure(video, weights, tmp_path, capsys):
    path, apex = video
    out, figures = tmp_path / "pred.csv", tmp_path / "figures"
    assert main(["predict", str(path), "--weights", str(weights), "--out", str(out), "--figures", str(figures)]) == 0
    printed = capsys.readouterr().out
    assert "1 motion curve(s) written" in printed and "1 figure(s) written" in printed
    row = pd.read_csv(out).iloc[0]
    assert row["apex_source"] == "spotted" and abs(int(row["apex_idx"]) - apex) <= 1
    curve = pd.read_csv(tmp_path / "synth_clip.motion.csv")  # beside the predictions CSV, its PNG beside it
    assert curve["apex"].sum() == 1 and int(curve.loc[curve["apex"], "position"].item()) == row["apex_idx"]
    assert row["motion_curve"] == str(tmp_path / "synth_clip.motion.png")
    height, width, _ = png_shape(row["motion_curve"])
    assert width > 300 and height > 150
    assert row["figure"] == str(figures / "synth_clip.png")
    height, width, _ = png_shape(row["figure"])
    assert (width, height) == CLIP_FIGURE_SIZE
    hsv = cv2.cvtColor(cv2.imread(row["figure"])[60:260, 300:600], cv2.COLOR_BGR2HSV)  # the flow panel
    assert (hsv[..., 1] > 100).sum() > 50  # coloured where the face moved: a real flow picture, not a blank
    middle = clips_manifest(path, tmp_path / "frames", apex="middle")  # the old rule, on request
    assert middle.loc[0, "apex_source"] == "middle" and middle.loc[0, "apex_idx"] != row["apex_idx"]


def test_clip_figure_has_its_size_without_pictures(tmp_path):
    png = plot_clip_figure(None, np.zeros((28, 28, 3)), ["a", "b"], [0.3, np.nan], tmp_path / "c.png", "clip",
                           notes=("precomputed input, no frames", ""))
    height, width, _ = png_shape(png)
    assert (width, height) == CLIP_FIGURE_SIZE


def test_a_bad_apex_is_one_named_error(video, weights, capsys):
    path, _ = video
    with pytest.raises(ConfigError, match="apex must be"):
        predict(path, weights, apex="peak")
    assert main(["predict", str(path), "--weights", str(weights), "--apex", "peak"]) == 2
    err = capsys.readouterr().err
    assert "apex must be a 0-based frame position or one of ('spot', 'middle'), got 'peak'" in err
    assert "Traceback" not in err
