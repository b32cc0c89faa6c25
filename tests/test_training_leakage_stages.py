"""Poison coverage of the stages the first leakage tests did not reach (issue 24), one tiny fold each.

For each recipe a fold is trained twice: once clean, once with the held-out subject's frames replaced by noise
and its labels replaced by a trap that raises on any read (``test_training_leakage.HeldOutLabels``: not an
array, so ``np.asarray`` cannot read around it). The trained weights, the head and the outputs on the held-out
subject's *clean* frames must be byte-identical. Recipes: paper 004's macro-expression transfer, then the
fine-tuning checkpoint chosen on the inner split (``best_inner_val``) with paper 003's colour jitter, paper 004's
gradual unfreezing, paper 000's flip balancing and a 2 x 3 SVM grid; paper 001's four-output network with its
output chosen on the inner split (``head.output_rule = "best_inner_val"``; "mean" is read from the same outputs).
Flow pre-training is covered by ``test_training_leakage``.
"""
import dataclasses

import numpy as np

from mer_keras.models.msresnet3d import choose_output
from mer_keras.training.config import load_experiment
from mer_keras.training.embeddings import batched_outputs
from mer_keras.training.fold import FoldData, run_fold
from mer_keras.training.stages import PRETRAIN_STAGES, TrainSet
from tests.test_training_leakage import _trap

SEED = 3


def _fold(shape, poison=False):
    """Four training subjects of 6 clips, a held-out one of 3; class c raises channel c (learnable)."""
    rng = np.random.default_rng(0)

    def make(n, subject):
        y = np.arange(n) % 3
        x = rng.uniform(0.1, 0.6, (n, *shape)).astype("float32")
        x[np.arange(n), ..., y] += 0.3
        return x, y, np.array([subject] * n)

    parts = [make(6, f"t/s{i}") for i in range(4)]
    train = TrainSet(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                     np.concatenate([p[2] for p in parts]), 3)
    x_te, y_te, _ = make(3, "t/held_out")
    if poison:  # other frames, other labels (and class counts), and the labels unreadable
        x_te = np.random.default_rng(99).uniform(0, 1, x_te.shape).astype("float32")
        y_te = _trap(np.zeros_like(y_te))
    return FoldData(train=train, x_test=x_te, pretrain=TrainSet(1 - train.x, train.y, train.groups, 3),
                    held_out_labels=y_te)


def _variant(experiment, model=None, **sections):
    v = load_experiment(experiment).variants[0]
    changes = {name: dataclasses.replace(getattr(v, name), **values) for name, values in sections.items()}
    return dataclasses.replace(v, **({"model": model} if model else {}), **changes)


def _state(res, probe) -> dict:
    """Read right away: the next fold of the same architecture reuses the model object."""
    out = {"weights": [np.array(w, copy=True) for w in res.model.get_weights()], "params": res.head_params,
           "history": res.history, "load_report": res.load_report, "outputs": batched_outputs(res.model, probe)}
    if res.head is not None:
        from mer_keras.models import embedding_model

        out["decisions"] = res.head.decision_function(batched_outputs(embedding_model(res.model), probe))
    return out


def _clean_and_poisoned(variant, shape, **kwargs):
    probe = _fold(shape).x_test
    clean = _state(run_fold(variant, _fold(shape), seed=SEED, **kwargs), probe)
    poisoned = _state(run_fold(variant, _fold(shape, poison=True), seed=SEED, **kwargs), probe)
    return clean, poisoned


def _assert_same(a, b):
    assert len(a["weights"]) == len(b["weights"])
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_array_equal(wa, wb)
    assert a["params"] == b["params"] and a["history"] == b["history"] and a["load_report"] == b["load_report"]
    np.testing.assert_array_equal(a["outputs"], b["outputs"])
    assert ("decisions" in a) == ("decisions" in b)
    if "decisions" in a:
        np.testing.assert_array_equal(a["decisions"], b["decisions"])


def test_macro_transfer_inner_split_checkpoint_colour_jitter_gradual_unfreezing_and_svm_grid(tmp_path):
    """Paper 004's macro-expression transfer (trained once, on other people), then a fold fine-tuned with the
    checkpoint chosen on the inner split, paper 003's colour jitter, gradual unfreezing, flip balancing and a
    2 x 3 SVM grid: nothing of it may read or see the held-out subject."""
    v = _variant("liu2022_mobilevit", model="shufflenet_v2",
                 preprocess={"representation": "apex", "grayscale": False, "masks": ()},
                 pretrain={"kind": "macro", "epochs": 1, "batch_size": 12, "checkpoint": "last",
                           "max_shift": 0, "p_shift": 0.0, "p_flip": 0.0, "transfer": "backbone"},
                 finetune={"epochs": 2, "batch_size": 12, "checkpoint": "best_inner_val", "color_jitter": True,
                           "gradual_unfreezing": True, "balance": "flip", "val_fraction": 0.25,
                           "grid_search": False, "max_shift": 0, "p_flip": 0.0},
                 head={"kind": "svm", "C": (0.1, 1.0, 10.0), "kernels": ("linear", "rbf"), "inner_splits": 2},
                 network={"stage_repeats": (1, 1, 1)})  # shallow: the question is what is read, not depth
    assert not v.leaky
    rng = np.random.default_rng(5)  # the macro corpus: other people, other clips
    macro = TrainSet(rng.uniform(0, 1, (12, 32, 32, 3)).astype("float32"), np.arange(12) % 3,
                     np.repeat(["m/a", "m/b"], 6), 3)
    weights, _ = PRETRAIN_STAGES["macro"].run(v, macro, seed=SEED, weights_path=tmp_path / "macro.weights.h5")
    a, b = _clean_and_poisoned(v, (32, 32, 3), macro_weights=weights)
    assert "layers loaded" in a["load_report"]  # the macro backbone did move into the fold's network
    ft = a["history"]["finetune"]
    assert len(ft["inner_val_uar"]) == 2 and ft["inner_val_subjects"]  # the checkpoint was chosen on the split
    assert a["params"]["searched"] is True
    _assert_same(a, b)


def test_multi_output_network_with_its_output_chosen_on_the_inner_split_never_reads_the_held_out_subject():
    v = _variant("jin2024_msresnet3d",
                 network={"width": 4},
                 finetune={"epochs": 1, "batch_size": 12, "checkpoint": "best_inner_val", "max_shift": 0,
                           "p_flip": 0.0, "learning_rate": 0.001, "val_fraction": 0.25},
                 head={"kind": "softmax", "output_rule": "best_inner_val"})
    assert not v.leaky
    shape = (4, 32, 32, 3)
    a, b = _clean_and_poisoned(v, shape)
    assert a["outputs"].ndim == 3 and a["outputs"].shape[0] == 4  # four outputs, each scored on the inner split
    assert len(a["params"]["inner_val_uar_per_output"]) == 4
    _assert_same(a, b)
    # both rules read from these outputs: the mean, and the output chosen on the inner split
    for rule in ("mean", "best_validation"):
        sa, _ = choose_output(a["outputs"], rule, validation_scores=a["params"]["inner_val_uar_per_output"])
        sb, _ = choose_output(b["outputs"], rule, validation_scores=b["params"]["inner_val_uar_per_output"])
        np.testing.assert_array_equal(sa, sb)


def test_a_network_left_partly_frozen_by_gradual_unfreezing_starts_the_next_stage_wholly_trainable():
    """Found by the first test above: after a fold fine-tuned with gradual unfreezing, the shared model object kept
    its backbone frozen (a functional model's ``trainable = True`` does not reach its layers), so the next fold's
    flow pre-training trained the head alone and the first fold of a process differed from the later ones."""
    from mer_keras.models.freezing import unfreeze_schedule
    from mer_keras.training.networks import NetworkConfig, fresh_model

    net = fresh_model("shufflenet_v2", (32, 32, 3), 3, NetworkConfig(), seed=SEED)
    everything = len(net.trainable_variables)
    unfreeze_schedule(net, epoch=1, every=1, start=1)  # as gradual unfreezing leaves it: one group unfrozen
    assert len(net.trainable_variables) < everything
    again = fresh_model("shufflenet_v2", (32, 32, 3), 3, NetworkConfig(), seed=SEED)
    assert again is net and all(layer.trainable for layer in again.layers)
    assert len(again.trainable_variables) == everything
