"""Papers 001-004 as written (issue 24): paper 001's CASME II classes and protocol note, paper 002's transfer
across class sets, paper 003's BatchNormalization momentum and local ImageNet weights, paper 004's pixel jitter
reading. The end-to-end transfer run is in ``test_paper_fidelity_transfer.py``; the check that every TOML value
not the paper's is named in ``deviations`` is in ``test_paper_fidelity_deviations.py``."""
import re

import numpy as np
import pandas as pd
import pytest

from mer_keras.errors import ConfigError, InputError
from mer_keras.training.config import (
    NetworkConfig,
    PreprocessConfig,
    PretrainConfig,
    load_experiment,
)

# ---------------------------------------------------------------------------------------------- paper 001


def test_jin2024_casme2_protocol_merges_repression_and_others_into_other():
    from mer_keras.datasets.labels import PROTOCOL_MAPPERS, classes_for

    classes = classes_for("casme2-4class-jin2024")
    assert classes == ("negative", "positive", "surprise", "other")
    name = {e: (None if (i := PROTOCOL_MAPPERS["casme2-4class-jin2024"](e)) is None else classes[i])
            for e in ("disgust", "happiness", "surprise", "repression", "others", "fear", "sadness")}
    assert name == {"disgust": "negative", "happiness": "positive", "surprise": "surprise", "repression": "other",
                    "others": "other", "fear": None, "sadness": None}


def test_jin2024_experiment_uses_the_paper_s_casme2_classes_on_real_data_and_synthme():
    exp = load_experiment("jin2024_msresnet3d")
    assert exp.protocol == "casme2-4class-jin2024"
    assert load_experiment("jin2024_msresnet3d", synthme=True).synthme.protocol == "casme2-4class-jin2024"
    assert load_experiment("zhao2021_cropnet", synthme=True).synthme.protocol == "three-class"  # others unchanged


def test_casme2_fixture_read_under_the_jin2024_protocol_and_its_counts_beside_the_paper_s(tmp_path, capsys):
    from mer_keras.cli import main
    from tests.fixtures.native_layouts import write_casme2

    write_casme2(tmp_path / "c")
    assert main(["manifest", "casme2", "--root", str(tmp_path / "c"), "--protocol", "casme2-4class-jin2024",
                 "--out", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    df = pd.read_csv(tmp_path / "m.csv")
    # fixture: happiness, disgust x2, repression, others, surprise -> other = repression + others
    assert df["class_name"].value_counts().to_dict() == {"negative": 2, "other": 2, "positive": 1, "surprise": 1}
    assert "beside paper 001" in out and "246" in out and "126 ( 51.2 %)" in out
    assert "2 ( 33.3 %)" in out  # the fixture's own share of 'other', printed beside the paper's


def test_counts_beside_published_on_the_paper_s_own_counts():
    from mer_keras.evaluation.protocols import counts_beside_published

    rows = [("negative", 63), ("positive", 32), ("surprise", 25), ("other", 126)]
    df = pd.DataFrame([{"dataset": "casme2", "class_name": c, "protocol": "casme2-4class-jin2024"}
                       for c, n in rows for _ in range(n)])
    text = counts_beside_published(df)
    assert "126 ( 51.2 %)   126 ( 51.2 %)" in text and re.search(r"^total\s+246\s+246$", text, re.MULTILINE)
    assert counts_beside_published(df.assign(protocol="casme2-5class")) is None  # no paper prints those


def test_jin2024_table1_rows_are_marked_not_comparable_per_sample_protocol():
    from mer_keras.evaluation.published import published_rows
    from mer_keras.evaluation.report import _published_rows

    rows = published_rows("jin2024_msresnet3d")
    assert len(rows) and all(n.startswith("not comparable: the paper's protocol is per-sample") for n in rows["note"])
    shown = _published_rows(["jin2024_msresnet3d"], {"casme2"})
    assert shown and all("not comparable: the paper's protocol is per-sample" in r["note"] for r in shown)
    deviations = " ".join(load_experiment("jin2024_msresnet3d").deviations)
    assert "Eq. 4.5" in deviations and "leave-one-subject-out" in deviations


# ---------------------------------------------------------------------------------------------- paper 002


def _manifest(protocol, classes, subjects):
    return pd.DataFrame([{"dataset": "d", "subject": s, "clip": f"{s}_{i}", "label": i, "class_name": c,
                          "protocol": protocol} for s in subjects for i, c in enumerate(classes)])


def test_a_head_that_moves_still_refuses_other_macro_classes(tmp_path):
    import dataclasses

    from mer_keras.datasets.labels import CASME2_5CLASSES, THREE_CLASSES
    from mer_keras.training.reproduce import macro_pretrain

    v = load_experiment("hao2024_lam").variants[0]
    assert v.pretrain.transfer == "backbone"
    macro = _manifest("three-class", THREE_CLASSES, ["a", "b"])
    everything = dataclasses.replace(v, pretrain=dataclasses.replace(v.pretrain, transfer="all"))
    with pytest.raises(InputError, match="differ from the micro classes"):
        macro_pretrain(everything, macro, tmp_path, tmp_path, 0, list(CASME2_5CLASSES))


def test_hao2024_text_names_its_recipe_s_values():
    exp = load_experiment("hao2024_lam")
    v = exp.variants[0]
    text = " ".join(exp.deviations)
    assert "borrowed from paper 004" not in text
    for phrase in (f"{v.pretrain.epochs} epochs", f"batch {v.pretrain.batch_size}", "momentum 0.9",
                   f"learning rate {v.pretrain.learning_rate}", "Adam 5e-4", f"batch {v.finetune.batch_size}",
                   f"{v.finetune.epochs} epochs"):
        assert phrase in text, phrase
    assert (v.pretrain.epochs, v.finetune.learning_rate) == (30, 0.0005)  # the values the text describes


# ---------------------------------------------------------------------------------------------- paper 003


def _bn_momenta(net):
    import keras

    return {round(float(layer.momentum), 4) for layer in net._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_the_network_s_own_batchnorm_momentum_wins_unless_the_experiment_sets_one():
    from mer_keras.training.networks import build_network

    assert _bn_momenta(build_network("rexnet", (32, 32, 3), 3, NetworkConfig(width=0.5))) == {0.9}  # ReXNet's
    assert _bn_momenta(build_network("rexnet", (32, 32, 3), 3, NetworkConfig(width=0.5, bn_momentum=0.99))) == {0.99}
    assert _bn_momenta(build_network("resnet18", (32, 32, 3), 3, NetworkConfig())) == {0.99}  # Keras' own


def test_experiments_that_relied_on_the_old_reset_keep_their_momentum_and_initial_weights():
    from mer_keras.training.networks import network_key

    for name in ("liu2022_shufflenet", "liu2022_mobilevit"):  # builders' own is 0.9: the TOMLs say Keras' 0.99
        assert {v.network.bn_momentum for v in load_experiment(name).variants} == {0.99}
    assert load_experiment("zhao2021_cropnet").variants[0].network.bn_momentum is None  # ReXNet's own 0.9
    # initial weights are keyed as before the setting's default changed (and before init_weights existed)
    old = "NetworkConfig(activation=None, leaky_slope=0.1, dropout=0.5, l2=0.0, bn_momentum=0.99, width=None)"
    assert network_key(NetworkConfig()) == network_key(NetworkConfig(bn_momentum=0.99)) == old
    assert network_key(NetworkConfig(init_weights="w.h5")) != old


def test_init_weights_loads_a_local_file_into_the_backbone_and_leaves_the_new_head_seeded(tmp_path):
    from mer_keras.training.networks import build_network, fresh_model

    source = build_network("ststnet", (28, 28, 3), 5, NetworkConfig())
    path = tmp_path / "imagenet_like.weights.h5"
    source.save_weights(str(path))
    exp = load_experiment("zhao2021_cropnet", overrides={"network": {"init_weights": str(path)}})
    assert exp.variants[0].network.init_weights == str(path)  # --set network.init_weights=PATH
    net = fresh_model("ststnet", (28, 28, 3), 3, NetworkConfig(init_weights=str(path)), seed=0)
    plain = fresh_model("ststnet", (28, 28, 3), 3, NetworkConfig(), seed=0)
    loaded = [layer.name for layer in source.layers if layer.weights and layer.name != "predictions"]
    assert loaded
    for name in loaded:
        for a, b in zip(net.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert net.get_layer("predictions").get_weights()[0].shape[-1] == 3  # a fresh 3-class head
    assert not all(np.array_equal(a, b) for a, b in zip(net.get_weights(), plain.get_weights()))
    with pytest.raises(ConfigError, match="init_weights.*no such file"):
        fresh_model("ststnet", (28, 28, 3), 3, NetworkConfig(init_weights=str(tmp_path / "missing.h5")), seed=0)


def test_zhao2021_lists_class_balancing_and_documents_init_weights():
    from pathlib import Path

    exp = load_experiment("zhao2021_cropnet")
    assert exp.variants[0].finetune.balanced
    assert any("finetune.balanced" in d and "does not mention" in d for d in exp.deviations)
    assert any("network.init_weights" in d for d in exp.deviations)
    page = (Path(__file__).resolve().parents[1] / "docs" / "experiments" / "zhao2021_cropnet.md").read_text()
    assert "network.init_weights=" in page


# ---------------------------------------------------------------------------------------------- paper 004


def test_pixel_jitter_shift_or_intensity_reading():
    from mer_keras.training.stages import jitter

    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (6, 16, 16, 1)).astype("float32")
    moved = jitter(5, 1.0, 0.0, "image", pixel="intensity")(x, np.random.default_rng(1))
    for a, b in zip(x, moved):
        delta = b - a
        assert np.ptp(delta[(b > a.min()) & (b < a.max())]) < 1e-6  # one offset per image ...
        assert 0 < abs(float(np.median(delta))) <= 5 / 255 + 1e-6  # ... of at most 5 grey levels
        assert b.min() >= a.min() - 1e-7 and b.max() <= a.max() + 1e-7  # clipped to the image's range (Keras')
    shifted = jitter(5, 1.0, 0.0, "image", pixel="shift")(x, np.random.default_rng(1))
    assert any((s == 0).any() for s in shifted)  # positions move, the uncovered border is 0
    with pytest.raises(ConfigError, match="grey levels"):
        jitter(5, 1.0, 0.0, "flow", pixel="intensity")


def test_the_pretrain_section_s_reading_reaches_the_training_loop(monkeypatch):
    from mer_keras.training import stages

    seen = {}
    monkeypatch.setattr(stages, "train_classifier", lambda *a, **k: seen.update(k) or {})
    data = stages.TrainSet(np.full((2, 8, 8, 1), 0.5, "float32"), np.array([0, 1]), np.array(["a", "b"]), 2)
    x = np.linspace(0.1, 0.9, 64, dtype="float32").reshape(1, 8, 8, 1)
    section = PretrainConfig(max_shift=20, p_shift=1.0, pixel_jitter="intensity")
    stages.train(None, data, section, seed=0, kind="image")
    out = seen["augment"](x, np.random.default_rng(0))
    assert (out[0, 0, 0] != 0).all() and not np.array_equal(out, x)  # grey levels moved, nothing shifted in
    assert PretrainConfig().pixel_jitter == "shift"
    assert load_experiment("liu2022_mobilevit").variants[0].pretrain.pixel_jitter == "shift"


def test_liu2022_mobilevit_names_its_own_choices():
    text = " ".join(load_experiment("liu2022_mobilevit").deviations)
    assert "30 fine-tuning epochs" in text and "finetune.unfreeze_every" in text
    assert "weight decay" in text and "0.01" in text and "L2 0.2" in text
    assert "pixel_jitter = 'intensity'" in text


# ---------------------------------------------------------------------------------------------- paper 001, order


@pytest.mark.parametrize("order, magnified_lengths", [("keyframes_first", [3]), ("clip_first", [5])])
def test_evm_magnifies_the_picked_key_frames_first_by_default(tmp_path, monkeypatch, order, magnified_lengths):
    """Paper 001 picks the key frames (step 3), then magnifies them (step 4); the old order stays a setting."""
    from mer_keras.datasets import load_manifest
    from mer_keras.preprocessing import representations as reps
    from tests.fixtures.native_layouts import CASME2_CLIPS, write_casme2

    write_casme2(tmp_path, clips=[c for c in CASME2_CLIPS if c["clip"] == "EP19_05f"])  # frames 10..14
    row = load_manifest("casme2", tmp_path, protocol="casme2-4class-jin2024").iloc[0]
    calls = []
    real = reps.magnify
    monkeypatch.setattr(reps, "magnify", lambda video, fps, *a: calls.append((len(video), fps)) or real(video, fps, *a))
    params = {"size": 16, "n_frames": 3, "on_no_face": "center", "evm_order": order}
    stack, _ = reps.compute(row, "evm_stack", reps.normalize_params("evm_stack", params))
    assert stack.shape[0] == 3 and [n for n, _ in calls] == magnified_lengths
    if order == "keyframes_first":  # three picks over five frames: half the frame rate
        assert calls[0][1] == pytest.approx(float(row["fps"]) / 2)
    assert PreprocessConfig().evm_order == "keyframes_first"
    assert load_experiment("jin2024_msresnet3d").variants[0].preprocess.evm_order == "keyframes_first"


def test_an_export_trained_from_init_weights_builds_without_the_file():
    from mer_keras.training.networks import build_exported

    config = {"model": "ststnet", "input_shape": [28, 28, 3], "classes": ["a", "b", "c"],
              "network": {"init_weights": "/nowhere/imagenet.weights.h5"}}
    assert build_exported(config).output_shape[-1] == 3
