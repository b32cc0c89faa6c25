"""Subject-bootstrap intervals and paired comparisons (issue 16)."""
import numpy as np
import pandas as pd
import pytest

from mer_keras.evaluation import (
    bootstrap_ci,
    confusion_scores,
    format_interval,
    paired_bootstrap,
    scores,
    uf1,
)
from mer_keras.evaluation.bootstrap import (
    NOT_DISTINGUISHABLE,
    Difference,
    Interval,
    intervals_of,
    seeds_paired_bootstrap,
)


def run(y_true, y_pred, clips_per_subject, dataset="synthme"):
    """Predictions frame with consecutive blocks of ``clips_per_subject`` clips per subject."""
    n = len(y_true)
    subjects = [f"{dataset}/s{i // clips_per_subject:02d}" for i in range(n)]
    return pd.DataFrame({"dataset": dataset, "subject": subjects, "clip": [f"c{i:03d}" for i in range(n)],
                         "y_true": np.asarray(y_true, int), "y_pred": np.asarray(y_pred, int)})


def noisy(y, correct_fraction, seed):
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y)) > correct_fraction
    return np.where(wrong, (y + rng.integers(1, 3, len(y))) % 3, y)


Y = np.tile([0, 1, 2, 0, 1, 2, 0, 0], 20)  # 160 clips, 20 subjects of 8


def test_confusion_scores_match_the_reference_metrics():
    rng = np.random.default_rng(1)
    for k in (2, 3, 5):
        t, p = rng.integers(0, k, 50), rng.integers(0, k, 50)
        t[t == k - 1] = 0  # a class that is predicted but never true
        cm = np.zeros((k, k))
        np.add.at(cm, (t, p), 1)
        fast, ref = confusion_scores(cm), scores(t, p)
        for m in ("uf1", "uar", "accuracy"):
            assert fast[m] == pytest.approx(ref[m], abs=1e-12), (k, m)


def test_perfect_predictor_interval_is_one_one():
    ci = bootstrap_ci(run(Y, Y, 8), n_boot=200)
    for m in ("uf1", "uar", "accuracy"):
        assert ci[m] == Interval(1.0, 1.0, 1.0)
    assert intervals_of(run(Y, Y, 8), n_boot=50) == {"uf1": [1.0, 1.0], "uar": [1.0, 1.0], "accuracy": [1.0, 1.0]}


def test_interval_brackets_the_point_and_is_reproducible():
    preds = run(Y, noisy(Y, 0.6, 0), 8)
    ci = bootstrap_ci(preds, n_boot=300, seed=3)
    assert ci["uf1"].point == pytest.approx(uf1(preds["y_true"], preds["y_pred"]))
    for c in ci.values():
        assert c.low < c.point < c.high
    assert bootstrap_ci(preds, n_boot=300, seed=3) == ci
    assert bootstrap_ci(preds, n_boot=300, seed=4) != ci


def test_subjects_not_clips_are_resampled():
    # 10 subjects of 20 clips, each subject all right or all wrong: clip resampling would give an accuracy
    # interval about +-0.07 wide; drawing subjects leaves it about +-0.3
    y = np.zeros(200, int)
    pred = np.repeat([0, 1] * 5, 20)
    ci = bootstrap_ci(run(y, pred, 20), metrics=["accuracy"], n_boot=500)["accuracy"]
    assert ci.point == 0.5 and ci.high - ci.low > 0.4


def test_callable_metric_agrees_with_the_named_one():
    preds = run(Y, noisy(Y, 0.5, 2), 8)
    fast = bootstrap_ci(preds, metrics=["uf1"], n_boot=60, seed=5)["uf1"]
    slow = bootstrap_ci(preds, metrics={"uf1": uf1}, n_boot=60, seed=5)["uf1"]
    assert slow.point == pytest.approx(fast.point) and slow.low == pytest.approx(fast.low)
    assert slow.high == pytest.approx(fast.high)


def test_paired_difference_of_identical_runs_is_zero():
    a = run(Y, noisy(Y, 0.6, 0), 8)
    b = a.sample(frac=1.0, random_state=0)  # same predictions, other row order
    d = paired_bootstrap(a, b, n_boot=200)
    assert d["uf1"] == Difference(0.0, 0.0, 0.0) and d["uar"] == Difference(0.0, 0.0, 0.0)
    assert d["uf1"].verdict == NOT_DISTINGUISHABLE and str(d["uf1"]) == "+0.000 [0.00, 0.00] not distinguishable"


def test_paired_interval_detects_a_real_difference_and_not_a_tiny_one():
    good, bad = run(Y, noisy(Y, 0.9, 0), 8), run(Y, noisy(Y, 0.4, 1), 8)
    d = paired_bootstrap(good, bad, metrics=["uf1", "uar", "accuracy"], n_boot=500)
    for m, diff in d.items():
        assert diff.low > 0 and diff.verdict == "distinguishable", m
    assert paired_bootstrap(bad, good, n_boot=500)["uf1"].high < 0
    almost = good.copy()
    almost.loc[0, "y_pred"] = (almost.loc[0, "y_true"] + 1) % 3  # one clip differs
    tiny = paired_bootstrap(good, almost, n_boot=500)["uf1"]
    assert tiny.difference > 0 and tiny.verdict == NOT_DISTINGUISHABLE


def test_paired_runs_must_hold_the_same_clips_and_labels():
    a = run(Y, Y, 8)
    with pytest.raises(ValueError, match=r"1 only in a \(first \['synthme/synthme/s19/c159'\]\)"):
        paired_bootstrap(a, a.iloc[:-1])
    other = a.copy()
    other.loc[3, "y_true"] = 2
    with pytest.raises(ValueError, match="different y_true.*c003"):
        paired_bootstrap(a, other)


def test_seed_bootstrap_is_the_subject_bootstrap_when_seeds_agree():
    """One seed, or seeds that predict alike, add no seed-level spread: the subject draws are paired_bootstrap's."""
    net, floor = run(Y, noisy(Y, 0.8, 0), 8), run(Y, noisy(Y, 0.6, 1), 8)
    one = paired_bootstrap(net, floor, ("uf1", "uar"), n_boot=300, seed=4)
    assert seeds_paired_bootstrap([(net, floor)], ("uf1", "uar"), n_boot=300, seed=4) == one
    shuffled = (net.sample(frac=1.0, random_state=1), floor.sample(frac=1.0, random_state=2))  # row order is no seed
    assert seeds_paired_bootstrap([(net, floor), shuffled], ("uf1", "uar"), n_boot=300, seed=4) == one


def test_seed_bootstrap_widens_with_the_seeds_spread_and_centres_on_their_mean():
    """A recipe whose seeds disagree (one clearly above its floor, one clearly below) is not above its floor,
    although one seed's own subject interval says so."""
    floor = run(Y, noisy(Y, 0.6, 1), 8)
    lucky, unlucky = run(Y, noisy(Y, 0.95, 2), 8), run(Y, noisy(Y, 0.3, 3), 8)
    alone = paired_bootstrap(lucky, floor, ("uf1",), n_boot=400)["uf1"]
    both = seeds_paired_bootstrap([(lucky, floor), (unlucky, floor)], ("uf1",), n_boot=400)["uf1"]
    assert alone.low > 0 and both.low < 0 < both.high
    worse = paired_bootstrap(unlucky, floor, ("uf1",), n_boot=400)["uf1"]
    assert both.difference == pytest.approx((alone.difference + worse.difference) / 2)
    assert both.high - both.low > max(alone.high - alone.low, worse.high - worse.low)
    with pytest.raises(ValueError, match="other clips than seed 0's"):
        seeds_paired_bootstrap([(lucky, floor), (lucky.iloc[:-8], floor.iloc[:-8])])
    with pytest.raises(ValueError, match="at least one"):
        seeds_paired_bootstrap([])


def test_format_interval():
    assert format_interval(0.6112, 0.5617, 0.6583) == "0.611 [0.56, 0.66]"
    assert str(Interval(0.6112, 0.5617, 0.6583)) == "0.611 [0.56, 0.66]"
    assert format_interval(-0.0001, -0.004, 0.031, sign=True) == "+0.000 [0.00, 0.03]"  # never '-0.00'
    assert format_interval(None, 0.1, 0.2) == "-"


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_ci(run(Y, Y, 8), metrics=["f2"])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(run(Y, Y, 8), n_boot=0)
    with pytest.raises(ValueError, match="no predictions"):
        bootstrap_ci(run(Y, Y, 8).iloc[:0])
