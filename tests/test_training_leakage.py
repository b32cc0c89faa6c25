"""Nothing of the held-out subject may reach training: poison it and check no training artefact changes."""
import dataclasses

import numpy as np
import pytest

from mer_keras.training.config import load_experiment
from mer_keras.training.fold import FoldData, run_fold
from mer_keras.training.stages import TrainSet

SIZE = 32


def _fold_data(rng, poison=False, frames_too=True):
    """Four training subjects and one test subject; class c shifts channel c, so the task is learnable."""
    def make(n, subject):
        y = np.arange(n) % 3
        x = rng.normal(0, 0.3, (n, SIZE, SIZE, 3)).astype("float32")
        x[np.arange(n), :, :, y] += 1.0
        return x, y, np.array([subject] * n)

    parts = [make(9, f"t/s{i}") for i in range(4)]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    g_tr = np.concatenate([p[2] for p in parts])
    x_te, y_te, _ = make(6, "t/held_out")
    if poison:  # the held-out subject's labels, class counts and frames replaced by garbage
        y_te = np.zeros_like(y_te)
        if frames_too:
            x_te = np.random.default_rng(99).normal(5, 3, x_te.shape).astype("float32")
    # the flow pre-training input: the same clips, another array (here the images negated)
    return FoldData(train=TrainSet(x_tr, y_tr, g_tr, 3), x_test=x_te, pretrain=TrainSet(-x_tr, y_tr, g_tr, 3),
                    held_out_labels=y_te)


def _vcfg(checkpoint="last", pretrain="flow", head="svm"):
    exp = load_experiment("liu2022_shufflenet", overrides={
        "pretrain": {"kind": pretrain, "epochs": 2, "batch_size": 12},
        "finetune": {"epochs": 2, "batch_size": 12, "checkpoint": checkpoint},
        "head": {"kind": head, "C": [0.1, 1.0, 10.0], "kernels": ["linear", "rbf"], "inner_splits": 2},
        "network": {"stage_repeats": [1, 1, 1]},  # shallow: the question is what is read, not depth
    })
    return dataclasses.replace(exp.variants[0], model="shufflenet_v2")


def _artefacts(res, probe):
    from mer_keras.models import embedding_model
    from mer_keras.training.embeddings import batched_outputs

    feats = batched_outputs(embedding_model(res.model), probe)
    return {
        "weights": [np.asarray(w) for w in res.model.get_weights()],
        "head_params": {k: v for k, v in res.head_params.items()},
        "head_decisions": res.head.decision_function(feats) if res.head is not None else None,
    }


def _same(a, b):
    assert len(a["weights"]) == len(b["weights"])
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_array_equal(wa, wb)
    assert a["head_params"] == b["head_params"]
    if a["head_decisions"] is not None:
        np.testing.assert_array_equal(a["head_decisions"], b["head_decisions"])


class HeldOutLabels:
    """Held-out labels that raise as soon as anything reads them: not an array at all, so neither ``np.asarray`` /
    ``np.array`` (``__array__``), nor indexing, iteration, ``len``, comparison or truth value gets through (an
    ``ndarray`` subclass would be turned back into a plain array by ``np.asarray``)."""

    __hash__ = None

    def __init__(self, y):
        self._n = len(y)  # kept for the repr only; the values are not stored anywhere

    def _read(self, *a, **k):
        raise LookupError("a training step read the held-out subject's labels")

    __array__ = __array_function__ = __array_ufunc__ = __getitem__ = __iter__ = __len__ = __bool__ = _read
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __int__ = __float__ = __index__ = _read

    @property
    def __array_interface__(self):
        self._read()

    @property
    def __array_struct__(self):
        self._read()

    def __repr__(self):
        return f"<{self._n} held-out labels, unreadable>"


def _trap(y):
    return HeldOutLabels(np.asarray(y))


def test_the_trap_cannot_be_read_around():
    trap = _trap(np.array([0, 1, 2]))
    for read in (np.asarray, np.array, np.unique, list, len, lambda t: t[0], lambda t: t == 0,
                 lambda t: np.zeros(3) == t, bool, lambda t: np.concatenate([np.zeros(1), t]), lambda t: 1 in t,
                 lambda t: np.asarray(t, dtype=int), lambda t: np.bincount(t)):
        with pytest.raises(LookupError, match="held-out"):
            read(trap)


@pytest.fixture(scope="module")
def clean_and_poisoned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leak")
    vcfg = _vcfg()
    probe = _fold_data(np.random.default_rng(0)).train.x[:8]
    clean = run_fold(vcfg, _fold_data(np.random.default_rng(0)), seed=3, pretrain_path=tmp / "a.weights.h5")
    clean_artefacts = _artefacts(clean, probe)  # read now: the model object is reused by the next fold
    data = _fold_data(np.random.default_rng(0), poison=True)
    data.held_out_labels = _trap(data.held_out_labels)  # reading them anywhere raises
    poisoned = run_fold(vcfg, data, seed=3, pretrain_path=tmp / "b.weights.h5")
    return clean, clean_artefacts, poisoned, _artefacts(poisoned, probe), tmp


def test_poisoned_test_subject_changes_no_training_artefact(clean_and_poisoned):
    _, a, _, b, tmp = clean_and_poisoned
    assert a["head_params"]["searched"] is True  # the SVM's kernel and C were chosen on a 2 x 3 grid under the trap
    _same(a, b)
    # the pre-training weights saved as .h5 are identical too
    import h5py

    with h5py.File(tmp / "a.weights.h5") as fa, h5py.File(tmp / "b.weights.h5") as fb:
        names = []
        fa.visit(names.append)
        arrays = [n for n in names if isinstance(fa[n], h5py.Dataset)]
        assert arrays
        for n in arrays:
            np.testing.assert_array_equal(fa[n][()], fb[n][()])


def test_poisoned_frames_change_only_the_test_predictions(clean_and_poisoned):
    clean, _, poisoned, _, _ = clean_and_poisoned
    assert not np.array_equal(clean.scores, poisoned.scores)


def test_the_label_trap_catches_a_step_that_reads_held_out_labels():
    """The papers' 'best test accuracy' checkpoint reads the held-out labels: the trap must fire."""
    vcfg = _vcfg(checkpoint="best_test_accuracy", pretrain="none")
    assert vcfg.leaky is True
    data = _fold_data(np.random.default_rng(0))
    data.held_out_labels = _trap(data.held_out_labels)
    with pytest.raises(LookupError, match="held-out"):
        run_fold(vcfg, data, seed=3)


def test_default_checkpoint_is_not_leaky():
    assert _vcfg().leaky is False
    from mer_keras.training.stages import finetune

    data = _fold_data(np.random.default_rng(0))
    with pytest.raises(ValueError, match="held_out_monitor"):  # held-out labels handed to a non-leaky rule
        finetune(_vcfg(pretrain="none"), data.train, seed=3, held_out_monitor=(data.x_test, data.held_out_labels))


def test_hyper_parameter_grid_search_stays_inside_the_training_fold():
    """Paper 004's grid search: chosen on inner splits of the training subjects, the held-out labels unread."""
    exp = load_experiment("liu2022_shufflenet", overrides={
        "pretrain": {"kind": "none"},
        "finetune": {"epochs": 1, "batch_size": 12, "grid_search": True,
                     "grid": {"learning_rate": [0.001, 0.01]}, "grid_inner_splits": 2},
        "head": {"kind": "softmax"},
        "network": {"stage_repeats": [1, 1, 1]},
    })
    vcfg = dataclasses.replace(exp.variants[0], model="shufflenet_v2")
    data = _fold_data(np.random.default_rng(0))
    data.held_out_labels = None
    res = run_fold(vcfg, data, seed=3)
    chosen = res.head_params["grid_search"]
    assert chosen["learning_rate"] in (0.001, 0.01) and 0.0 <= chosen["inner_f1_macro"] <= 1.0


def test_fine_tuning_starts_from_the_pretrained_backbone_with_a_fresh_head(tmp_path):
    """Paper 000: the flow-pre-trained backbone is transferred ("down-sampled partial layers"); the head is
    the fresh network's; the fine-tuning input is the face, not the flow the pre-training saw."""
    from mer_keras.models import load_pretrained
    from mer_keras.training import stages
    from mer_keras.training.networks import fresh_model, head_layer_names

    variant = _vcfg(pretrain="flow")
    assert variant.preprocess.representation == "apex" and variant.pretrain_input().representation == "flow"
    data = _fold_data(np.random.default_rng(0))
    path, _ = stages.PRETRAIN_STAGES["flow"].run(variant, data.pretrain, seed=3, weights_path=tmp_path / "p.weights.h5")
    fresh = fresh_model(variant.model, data.train.x.shape[1:], 3, variant.network, seed=3)
    heads = head_layer_names(fresh)
    assert heads
    fresh_weights = {layer.name: [w.copy() for w in layer.get_weights()] for layer in fresh.layers}
    saved = fresh_model(variant.model, data.train.x.shape[1:], 3, variant.network, seed=3)
    load_pretrained(saved, path)
    pretrained_weights = {layer.name: [w.copy() for w in layer.get_weights()] for layer in saved.layers}

    seen = {}
    real_train = stages.train

    def spy(model, train_set, section, **kwargs):  # the state the first fine-tuning step starts from
        seen["x"] = train_set.x
        seen["weights"] = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
        return real_train(model, train_set, section, **kwargs)

    stages.train = spy
    try:
        stages.finetune(variant, data.train, seed=3, pretrained=path)
    finally:
        stages.train = real_train
    assert seen["x"] is data.train.x or np.array_equal(seen["x"][: len(data.train.x)], data.train.x)
    moved = 0
    for name, weights in seen["weights"].items():
        expected = fresh_weights[name] if name in heads else pretrained_weights[name]
        for a, b in zip(weights, expected):
            np.testing.assert_array_equal(a, b)
        if name not in heads and any(not np.array_equal(a, b) for a, b in zip(weights, fresh_weights[name])):
            moved += 1
    assert moved > 0  # the backbone did change from its initial state: the transfer happened
