"""Leakage seen through the whole pipeline (issue 24): `reproduce` on a precomputed manifest, fold by fold.

``test_training_leakage`` poisons a hand-built ``FoldData``, so a statistic computed upstream of ``run_fold``
(over every clip of the manifest, in ``reproduce``, the runner or the preprocessing: a normalisation, class
weights, a PCA) could not show there. Here the held-out subject S of a tiny precomputed manifest (PNG faces,
NPY flow) gets other input files and other labels (so other class counts) and the whole ``reproduce`` runs
again:

* with the fold stubbed out (no training, seconds): the arrays and labels ``reproduce`` and the runner hand to
  S's fold (training set, flow pre-training set, no held-out labels) are byte-identical, and a normalisation over
  all clips, injected on purpose, makes the same comparison fail;
* trained for real: S's fold trains the very same network (weights, flow pre-training file, fold JSON), chooses
  the same SVM on a multi-point grid (three C values, two kernels) and scores S's *unpoisoned* clips byte for
  byte as before.

Each run trains S's fold only (``subjects=[S]``): everything upstream of the folds still runs on all clips.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mer_keras.training.reproduce as reproduce_module
from mer_keras.cli import main
from mer_keras.evaluation import FoldStore
from mer_keras.files import subject_file_stem
from mer_keras.training import executors
from mer_keras.training.reproduce import reproduce
from tests.fixtures.precomputed_layouts import htnet_csv, write_rgb

pytestmark = pytest.mark.xdist_group("leakage_pipeline")  # one worker builds the module's runs, not both

SUBJECTS = ("sub01", "sub02", "sub03", "sub04")
HELD_OUT = "casme2/sub02"
EXPERIMENT, VARIANT = "liu2022_shufflenet_ablation", "shufflenet_plain"  # flow pre-training, SVM
PIXELS = 16
TINY = {  # a multi-point SVM grid: three C values and two kernels, searched on the training subjects
    "preprocess": {"size": 32},
    "network": {"stage_repeats": [1, 1, 1]},  # a shallow ShuffleNet: the question is what reaches training
    "pretrain": {"epochs": 1, "batch_size": 8},
    "finetune": {"epochs": 1, "batch_size": 8},
    "head": {"C": [0.1, 1.0, 10.0], "kernels": ["linear", "rbf"], "inner_splits": 2},
}
CLASSES = ("negative", "positive", "surprise")


def _rows():
    return [("casme2", s, f"EP{i:02d}_{k:02d}", k % 3) for i, s in enumerate(SUBJECTS, 1) for k in range(3)]


def _face(rng, label):
    image = rng.uniform(0, 120, (PIXELS, PIXELS, 3))
    image[:, :, label] += 100  # class c brightens channel c: the task is learnable
    return image


def write_corpus(root) -> pd.DataFrame:
    """The clean manifest: 4 subjects x 3 clips, a PNG face and an NPY flow array per clip."""
    rng = np.random.default_rng(0)
    rows = _rows()
    (root / "flow").mkdir(parents=True, exist_ok=True)
    for db, subject, clip, label in rows:
        write_rgb(root / "apex" / f"{subject}_{clip}.png", _face(rng, label))
        flow = rng.normal(0, 0.5, (PIXELS, PIXELS, 3)).astype("float32")
        flow[..., label] += 0.5
        np.save(root / "flow" / f"{subject}_{clip}.npy", flow)
    labels = htnet_csv(root / "labels.csv", rows)
    assert main(["manifest", "precomputed", "--labels", str(labels), "--input", f"apex={root / 'apex'}",
                 "--input", f"flow={root / 'flow'}", "--out", str(root / "clean.csv")]) == 0
    return pd.read_csv(root / "clean.csv")


def write_poisoned(clean: pd.DataFrame, root) -> pd.DataFrame:
    """The clean manifest with S's files replaced by noise and S's labels all set to the first class (the class
    counts of the manifest change); every other row, file and path is the clean one."""
    rng = np.random.default_rng(99)
    out = clean.copy()
    held = out["subject"] == HELD_OUT
    assert held.sum() == 3 and len(set(out.loc[held, "label"])) == 3
    (root / "poison").mkdir(parents=True, exist_ok=True)
    for i in np.flatnonzero(held):
        out.loc[i, "input_apex"] = str(write_rgb(root / "poison" / f"{i}.png", rng.uniform(0, 255, (PIXELS, PIXELS, 3))))
        np.save(root / "poison" / f"{i}.npy", rng.normal(3, 2, (PIXELS, PIXELS, 3)).astype("float32"))
        out.loc[i, "input_flow"] = str(root / "poison" / f"{i}.npy")
    out.loc[held, ["label", "class_name", "emotion"]] = [0, CLASSES[0], CLASSES[0]]
    out.to_csv(root / "poisoned.csv", index=False)
    return out


def svm_state(head) -> dict:
    """Everything the fitted SVM head (StandardScaler + SVC, grid-searched) decides with."""
    pipe = head.pipeline_
    scale, svc = pipe.named_steps["scale"], pipe.named_steps["svc"]
    return {"best_params": dict(head.best_params_), "mean": scale.mean_, "scale": scale.scale_,
            "support_vectors": svc.support_vectors_, "dual_coef": svc.dual_coef_, "intercept": svc.intercept_,
            "support": svc.support_}


class FoldRecorder:
    """Wraps the executor's ``run_task``: for the held-out subject's fold it keeps the trained weights, the SVM
    head and the head's scores of ``probe`` (S's clips as the *clean* run prepared them)."""

    def __init__(self, real, probe=None):
        self.real, self.probe, self.seen = real, probe, {}

    def __call__(self, task, inputs, progress=None):
        res = self.real(task, inputs, progress)
        if task.subject == HELD_OUT:
            from mer_keras.models import embedding_model
            from mer_keras.training.embeddings import batched_outputs

            if self.probe is None:
                self.probe = inputs.x[task.test_idx].copy()
            features = batched_outputs(embedding_model(res.model), self.probe)
            self.seen = {"weights": [np.array(w, copy=True) for w in res.model.get_weights()],
                         "svm": svm_state(res.head), "probe_scores": res.head.decision_function(features),
                         "train_labels": inputs.y[task.train_idx].copy(), "test_labels": inputs.y[task.test_idx].copy()}
        return res


def run_once(manifest, out, cache, monkeypatch, probe=None):
    recorder = FoldRecorder(executors.run_task, probe)
    with monkeypatch.context() as m:
        m.setattr(executors, "run_task", recorder)
        res = reproduce(EXPERIMENT, data=str(manifest), out=out, cache=cache, overrides=TINY,
                        variants=[VARIANT], subjects=[HELD_OUT])
    assert res.get("partial") is True  # only S's fold ran
    assert recorder.seen, "S's fold did not run in this process: nothing was recorded"
    return recorder


def fold_files(run_dir):
    """S's fold JSON (timings left out: wall-clock seconds), its predictions and its pre-training weights."""
    store = FoldStore(run_dir, VARIANT)
    doc = json.loads(store.path_for(HELD_OUT).with_suffix(".json").read_text())
    doc.pop("timings")
    preds = pd.read_csv(store.path_for(HELD_OUT).with_suffix(".csv"))
    weights = run_dir / "pretrain" / VARIANT / f"{subject_file_stem(HELD_OUT)}.weights.h5"
    return doc, preds, weights


def h5_arrays(path) -> dict:
    import h5py

    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_fold(a: FoldRecorder, b: FoldRecorder):
    assert len(a.seen["weights"]) == len(b.seen["weights"])
    for wa, wb in zip(a.seen["weights"], b.seen["weights"]):
        np.testing.assert_array_equal(wa, wb)
    sa, sb = a.seen["svm"], b.seen["svm"]
    assert sa["best_params"] == sb["best_params"]
    for key in ("mean", "scale", "support_vectors", "dual_coef", "intercept", "support"):
        np.testing.assert_array_equal(sa[key], sb[key])
    np.testing.assert_array_equal(a.seen["probe_scores"], b.seen["probe_scores"])


@pytest.fixture(scope="module")
def clean_and_poisoned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leak_e2e")
    clean = write_corpus(tmp)
    write_poisoned(clean, tmp)
    with pytest.MonkeyPatch.context() as mp:
        a = run_once(tmp / "clean.csv", tmp / "run_clean", tmp / "cache", mp)
        b = run_once(tmp / "poisoned.csv", tmp / "run_poisoned", tmp / "cache", mp, probe=a.probe)
    return tmp, a, b


def test_the_poison_reaches_the_pipeline(clean_and_poisoned):
    """S's labels and frames did change in the poisoned run (else the comparisons below prove nothing)."""
    tmp, a, b = clean_and_poisoned
    assert sorted(a.seen["test_labels"]) == [0, 1, 2] and list(b.seen["test_labels"]) == [0, 0, 0]
    np.testing.assert_array_equal(a.seen["train_labels"], b.seen["train_labels"])
    _, preds_a, _ = fold_files(tmp / "run_clean")
    _, preds_b, _ = fold_files(tmp / "run_poisoned")
    assert preds_b["y_true"].tolist() == [0, 0, 0] != preds_a["y_true"].tolist()
    scores = [c for c in preds_a.columns if c.startswith("score_")]
    assert len(scores) == 3 and not np.array_equal(preds_a[scores].to_numpy(), preds_b[scores].to_numpy())


def test_held_out_fold_trains_the_same_network_and_svm_whatever_the_held_out_subject_holds(clean_and_poisoned):
    _, a, b = clean_and_poisoned
    assert a.seen["svm"]["best_params"]["searched"] is True  # the grid search ran, over 6 points
    assert_same_fold(a, b)


def test_held_out_fold_files_are_identical_but_for_its_predictions(clean_and_poisoned):
    tmp, _, _ = clean_and_poisoned
    doc_a, _, h5_a = fold_files(tmp / "run_clean")
    doc_b, _, h5_b = fold_files(tmp / "run_poisoned")
    assert doc_a == doc_b  # history (pre-training and fine-tuning curves, probes), SVM parameters, load report
    arrays_a, arrays_b = h5_arrays(h5_a), h5_arrays(h5_b)
    assert arrays_a and arrays_a.keys() == arrays_b.keys()
    for name, value in arrays_a.items():
        np.testing.assert_array_equal(value, arrays_b[name])


class FoldInputs:
    """Stands in for ``run_fold``: keeps what S's fold is handed, trains nothing, predicts class 0."""

    def __init__(self):
        self.seen = {}

    def __call__(self, variant, data, *, seed=0, macro_weights=None, pretrain_path=None, progress=None):
        from mer_keras.training.fold import FoldResult

        if pretrain_path is not None and pretrain_path.name.startswith(subject_file_stem(HELD_OUT)):
            self.seen = {"x": data.train.x.copy(), "y": data.train.y.copy(), "groups": data.train.groups.copy(),
                         "num_classes": data.train.num_classes, "x_pre": data.pretrain.x.copy(),
                         "y_pre": data.pretrain.y.copy(), "held_out_labels": data.held_out_labels}
        n = len(data.x_test)
        return FoldResult(y_pred=np.zeros(n, int), scores=np.zeros((n, 3)))


def fold_inputs(manifest, out, cache, monkeypatch):
    import mer_keras.training.fold as fold_module

    stub = FoldInputs()
    with monkeypatch.context() as m:
        m.setattr(fold_module, "run_fold", stub)
        reproduce(EXPERIMENT, data=str(manifest), out=out, cache=cache, overrides=TINY, variants=[VARIANT],
                  subjects=[HELD_OUT])
    assert stub.seen, "S's fold was not handed over in this process"
    return stub.seen


def differing_inputs(a, b) -> list[str]:
    """The fold inputs that differ (arrays by their bytes, subjects by name)."""
    assert a["num_classes"] == b["num_classes"] and a["held_out_labels"] is None and b["held_out_labels"] is None
    differ = [] if a["groups"].tolist() == b["groups"].tolist() else ["groups"]
    for key in ("x", "y", "x_pre", "y_pre"):
        if a[key].dtype != b[key].dtype or a[key].shape != b[key].shape or a[key].tobytes() != b[key].tobytes():
            differ.append(key)
    return differ


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leak_e2e_inputs")
    write_poisoned(write_corpus(tmp), tmp)
    return tmp


def test_reproduce_hands_the_held_out_fold_the_same_training_inputs_whatever_the_held_out_subject_holds(
        corpus, tmp_path, monkeypatch):
    a = fold_inputs(corpus / "clean.csv", tmp_path / "clean", tmp_path / "cache", monkeypatch)
    b = fold_inputs(corpus / "poisoned.csv", tmp_path / "poisoned", tmp_path / "cache", monkeypatch)
    assert len(a["y"]) == 9 and HELD_OUT not in set(a["groups"])
    assert differing_inputs(a, b) == []


def test_a_statistic_over_all_clips_is_caught(corpus, tmp_path, monkeypatch):
    """The comparison can fail: a normalisation by the mean over every clip of the manifest (a leak upstream of
    the folds, which a hand-built FoldData cannot show) changes what S's fold is handed."""
    real = reproduce_module.prepared

    def centred_over_all_clips(manifest, pre, cache, **run):
        x, fallbacks = real(manifest, pre, cache, **run)
        return x - x.mean(axis=0, keepdims=True), fallbacks

    monkeypatch.setattr(reproduce_module, "prepared", centred_over_all_clips)
    a = fold_inputs(corpus / "clean.csv", tmp_path / "clean", tmp_path / "cache", monkeypatch)
    b = fold_inputs(corpus / "poisoned.csv", tmp_path / "poisoned", tmp_path / "cache", monkeypatch)
    assert differing_inputs(a, b) == ["x", "x_pre"]
