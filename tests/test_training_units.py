"""Experiment configs, balanced batches and the SVM head's subject-grouped search."""
import numpy as np
import pytest

from mer_keras.training.commands import parse_overrides
from mer_keras.training.config import list_experiments, load_experiment, variant_config


def test_every_experiment_config_resolves():
    names = list_experiments()
    assert {"liu2022_shufflenet", "liu2022_shufflenet_ablation", "liu2022_mobilevit"} <= set(names)
    for name in names:
        for synthme in (False, True):
            cfg = load_experiment(name, synthme=synthme)
            for v in cfg["variants"]:
                vc = variant_config(cfg, v)
                assert vc["pretrain"]["kind"] in {"flow", "macro", "none"}
                assert vc["head"]["kind"] in {"svm", "softmax"}
                assert vc["leaky"] is False  # no shipped experiment uses a leaky option by default


def test_paper_values_at_top_level_and_synthme_reductions_apart():
    paper = load_experiment("liu2022_shufflenet")
    synth = load_experiment("liu2022_shufflenet", synthme=True)
    assert paper["preprocess"]["size"] == 224 and paper["finetune"]["learning_rate"] == 0.001
    assert synth["preprocess"]["size"] < 224
    assert synth["synthme_reductions"] and not paper["synthme_reductions"]
    mv = load_experiment("liu2022_mobilevit")
    assert (mv["finetune"]["learning_rate"], mv["finetune"]["batch_size"], mv["finetune"]["l2"]) == (0.007, 64, 0.2)
    assert (mv["pretrain"]["optimizer"], mv["pretrain"]["momentum"], mv["pretrain"]["learning_rate"]) == ("sgd", 0.9, 0.01)


def test_ablation_inherits_base_and_variants_override():
    cfg = load_experiment("liu2022_shufflenet_ablation")
    by_name = {v["name"]: variant_config(cfg, v) for v in cfg["variants"]}
    assert by_name["shufflenet_ghost_vit"]["pretrain"]["kind"] == "flow"
    assert by_name["shufflenet_ghost_vit_no_pretrain"]["pretrain"]["kind"] == "none"
    assert by_name["shufflenet_ghost_vit_softmax"]["head"]["kind"] == "softmax"
    assert by_name["shufflenet_cbam"]["model"] == "shufflenet_v2_cbam"
    assert cfg["preprocess"]["representation"] == "flow"


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="liu2022_shufflenet"):
        load_experiment("no_such_paper")


def test_overrides_parse_json_values():
    assert parse_overrides(["finetune.epochs=3", "head.kind=softmax", "preprocess.masks=[\"eyes\"]"]) == {
        "finetune": {"epochs": 3}, "head": {"kind": "softmax"}, "preprocess": {"masks": ["eyes"]}}
    with pytest.raises(SystemExit):
        parse_overrides(["epochs"])


def test_balanced_batches_equalise_classes_per_epoch():
    from mer_keras.training.fit import BalancedBatches

    y = np.array([0] * 30 + [1] * 6 + [2] * 3)
    x = np.zeros((len(y), 2, 2, 1), "float32")
    b = BalancedBatches(x, y, batch_size=16, num_classes=3, seed=0)
    counts = np.bincount(y[b.order], minlength=3)
    assert len(b.order) % 16 == 0 and min(counts) >= 30 and max(counts) - min(counts) <= 16
    assert set(np.flatnonzero(y == 2)) <= set(b.order)  # every minority sample is used
    xb, yb = b.batch(0)
    assert xb.shape == (16, 2, 2, 1) and yb.shape == (16, 3)


def test_svm_head_grid_search_splits_by_subject(monkeypatch):
    """Every inner split must keep whole subjects apart: the grid search never scores on a seen subject."""
    from sklearn.model_selection import GroupKFold

    from mer_keras.training import svm_head

    seen = []
    original = GroupKFold.split

    def spy(self, X, y=None, groups=None):
        for tr, te in original(self, X, y, groups):
            seen.append((set(groups[tr]), set(groups[te])))
            yield tr, te

    monkeypatch.setattr(GroupKFold, "split", spy)
    rng = np.random.default_rng(0)
    groups = np.repeat([f"s{i}" for i in range(6)], 10)
    y = np.tile(np.arange(3), 20)
    x = rng.normal(size=(60, 5)) + 3 * y[:, None]
    head = svm_head.fit_svm_head(x, y, groups, C=(0.1, 1.0), inner_splits=3)
    assert seen and all(not (a & b) for a, b in seen)
    assert head.best_params_["searched"] is True
    assert (head.predict(x) == y).mean() > 0.8


def test_run_variant_hands_each_fold_only_its_training_subjects(tmp_path, monkeypatch):
    """The indexing between the manifest and the fold arrays: the held-out subject is never in training."""
    import pandas as pd

    import mer_keras.training.fold as fold_module
    from mer_keras.training.fold import FoldResult
    from mer_keras.training.reproduce import run_variant

    subjects = np.repeat(["t/a", "t/b", "t/c"], [3, 4, 5])
    micro = pd.DataFrame({"dataset": "t", "subject": subjects, "clip": [f"c{i}" for i in range(12)],
                          "label": np.arange(12) % 3})
    x = np.arange(12, dtype="float32").reshape(12, 1, 1, 1)
    x_pre = -x
    seen = []

    def fake_fold(vcfg, data, **kwargs):
        held_out = set(micro["subject"]) - set(data.groups_train)
        assert len(held_out) == 1
        (subject,) = held_out
        rows = micro["subject"] == subject
        np.testing.assert_array_equal(data.x_test[:, 0, 0, 0], x[rows.to_numpy(), 0, 0, 0])
        np.testing.assert_array_equal(data.x_pre_train, -data.x_train)  # the same rows, pre-training input
        assert len(data.x_train) == len(data.groups_train) == 12 - rows.sum()
        seen.append(subject)
        return FoldResult(y_pred=np.zeros(rows.sum(), int), scores=np.zeros((rows.sum(), 3)))

    monkeypatch.setattr(fold_module, "run_fold", fake_fold)
    cfg = load_experiment("liu2022_shufflenet")
    cfg["classes"] = ["negative", "positive", "surprise"]
    vcfg = variant_config(cfg, cfg["variants"][0])
    preds = run_variant(cfg, vcfg, micro, x, x_pre, tmp_path, seed=0, progress=False)
    assert sorted(seen) == ["t/a", "t/b", "t/c"] and len(preds) == 12


def test_mirroring_flow_inputs_mirrors_their_vectors():
    from mer_keras.training.fold import array_kind

    assert array_kind("flow") == array_kind("flow_stack") == "flow"
    assert array_kind("flow_hsv") == "flow_hsv"
    assert array_kind("apex") == array_kind("ars") == array_kind("frame_stack") == "image"
