"""`predict` over many clips: one model load, the export's own head, named errors before any preprocessing."""
import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

import mer_keras.training.predict as predict_module
from mer_keras.cli import main
from mer_keras.datasets import load_manifest, synthme, write_manifest
from mer_keras.errors import InputError
from mer_keras.models import embedding_model
from mer_keras.training import networks
from mer_keras.training.networks import build_exported
from mer_keras.training.predict import check_motion, load_export, predict, predict_clip

CONFIG = {"model": "shufflenet_v2", "classes": ["negative", "positive", "surprise"], "head": "svm",
          "preprocess": {"representation": "flow", "size": 32, "flow_method": "farneback"},
          "input_shape": [32, 32, 3], "network": {}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = synthme.generate(tmp_path_factory.mktemp("synthme"), subjects=2, clips_per_subject=2, seed=0, size=128,
                            progress=False)
    manifest = load_manifest("synthme", root, protocol="three-class")
    path = write_manifest(manifest, root.parent / "clips.csv")
    return manifest, path


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """An export as `reproduce --export` lays it out: weights, config.json, an SVM head beside them."""
    out = tmp_path_factory.mktemp("export")
    model = build_exported(CONFIG)
    model.save_weights(str(out / "model.weights.h5"))
    (out / "config.json").write_text(json.dumps(CONFIG))
    feats = np.asarray(embedding_model(model).predict(
        np.random.default_rng(0).normal(size=(12, 32, 32, 3)).astype("float32"), verbose=0))
    joblib.dump(LinearSVC().fit(feats, np.arange(12) % 3), out / "head.joblib")
    return out


def test_manifest_predictions_equal_single_clip_predictions_and_the_model_loads_once(corpus, export, tmp_path,
                                                                                      monkeypatch):
    manifest, path = corpus
    builds = []
    real = networks.build_exported
    monkeypatch.setattr(networks, "build_exported", lambda cfg: builds.append(1) or real(cfg))
    res = predict(path, export / "model.weights.h5", out=tmp_path / "pred.csv", cache=tmp_path / "cache")
    assert len(builds) == 1
    written = pd.read_csv(tmp_path / "pred.csv")
    assert len(written) == len(manifest) == 4
    assert (written["model_loads"] == 1).all() and written["load_s"].nunique() == 1
    for col in ("score_negative", "score_positive", "score_surprise", "preprocess_s", "network_s", "head_s",
                "apex_source"):
        assert col in written
    assert (written["head"] == "svm").all()  # the export's own head by default, not the softmax
    for i, row in manifest.iloc[[0, 3]].iterrows():  # each alone, prepared afresh
        one = predict_clip(row["frames_dir"], export / "model.weights.h5", onset=int(row["onset_idx"]),
                           apex=int(row["apex_idx"]))
        assert one["predicted"] == res.loc[i, "predicted"]
        assert one["apex_source"] == "annotated"
        np.testing.assert_allclose(one["decision_values"],
                                   res.loc[i, ["score_negative", "score_positive", "score_surprise"]].astype(float),
                                   rtol=1e-4, atol=1e-5)
    soft = predict(path, export / "model.weights.h5", softmax=True, cache=tmp_path / "cache")
    assert (soft["head"] == "softmax").all()
    np.testing.assert_allclose(soft[["score_negative", "score_positive", "score_surprise"]].sum(axis=1), 1, rtol=1e-5)


def test_missing_weights_are_reported_before_any_preprocessing(corpus, export, tmp_path, monkeypatch, capsys):
    _, path = corpus
    monkeypatch.setattr(predict_module, "clips_manifest", lambda *a, **k: pytest.fail("preprocessing started"))
    with pytest.raises(InputError, match="nope.weights.h5: weights file does not exist"):
        predict(path, tmp_path / "nope.weights.h5")
    assert main(["predict", str(path), "--weights", str(tmp_path / "nope.weights.h5")]) == 2
    err = capsys.readouterr().err
    assert "nope.weights.h5" in err and "Traceback" not in err


def test_pretraining_file_and_other_architecture_are_refused_by_name(export, tmp_path):
    pre = tmp_path / "pretrain.weights.h5"
    pre.write_bytes((export / "model.weights.h5").read_bytes())
    with pytest.raises(InputError, match="pre-training checkpoint"):
        load_export(pre)
    other = tmp_path / "other"
    other.mkdir()
    build_exported({**CONFIG, "model": "shufflenet_v2_cbam"}).save_weights(str(other / "model.weights.h5"))
    (other / "config.json").write_text(json.dumps(CONFIG))
    with pytest.raises(InputError, match=r"model.weights.h5: these weights do not fit shufflenet_v2"):
        load_export(other / "model.weights.h5")


def test_a_head_from_another_export_is_named(export, tmp_path):
    wrong = tmp_path / "head72.joblib"
    joblib.dump(LinearSVC().fit(np.random.default_rng(1).normal(size=(146, 4)), np.arange(146) % 73), wrong)  # 73 classes
    with pytest.raises(InputError, match="head72.joblib"):
        load_export(export / "model.weights.h5", head=wrong)
    junk = tmp_path / "junk.joblib"
    junk.write_text("not a head")
    with pytest.raises(InputError, match="junk.joblib: cannot be read"):
        load_export(export / "model.weights.h5", head=junk)


def test_a_clip_with_onset_equal_to_apex_is_refused_unless_allowed(corpus, export, tmp_path):
    manifest, _ = corpus
    two = manifest.iloc[:1].copy()
    two["apex_idx"] = two["onset_idx"]
    with pytest.raises(InputError, match="onset = apex"):
        predict(two, export / "model.weights.h5")
    check_motion(two, allow_zero_motion=True)  # told otherwise: predict's own check lets it through
