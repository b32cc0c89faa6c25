"""Figures are written as real, non-empty PNG files."""
import numpy as np
import pandas as pd
import pytest

from mer_keras.evaluation import plots

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 2000


def test_confusion_matrix_png(tmp_path):
    path = plots.plot_confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], ["negative", "positive", "surprise"],
                                       tmp_path / "cm.png", title="pooled")
    assert is_png(path)
    # a class with no clip (empty row) must not divide by zero
    assert is_png(plots.plot_confusion_matrix([0, 0], [0, 1], ["a", "b", "c"], tmp_path / "cm2.png"))
    with pytest.raises(ValueError, match="not among labels"):
        plots.plot_confusion_matrix([0, 3], [0, 0], ["a", "b"], tmp_path / "cm3.png")


def test_run_confusions_one_per_dataset(tmp_path):
    df = pd.DataFrame({"dataset": ["casme2", "casme2", "samm"], "subject": ["casme2/sub01", "casme2/sub01", "samm/006"],
                       "clip": ["a", "b", "c"], "y_true": [0, 1, 2], "y_pred": [0, 1, 1]})
    paths = plots.plot_run_confusions(df, ["n", "p", "s"], tmp_path)
    assert [p.name for p in paths] == ["confusion_all.png", "confusion_casme2.png", "confusion_samm.png"]
    assert all(is_png(p) for p in paths)


def test_training_curves_single_and_per_fold(tmp_path):
    one = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.3, 0.5, 0.7], "val_loss": [1.1, 0.9, 0.8]}
    assert is_png(plots.plot_training_curves(one, tmp_path / "one.png"))
    folds = [one, {"loss": [1.2, 0.7], "accuracy": [0.2, 0.6]}]  # folds of different lengths
    assert is_png(plots.plot_training_curves(folds, tmp_path / "folds.png"))
    with pytest.raises(ValueError, match="no values"):
        plots.plot_training_curves({"loss": []}, tmp_path / "empty.png")


def test_tsne_png(tmp_path):
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (8, 5)), rng.normal(4, 1, (8, 5))])
    path = plots.plot_tsne(x, [0] * 8 + [1] * 8, tmp_path / "tsne.png", class_names=["neg", "pos"])
    assert is_png(path)
    with pytest.raises(ValueError, match="one label per row"):
        plots.plot_tsne(x, [0, 1], tmp_path / "bad.png")


def s(uf1, uar):
    return {"uf1": uf1, "uar": uar, "accuracy": uf1, "n": 40}


def test_scores_with_baselines_png(tmp_path):
    from mer_keras.evaluation import write_results_json

    doc = {"scores": {"all": s(0.6, 0.62)}, "extra": {"experiment": "demo"},
           "variants": {"main": {"label": "ShuffleNetV2", "scores": {"all": s(0.6, 0.62)},
                                 "intervals": {"uf1": [0.5, 0.7], "uar": [0.52, 0.71], "accuracy": [0.5, 0.7]}},
                        "plain": {"scores": {"all": s(0.55, 0.57)}}},  # no intervals: no error bar, no crash
           "baselines": {"majority": {"label": "majority", "scores": {"all": s(0.2, 0.33)},
                                      "intervals": {"uf1": [0.15, 0.25], "uar": [0.33, 0.33],
                                                    "accuracy": [0.4, 0.6]}},
                         "linear_svm": {"label": "linear SVM", "scores": {"all": s(0.68, 0.68)}}}}
    assert is_png(plots.plot_scores_with_baselines(doc, tmp_path / "scores.png"))
    labels = [m[0] for m in plots._models_of(doc)]
    assert labels == ["ShuffleNetV2", "plain", "baseline: majority", "baseline: linear_svm"]
    # an older run directory (no variants, no baselines) still draws its one bar pair
    write_results_json(tmp_path / "old", config={"name": "old"}, scores={"all": s(0.4, 0.45)})
    assert is_png(plots.plot_scores_with_baselines(tmp_path / "old", tmp_path / "old.png"))
    with pytest.raises(ValueError, match="dataset 'casme2'"):
        plots.plot_scores_with_baselines(doc, tmp_path / "none.png", dataset="casme2")
