"""Same-fold baselines: the run's folds, nothing from the test subject, the run's prediction columns (issue 16)."""
import numpy as np
import pandas as pd
import pytest

from mer_keras.evaluation import PREDICTION_COLUMNS, loso_folds, pooled_scores
from mer_keras.evaluation.baselines import (
    baseline_predictions,
    baseline_results,
    downsample,
    fit_linear_svm,
)

POISONED = "toy/s2"


def toy(n_subjects=6, per_class=(3, 2, 1), side=32, seed=0):
    """Clips whose class shows as a bright quadrant, plus noise; class 0 is the majority everywhere."""
    rng = np.random.default_rng(seed)
    rows, xs = [], []
    for s in range(n_subjects):
        for c, count in enumerate(per_class):
            for i in range(count):
                img = rng.normal(0, 0.3, (side, side, 2)).astype(np.float32)
                q = side // 2
                img[(c // 2) * q:(c // 2 + 1) * q, (c % 2) * q:(c % 2 + 1) * q, 0] += 2.0
                xs.append(img)
                rows.append({"dataset": "toy", "subject": f"toy/s{s}", "clip": f"s{s}_c{c}_{i}", "label": c})
    return np.stack(xs), pd.DataFrame(rows)


def poisoned(x, manifest, extra=20):
    """The POISONED subject gains ``extra`` class-2 clips (enough to make class 2 the majority of any
    training set holding them) whose every value is huge (it would swamp a scaler fitted on them)."""
    add = manifest[manifest["subject"] == POISONED].iloc[:1]
    add = pd.concat([add] * extra, ignore_index=True).assign(label=2, clip=[f"trap{i}" for i in range(extra)])
    trap = np.full((extra,) + x.shape[1:], 1e6, np.float32)
    return np.concatenate([x, trap]), pd.concat([manifest, add], ignore_index=True)


def own_fold(preds):
    return preds[(preds["subject"] == POISONED) & ~preds["clip"].str.startswith("trap")].reset_index(drop=True)


@pytest.mark.parametrize("kind", ["majority", "linear_svm", "linear_svm_mirrored"])
def test_a_folds_baseline_never_sees_its_test_subject(kind):
    x, m = toy()
    # mirrored as images the constant traps stay traps (mirrored as flow, -1e6 rows make libsvm crawl)
    mirror = {"mirror_kind": "image"} if kind == "linear_svm_mirrored" else {}
    clean = baseline_predictions(x, m, kind=kind, **mirror)
    px, pm = poisoned(x, m)
    dirty = baseline_predictions(px, pm, kind=kind, **mirror)  # the trap rows are predicted too: nothing may crash
    assert len(dirty) == len(pm) and np.isfinite(dirty["y_pred"]).all()
    # the poisoned subject's own fold is trained on the other subjects only: its predictions on its
    # original clips cannot move, whatever its extra labels and values are
    pd.testing.assert_frame_equal(own_fold(dirty), own_fold(clean))


def test_the_poison_would_show_if_the_test_subject_leaked():
    """The poison is strong enough: fitted *with* the test subject's rows, both baselines change."""
    x, m = toy()
    px, pm = poisoned(x, m)
    f = downsample(px)
    y, g = pm["label"].to_numpy(), pm["subject"].to_numpy()
    own = np.flatnonzero((pm["subject"] == POISONED) & ~pm["clip"].str.startswith("trap"))
    others = np.flatnonzero(pm["subject"] != POISONED)
    honest = fit_linear_svm(f[others], y[others], g[others]).predict(f[own])
    leaky = fit_linear_svm(f, y, g).predict(f[own])
    assert (honest != leaky).any()
    assert np.bincount(y).argmax() == 2 and np.bincount(y[others]).argmax() == 0


def test_a_fold_that_trains_on_its_test_subject_is_refused():
    x, m = toy()
    folds = loso_folds(m)
    bad = folds[0]._replace(train_idx=np.arange(len(m)))
    with pytest.raises(ValueError, match="trains on its own test subject"):
        baseline_predictions(x, m, [bad] + folds[1:], kind="majority")


def test_predictions_follow_the_runs_folds_and_columns():
    x, m = toy()
    folds = loso_folds(m)[:3]
    preds = baseline_predictions(x, m, folds, kind="majority")
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    assert list(dict.fromkeys(preds["subject"])) == [f.subject for f in folds]
    assert len(preds) == sum(len(f.test_idx) for f in folds)
    assert (preds["y_pred"] == 0).all()  # class 0 is every training fold's majority
    pooled_scores(preds)  # the frame scores like a run's


def test_linear_svm_learns_what_the_input_shows():
    x, m = toy()
    preds = baseline_predictions(x, m, kind="linear_svm")
    assert (preds["y_pred"] == preds["y_true"]).mean() > 0.9
    assert preds["y_pred"].nunique() == 3


def test_the_mirrored_floor_trains_on_each_training_clip_and_its_mirror_in_its_subject(monkeypatch):
    """``linear_svm_mirrored``: the fit sees the training rows, then their mirrors (u negated for flow), with the
    subjects repeated so an inner split keeps a clip and its mirror together; the test clips are not mirrored."""
    from mer_keras.evaluation import baselines
    from mer_keras.preprocessing.augment import hflip

    x, m = toy(n_subjects=4)
    folds = loso_folds(m)
    fits = []
    real_fit = baselines.fit_linear_svm
    monkeypatch.setattr(baselines, "fit_linear_svm",
                        lambda f, y, g, **kw: fits.append((f, y, g)) or real_fit(f, y, g, **kw))
    baseline_predictions(x, m, folds, kind="linear_svm_mirrored", mirror_kind="flow")
    y, groups = m["label"].to_numpy(), m["subject"].to_numpy()
    for fold, (f, fy, fg) in zip(folds, fits):
        tr = fold.train_idx
        np.testing.assert_array_equal(f, np.concatenate([downsample(x[tr]), downsample(hflip(x[tr], "flow"))]))
        assert list(fy) == list(y[tr]) * 2 and list(fg) == list(groups[tr]) * 2
        assert fold.subject not in set(fg)
    # mirrored left-right, the toy's top-left class 0 and top-right class 1 look alike: the floor cannot tell them
    plain = baseline_predictions(x, m, kind="linear_svm")
    mirrored = baseline_predictions(x, m, kind="linear_svm_mirrored", mirror_kind="image")
    left_right = plain["y_true"] < 2
    assert (plain["y_pred"] == plain["y_true"])[left_right].mean() > 0.9
    assert (mirrored["y_pred"] == mirrored["y_true"])[left_right].mean() < 0.8
    with pytest.raises(ValueError, match="mirror_kind"):
        baseline_predictions(x, m, kind="linear_svm_mirrored")
    with pytest.raises(ValueError, match="mirror_kind"):
        baseline_predictions(x, m, kind="linear_svm", mirror_kind="flow")


def test_downsample_averages_blocks_per_clip():
    x = np.arange(2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)
    small = downsample(x, 16)
    assert small.shape == (2, 16 * 16 * 3)
    assert small[0, 0] == pytest.approx(x[0, :2, :2, 0].mean())  # INTER_AREA: 2x2 block mean
    assert downsample(x[..., 0], 16).shape == (2, 256)
    assert downsample(np.zeros((2, 4, 32, 32, 2)), 8).shape == (2, 4 * 8 * 8 * 2)
    assert downsample(np.zeros((2, 8, 8, 1)), 16).shape == (2, 64)  # smaller inputs are not upscaled
    with pytest.raises(ValueError, match="shape"):
        downsample(np.zeros(3))


def test_baseline_results_has_the_results_json_layout():
    x, m = toy(n_subjects=4)
    entries, preds = baseline_results(x, m, n_boot=50, labels=[0, 1, 2])
    assert set(entries) == {"majority", "linear_svm"} == set(preds)
    for e in entries.values():
        assert set(e) == {"label", "scores", "intervals"} and set(e["scores"]) == {"all", "toy"}
        assert set(e["intervals"]) == {"uf1", "uar", "accuracy"}
        assert all(len(v) == 2 and v[0] <= v[1] for v in e["intervals"].values())
    assert "majority" in entries["majority"]["label"] and "16x16" in entries["linear_svm"]["label"]
    with pytest.raises(ValueError, match="unknown baseline kind"):
        baseline_predictions(x, m, kind="knn")


def test_folds_with_few_subjects_or_one_class_still_predict():
    x, m = toy(n_subjects=2)  # each training fold holds one subject: no inner split to search C on
    preds = baseline_predictions(x, m, kind="linear_svm")
    assert len(preds) == len(m) and set(preds["y_pred"]) <= {0, 1, 2}
    one_class = fit_linear_svm(np.zeros((4, 3)), [1, 1, 1, 1], ["a", "a", "b", "b"])
    assert list(one_class.predict(np.ones((2, 3)))) == [1, 1]
