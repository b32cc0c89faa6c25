"""Apex spotting: a SynthME clip's known apex is found, and `manifest --apex spot` records it on SMIC."""
import logging

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_keras.cli import main
from mer_keras.datasets import load_manifest, synthme
from mer_keras.errors import ConfigError
from mer_keras.preprocessing.spotting import (
    NoMotionError,
    SpotConfig,
    binomial_smooth,
    spot_apex,
    spot_apexes,
)
from tests.fixtures.native_layouts import write_smic

TAIL = 8
"""Neutral frames appended to each SMIC fixture clip, so that its middle frame is far from its apex."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = synthme.generate(tmp_path_factory.mktemp("synthme"), subjects=1, clips_per_subject=2, seed=0, size=128,
                            progress=False)
    return load_manifest("synthme", root, protocol="all")


@pytest.fixture(scope="module")
def smic_tree(corpus, tmp_path_factory):
    """SMIC-HS layout whose clips are the SynthME clips (as .bmp) followed by TAIL copies of their last frame."""
    root = tmp_path_factory.mktemp("smic")
    truth = {}
    for (_, row), (emotion, code) in zip(corpus.iterrows(), (("negative", "ne"), ("positive", "po"))):
        clip = f"s1_{code}_01"
        folder = root / "HS" / "s1" / "micro" / emotion / clip
        folder.mkdir(parents=True)
        names = row["frame_files"].split("|")
        frames = [cv2.imread(f"{row['frames_dir']}/{n}") for n in names] + [None] * TAIL
        frames[len(names):] = [frames[len(names) - 1]] * TAIL
        for k, image in enumerate(frames):
            cv2.imwrite(str(folder / f"image{42219 + k:06d}.bmp"), image)
        truth[clip] = int(row["apex_idx"]) - int(row["onset_idx"])
    return root, truth


def test_the_spotter_finds_the_known_apex_of_synthme_clips(corpus):
    for _, row in corpus.iterrows():
        spot = spot_apex(row)
        assert spot.face == "detected"
        assert abs(spot.apex_idx - int(row["apex_idx"])) <= 1, (row["clip"], spot.apex_idx, row["apex_idx"])
        table = spot.table()
        assert len(table) == int(row["offset_idx"]) - int(row["onset_idx"]) + 1
        assert table["apex"].sum() == 1 and table.loc[table["apex"], "position"].item() == spot.apex_idx
        assert table["motion_px"].iloc[0] == 0 and table["motion_px"].max() > 0.1


def test_manifest_apex_spot_records_spotted_on_smic(smic_tree, tmp_path, capsys):
    root, truth = smic_tree
    out = tmp_path / "smic.csv"
    assert main(["manifest", "smic-hs", "--root", str(root), "--apex", "spot", "--out", str(out)]) == 0
    assert "apex spotted for 2 of 2 clip(s)" in capsys.readouterr().out
    df = pd.read_csv(out).set_index("clip")
    for clip, apex in truth.items():
        assert df.loc[clip, "apex_source"] == "spotted"
        assert abs(int(df.loc[clip, "apex_idx"]) - apex) <= 1
        assert df.loc[clip, "apex"] == 42219 + int(df.loc[clip, "apex_idx"])
        n = len(df.loc[clip, "frame_files"].split("|"))
        assert abs((n - 1) // 2 - apex) > 2  # the middle-frame rule would have missed it
    plain = tmp_path / "plain.csv"
    assert main(["manifest", "smic-hs", "--root", str(root), "--out", str(plain)]) == 0
    assert set(pd.read_csv(plain)["apex_source"]) == {"middle"}


def test_a_clip_without_motion_keeps_its_middle_apex_with_a_warning(tmp_path, caplog):
    write_smic(tmp_path, clips=(("s1", "negative", "s1_ne_01", 5),), variants=("HS",))  # flat 8x8 grey frames
    rows = load_manifest("smic-hs", tmp_path)
    with pytest.raises(NoMotionError, match="s1_ne_01: no motion"):
        spot_apex(rows.iloc[0])
    with caplog.at_level(logging.WARNING, logger="mer_keras"):
        out = spot_apexes(rows)
    assert out.loc[0, "apex_source"] == "middle" and out.loc[0, "apex_idx"] == rows.loc[0, "apex_idx"]
    assert "s1_ne_01: no motion" in caplog.text and "apex stays frame" in caplog.text


def test_annotated_apexes_are_kept_unless_all_are_asked_for(corpus):
    moved = corpus.copy()
    moved["apex_idx"] = moved["onset_idx"] + 1  # a wrong annotation: only replace="all" re-spots it
    moved["apex"] = moved["onset"] + 1
    assert spot_apexes(moved).equals(moved)
    again = spot_apexes(moved.iloc[:1], replace="all")
    assert again.loc[0, "apex_source"] == "spotted"
    assert abs(int(again.loc[0, "apex_idx"]) - int(corpus.loc[0, "apex_idx"])) <= 1


def test_spot_config_is_checked_when_made():
    for bad in ({"smooth": 2}, {"smooth": 0}, {"masks": ("eyes", "mouth")}, {"size": 8}, {"on_no_face": "previous"},
                {"flow_method": "dis"}, {"min_motion": -1}):
        with pytest.raises(ConfigError, match=next(iter(bad)) if next(iter(bad)) != "masks" else "mouth"):
            SpotConfig(**bad)
    assert SpotConfig(masks="eyes,static").masks == ("eyes", "static")
    with pytest.raises(ConfigError, match="replace"):
        spot_apexes(pd.DataFrame({"apex_source": []}), replace="some")


def test_binomial_smoothing_keeps_the_mean_and_a_centred_peak():
    curve = np.array([0, 0, 1, 4, 1, 0, 0], float)
    smoothed = binomial_smooth(curve, 3)
    np.testing.assert_allclose(smoothed, [0, 0.25, 1.5, 2.5, 1.5, 0.25, 0])
    assert smoothed.argmax() == 3 and binomial_smooth(curve, 1).tolist() == curve.tolist()
    assert binomial_smooth(curve, 5).sum() == pytest.approx(curve.sum())
