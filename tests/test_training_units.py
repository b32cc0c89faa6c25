"""Typed experiment configs, balanced batches, the SVM head estimator and the runner's fold indexing."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_keras.errors import ConfigError
from mer_keras.training.config import (
    PreprocessConfig,
    list_experiments,
    load_experiment,
    parse_overrides,
    reference_markdown,
)


def test_every_experiment_config_resolves():
    """Every shipped variant resolves, and its builder takes every network setting it inherits (a baseline
    inheriting the paper's LeakyReLU from a model whose builder has no activation argument stops here)."""
    from mer_keras.training.networks import builder_kwargs

    names = list_experiments()
    assert {"liu2022_shufflenet", "liu2022_shufflenet_ablation", "liu2022_mobilevit"} <= set(names)
    for name in names:
        for synthme in (False, True):
            exp = load_experiment(name, synthme=synthme)
            for v in exp.variants:
                assert v.pretrain.kind in {"flow", "macro", "none"}
                assert v.head.kind in {"svm", "softmax"}
                assert v.leaky is False  # no shipped experiment uses a leaky option by default
                builder_kwargs(v.model, v.network)
    paper_000 = load_experiment("liu2022_shufflenet_ablation").variants
    assert {v.network.activation for v in paper_000} == {"leaky_relu"}


def test_paper_values_at_top_level_and_synthme_reductions_apart():
    paper = load_experiment("liu2022_shufflenet")
    synth = load_experiment("liu2022_shufflenet", synthme=True)
    v = paper.variants[0]
    assert v.preprocess.size == 224 and v.finetune.learning_rate == 0.001
    assert v.preprocess.representation == "apex" and v.pretrain_input().representation == "flow"
    assert v.network.activation == "leaky_relu" and v.network.dropout == 0.5
    assert v.pretrain.transfer == "backbone" and v.pretrain.checkpoint == "best_inner_val"
    assert synth.variants[0].preprocess.size < 224
    assert synth.synthme_reductions and not paper.synthme_reductions
    mv = load_experiment("liu2022_mobilevit").variants[0]
    assert (mv.finetune.learning_rate, mv.finetune.batch_size, mv.network.l2) == (0.007, 64, 0.2)
    assert (mv.pretrain.optimizer, mv.pretrain.momentum, mv.pretrain.learning_rate) == ("sgd", 0.9, 0.01)
    assert (mv.pretrain.max_shift, mv.pretrain.p_shift) == (20, 0.3)


def test_ablation_inherits_base_and_variants_override():
    exp = load_experiment("liu2022_shufflenet_ablation")
    assert exp.variant("shufflenet_ghost_vit").pretrain.kind == "flow"
    assert exp.variant("shufflenet_plain_no_pretrain").pretrain.kind == "none"
    assert exp.variant("shufflenet_plain_softmax").head.kind == "softmax"
    assert exp.variant("shufflenet_cbam").model == "shufflenet_v2_cbam"
    assert exp.variants[0].preprocess.representation == "apex"


@pytest.mark.parametrize("overrides, match", [
    ({"finetune": {"epoch": 3}}, r"'epoch' \(did you mean 'epochs'\?\)"),
    ({"fintune": {"epochs": 3}}, r"'fintune' \(did you mean 'finetune'\?\)"),
    ({"finetune": {"epochs": "abc"}}, r"finetune.epochs: got 'abc'; expected an integer"),
    ({"finetune": {"learning_rate": -1}}, r"finetune.learning_rate: got -1"),
    ({"head": {"kind": "svn"}}, r"did you mean 'svm'"),
    ({"pretrain": {"kind": "imagenet"}}, r"pretrain.kind: got 'imagenet'"),
    ({"preprocess": {"masks": "eyes"}}, None),  # a comma list from the command line is one mask, accepted
    ({"preprocess": {"masks": "eyes,nose"}}, r"got 'nose'; expected one of 'eyes', 'static'"),
])
def test_a_wrong_setting_stops_with_its_name_and_what_is_allowed(overrides, match):
    if match is None:
        exp = load_experiment("liu2022_shufflenet", overrides=overrides)
        assert exp.variants[0].preprocess.masks == ("eyes",)
        return
    with pytest.raises(ConfigError, match=match):
        load_experiment("liu2022_shufflenet", overrides=overrides)


def test_unknown_experiment_variant_and_model_name_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="liu2022_shufflenet"):
        load_experiment("liu2022_shufflenet_typo")
    with pytest.raises(ConfigError, match="unknown variant 'ghost'.*shufflenet_ghost_vit"):
        load_experiment("liu2022_shufflenet").select(["ghost"])
    own = tmp_path / "mine.toml"
    own.write_text('name = "mine"\n[[variants]]\nname = "a"\nmodel = "shufflenet_v3"\n')
    with pytest.raises(ConfigError, match="unknown model 'shufflenet_v3'.*did you mean 'shufflenet_v2'"):
        load_experiment(str(own))
    own.write_text('name = "mine"\n[[variants]]\nname = "a"\nmodel = "shufflenet_v2"\n')
    assert load_experiment(str(own)).variants[0].model == "shufflenet_v2"  # a user's own TOML works


def test_overrides_parse_json_values():
    assert parse_overrides(["finetune.epochs=3", "head.kind=softmax", "preprocess.masks=[\"eyes\"]"]) == {
        "finetune": {"epochs": 3}, "head": {"kind": "softmax"}, "preprocess": {"masks": ["eyes"]}}
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        parse_overrides(["epochs"])


def test_config_reference_lists_every_field_and_is_the_docs_page_s():
    from dataclasses import fields
    from pathlib import Path

    ref = reference_markdown()
    for f in fields(PreprocessConfig):
        assert f"| `{f.name}` |" in ref
    page = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert ref.strip() in page.read_text(), "docs/configuration.md's reference is stale: paste " \
                                            "`mer-keras experiments --reference` into it"


def test_representations_listed_in_the_config_are_the_preprocessing_s():
    from mer_keras.preprocessing.representations import REPRESENTATIONS
    from mer_keras.training.config import REPRESENTATIONS as CONFIG_REPRESENTATIONS

    assert set(CONFIG_REPRESENTATIONS) == set(REPRESENTATIONS)


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


def test_unbalanced_batches_by_class_with_a_short_last_batch():
    """STSTNet's release: a DataLoader without shuffle over class folders, the last batch kept short."""
    from mer_keras.training.fit import BalancedBatches

    y = np.array([2, 0, 1, 0, 2, 1, 0])
    x = np.arange(len(y), dtype="float32").reshape(-1, 1, 1, 1)
    b = BalancedBatches(x, y, batch_size=3, num_classes=3, balanced=False, order="by_class", last_batch="partial")
    assert b.order.tolist() == [1, 3, 6, 2, 5, 0, 4] and len(b) == 3
    assert b.batch(2)[0].shape == (1, 1, 1, 1)
    b.new_epoch()
    assert b.order.tolist() == [1, 3, 6, 2, 5, 0, 4]  # the same order every epoch
    filled = BalancedBatches(x, y, batch_size=3, num_classes=3, balanced=False)
    assert len(filled.order) == 9 and sorted(set(filled.order)) == list(range(7))
    with pytest.raises(ValueError, match="balanced"):
        BalancedBatches(x, y, batch_size=3, num_classes=3, balanced=True, order="by_class")


@pytest.mark.parametrize("outputs", [1, 2])
def test_a_ready_model_creates_no_variable_in_its_first_training_step(outputs):
    """A variable created inside the first traced step makes TensorFlow trace the step twice (6 s more per
    network on a 2-core CPU): ``ready_to_train`` creates the optimizer, loss and metric state before."""
    import keras
    import tensorflow as tf

    from mer_keras.training.fit import ready_to_train

    inputs = keras.Input((4,))
    heads = [keras.layers.Dense(3, activation="softmax", name=f"out{i}")(inputs) for i in range(outputs)]
    model = ready_to_train(keras.Model(inputs, heads if outputs > 1 else heads[0]))
    created = []

    def record(next_creator, **kwargs):
        created.append(kwargs.get("name"))
        return next_creator(**kwargs)

    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    with tf.variable_creator_scope(record):
        model.train_on_batch(np.ones((4, 4), "float32"), [y] * outputs if outputs > 1 else y)
    assert created == []


def test_svm_head_is_an_estimator_whose_grid_search_splits_by_subject(monkeypatch):
    """Every inner split must keep whole subjects apart: the grid search never scores on a seen subject."""
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    from mer_keras.training.svm_head import SVMHead

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
    head = clone(SVMHead(C=(0.1, 1.0), inner_splits=3)).fit(x, y, groups=groups)
    assert seen and all(not (a & b) for a, b in seen)
    assert head.best_params_["searched"] is True
    assert (head.predict(x) == y).mean() > 0.8 and head.decision_function(x).shape == (60, 3)


def test_runner_hands_each_fold_only_its_training_subjects(tmp_path, monkeypatch):
    """The indexing between the manifest and the fold arrays: the held-out subject is never in training."""
    import mer_keras.training.fold as fold_module
    from mer_keras.training import runner
    from mer_keras.training.fold import FoldResult

    subjects = np.repeat(["t/a", "t/b", "t/c"], [3, 4, 5])
    micro = pd.DataFrame({"dataset": "t", "subject": subjects, "clip": [f"c{i}" for i in range(12)],
                          "label": np.arange(12) % 3})
    x = np.arange(12, dtype="float32").reshape(12, 1, 1, 1)
    seen = []

    def fake_fold(variant, data, **kwargs):
        held_out = set(micro["subject"]) - set(data.train.groups)
        assert len(held_out) == 1 and data.held_out_labels is None
        (subject,) = held_out
        rows = (micro["subject"] == subject).to_numpy()
        np.testing.assert_array_equal(data.x_test[:, 0, 0, 0], x[rows, 0, 0, 0])
        np.testing.assert_array_equal(data.pretrain.x, -data.train.x)  # the same rows, pre-training input
        assert len(data.train.x) == len(data.train.groups) == 12 - rows.sum()
        seen.append(subject)
        return FoldResult(y_pred=np.zeros(rows.sum(), int), scores=np.zeros((rows.sum(), 3)))

    monkeypatch.setattr(fold_module, "run_fold", fake_fold)
    variant = load_experiment("liu2022_shufflenet").variants[0]
    inputs = runner.LosoInputs(x=x, y=micro["label"].to_numpy(), groups=subjects, rows=micro, num_classes=3,
                               x_pre=-x)
    preds = runner.run_variant(variant, inputs, tmp_path, seed=0)
    assert sorted(seen) == ["t/a", "t/b", "t/c"] and len(preds) == 12

    # a torn fold file (the last row lost) and a foreign one are refused by name, not pooled
    fold_csv = tmp_path / "folds" / variant.name / "t__b.csv"
    lines = fold_csv.read_text().splitlines()
    fold_csv.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match="t__b.csv is torn"):
        runner.run_variant(variant, inputs, tmp_path, seed=0)
    fold_csv.write_text("\n".join(lines).replace("t/b", "t/z") + "\n")
    with pytest.raises(ValueError, match="t__b.csv"):
        runner.run_variant(variant, inputs, tmp_path, seed=0)


def test_a_crashed_run_never_blocks_its_corrected_rerun(tmp_path, monkeypatch):
    import mer_keras.training.fold as fold_module
    from mer_keras.training import runner
    from mer_keras.training.fold import FoldResult

    micro = pd.DataFrame({"dataset": "t", "subject": np.repeat(["t/a", "t/b"], 3),
                          "clip": [f"c{i}" for i in range(6)], "label": np.arange(6) % 3})
    inputs = runner.LosoInputs(x=np.zeros((6, 1, 1, 1), "float32"), y=micro["label"].to_numpy(),
                               groups=micro["subject"].to_numpy(), rows=micro, num_classes=3)

    def crash(*a, **k):
        raise RuntimeError("out of memory in fold 1")

    monkeypatch.setattr(fold_module, "run_fold", crash)
    variant = load_experiment("liu2022_shufflenet", overrides={"finetune": {"batch_size": 64}}).variants[0]
    with pytest.raises(RuntimeError):
        runner.run_variant(variant, inputs, tmp_path, seed=0)
    assert (tmp_path / "folds" / variant.name / "setup.json").is_file()
    monkeypatch.setattr(fold_module, "run_fold", lambda v, d, **k: FoldResult(
        y_pred=np.zeros(len(d.x_test), int), scores=np.zeros((len(d.x_test), 3))))
    fixed = load_experiment("liu2022_shufflenet", overrides={"finetune": {"batch_size": 8}}).variants[0]
    assert len(runner.run_variant(fixed, inputs, tmp_path, seed=0)) == 6


def test_mirroring_flow_inputs_mirrors_their_vectors():
    from mer_keras.training.stages import array_kind

    assert array_kind("flow") == array_kind("flow_stack") == "flow"
    assert array_kind("flow_hsv") == "flow_hsv"
    assert array_kind("apex") == array_kind("ars") == array_kind("frame_stack") == "image"


def test_megc_composite_clip_set_is_checked_for_comparability():
    from mer_keras.training.data import MEGC2019_COUNTS, protocol_clip_check

    rows = []
    for ds, counts in (("smic-hs", MEGC2019_COUNTS["smic"]), ("casme2", MEGC2019_COUNTS["casme2"]),
                       ("samm", MEGC2019_COUNTS["samm"])):
        for label, n in enumerate(counts):
            rows += [{"dataset": ds, "label": label, "protocol": "megc2019"}] * n
    full = pd.DataFrame(rows)
    assert len(full) == 442 and protocol_clip_check(full, "megc2019") == (True, "")
    ok, why = protocol_clip_check(full.iloc[1:], "megc2019")
    assert not ok and "442" in why
    assert protocol_clip_check(full, "casme2-5class")[0] is False


def test_a_checkout_reads_its_own_experiments_not_an_installed_ones(tmp_path):
    """A copy of the source tree put on PYTHONPATH (beside this venv's editable install of another checkout)
    reads the copy's experiments/: a TOML only the copy has is found, and the folder is the copy's."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    copy = tmp_path / "other_checkout"
    shutil.copytree(root / "mer_keras", copy / "mer_keras", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "experiments", copy / "experiments")
    shutil.copy(root / "setup.py", copy / "setup.py")
    (copy / "experiments" / "only_in_the_copy.toml").write_bytes((root / "experiments" / "merkeras_flow.toml").read_bytes())
    code = ("from mer_keras.training.config import list_experiments, packaged_experiments; "
            "print(packaged_experiments()); print('only_in_the_copy' in list_experiments())")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(copy)}, cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.split()
    assert Path(out[0]).resolve() == (copy / "experiments").resolve() and out[1] == "True"


def test_each_fold_line_reports_the_folds_own_time(tmp_path, monkeypatch, caplog):
    """The progress line gives the fold's stage time, not the time since the previous line (with --jobs 2 two
    folds of 470 s each ended 4 s apart and the second read '3.9s')."""
    import logging

    import mer_keras.training.fold as fold_module
    from mer_keras.training import runner
    from mer_keras.training.fold import FoldResult

    subjects = np.repeat(["t/a", "t/b"], [3, 3])
    micro = pd.DataFrame({"dataset": "t", "subject": subjects, "clip": [f"c{i}" for i in range(6)],
                          "label": np.arange(6) % 3})
    x = np.zeros((6, 1, 1, 1), "float32")

    def fake_fold(variant, data, **kwargs):  # returns at once, having "trained" for 123.4 s
        n = len(data.x_test)
        return FoldResult(y_pred=np.zeros(n, int), scores=np.zeros((n, 3)),
                          timings={"finetune_s": 123.4, "predict_s": 0.2, "predict_ms_per_sample": 50.0})

    monkeypatch.setattr(fold_module, "run_fold", fake_fold)
    variant = load_experiment("liu2022_shufflenet").variants[0]
    inputs = runner.LosoInputs(x=x, y=micro["label"].to_numpy(), groups=subjects, rows=micro, num_classes=3, x_pre=x)
    with caplog.at_level(logging.INFO, logger="mer_keras"):
        runner.run_variant(variant, inputs, tmp_path, seed=0)
    lines = [r.getMessage() for r in caplog.records if "correct," in r.getMessage()]
    assert len(lines) == 2 and all("correct, 123.6s" in line for line in lines)
