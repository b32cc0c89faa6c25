"""results.json schema, atomic writes and per-fold resumable prediction storage."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import sklearn

from mer_keras.evaluation import (
    FoldStore,
    atomic_write_json,
    atomic_write_text,
    write_results_json,
)
from mer_keras.evaluation.results import read_results_json

SCORES = {"all": {"uf1": 0.5, "uar": 0.6, "accuracy": 0.7, "n": 10},
          "casme2": {"uf1": np.float64(0.4), "uar": 0.5, "accuracy": 0.6, "n": np.int64(4)}}


def test_results_json_schema(tmp_path):
    path = write_results_json(
        tmp_path, config={"name": "demo", "protocol": "megc2019"}, scores=SCORES,
        variants={"plain": {"scores": SCORES, "leaky": np.bool_(True), "description": "best-test-epoch"}},
        timings={"total_s": 1.5}, seeds={"seed": 3}, extra={"paper": "liu2022_shufflenet"},
    )
    assert path == tmp_path / "results.json"
    doc = json.loads(path.read_text())
    assert set(doc) >= {"config", "versions", "seeds", "timings", "scores", "variants", "extra"}
    assert doc["extra"] == {"paper": "liu2022_shufflenet"}
    assert doc["scores"]["casme2"] == {"uf1": 0.4, "uar": 0.5, "accuracy": 0.6, "n": 4}
    assert doc["variants"]["plain"]["leaky"] is True
    assert doc["variants"]["plain"]["description"] == "best-test-epoch"
    assert doc["versions"]["sklearn"] == sklearn.__version__
    assert set(doc["versions"]) >= {"python", "tensorflow", "keras", "numpy", "pandas", "opencv", "dlib"}
    assert doc["seeds"] == {"seed": 3} and doc["timings"] == {"total_s": 1.5}
    assert read_results_json(tmp_path)["config"]["name"] == "demo"


def test_results_json_refuses_bad_scores_and_overrides(tmp_path):
    with pytest.raises(ValueError, match="'all' entry"):
        write_results_json(tmp_path, config={}, scores={"casme2": SCORES["casme2"]})
    with pytest.raises(ValueError, match="lacks"):
        write_results_json(tmp_path, config={}, scores={"all": {"uf1": 1.0}})
    with pytest.raises(TypeError, match="extra"):
        write_results_json(tmp_path, config={}, scores=SCORES, extra=["paper"])
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(FileNotFoundError, match="results.json"):
        read_results_json(tmp_path)


def test_nan_becomes_null(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": float("nan"), "b": np.array([1, 2])})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1, 2]}


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert list(tmp_path.iterdir()) == []

    atomic_write_text(target, "old complete content")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new content")
    assert target.read_text() == "old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left


def fold_predictions(subject, n=2):
    dataset = subject.split("/")[0]
    return pd.DataFrame({"dataset": dataset, "subject": subject, "clip": [f"{i:03d}_1" for i in range(n)],
                         "y_true": [0] * n, "y_pred": list(range(n))})


def run_all(store, subjects, fail_on=None):
    """A LOSO loop as training runs it: skip finished folds, save each fold as soon as it ends."""
    trained = []
    for s in subjects:
        if store.done(s):
            continue
        if s == fail_on:
            raise KeyboardInterrupt
        trained.append(s)
        store.save(s, fold_predictions(s))
    return trained


def test_fold_store_resumes_without_redoing_finished_folds(tmp_path):
    subjects = ["casme2/sub01", "samm/006", "smic-hs/s1"]
    store = FoldStore(tmp_path, "main")
    with pytest.raises(KeyboardInterrupt):
        run_all(store, subjects, fail_on="samm/006")
    assert store.completed() == ["casme2/sub01"]
    assert store.path_for("casme2/sub01") == tmp_path / "folds" / "main" / "casme2__sub01.csv"
    assert run_all(FoldStore(tmp_path, "main"), subjects) == ["samm/006", "smic-hs/s1"]
    everything = store.load_all()
    assert len(everything) == 6 and sorted(everything["subject"].unique()) == subjects
    assert everything["clip"].iloc[0] == "000_1"  # identifiers stay text
    assert FoldStore(tmp_path, "other").load_all().empty  # variants are kept apart


def test_fold_store_refuses_wrong_input(tmp_path):
    store = FoldStore(tmp_path, "main")
    with pytest.raises(ValueError, match="other subject"):
        store.save("casme2/sub01", fold_predictions("casme2/sub02"))
    with pytest.raises(ValueError, match="lack column"):
        store.save("casme2/sub01", pd.DataFrame({"clip": ["a"]}))
    with pytest.raises(ValueError, match="plain folder name"):
        FoldStore(tmp_path, "../escape")
    assert not store.done("casme2/sub01")
