"""UF1 / UAR / accuracy against confusion matrices counted by hand (MEGC 2019 definitions)."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from mer_keras.evaluation import accuracy, confusion, pooled_scores, uar, uf1


def expand(matrix):
    """y_true, y_pred with matrix[i][j] clips of true class i predicted as j."""
    t, p = [], []
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            t += [i] * count
            p += [j] * count
    return np.array(t), np.array(p)


# rows = true (negative, positive, surprise), columns = predicted
HAND = [[5, 1, 0],
        [2, 2, 0],
        [1, 0, 2]]
# TP = 5, 2, 2; FP = (2+1), 1, 0; FN = 1, 2, 1; n = 6, 4, 3
HAND_UF1 = (2 * 5 / (2 * 5 + 3 + 1) + 2 * 2 / (2 * 2 + 1 + 2) + 2 * 2 / (2 * 2 + 0 + 1)) / 3
HAND_UAR = (5 / 6 + 2 / 4 + 2 / 3) / 3
HAND_ACC = (5 + 2 + 2) / 13


def test_metrics_match_hand_computed_confusion_matrix():
    t, p = expand(HAND)
    assert confusion(t, p, labels=[0, 1, 2]).tolist() == HAND
    assert uf1(t, p) == pytest.approx(HAND_UF1)
    assert uar(t, p) == pytest.approx(HAND_UAR)
    assert accuracy(t, p) == pytest.approx(HAND_ACC)
    assert uar(t, p) == pytest.approx(balanced_accuracy_score(t, p))


def test_all_negative_predictor_on_megc_class_counts():
    t = np.array([0] * 250 + [1] * 109 + [2] * 83)
    p = np.zeros_like(t)
    assert accuracy(t, p) == pytest.approx(250 / 442)  # the guideline's 0.565
    assert 0.565 <= accuracy(t, p) < 0.566  # 0.5656..., printed as 0.565 by the organisers
    assert uar(t, p) == pytest.approx(1 / 3)
    # negative: TP 250, FP 192, FN 0; positive and surprise: F1 = 0
    assert uf1(t, p) == pytest.approx((2 * 250 / (2 * 250 + 192)) / 3)


def preds(rows):
    return pd.DataFrame(rows, columns=["dataset", "subject", "clip", "y_true", "y_pred"])


def test_pooled_scores_pool_folds_instead_of_averaging_them():
    fold_a = [("casme2", "casme2/sub01", "a1", 0, 0), ("casme2", "casme2/sub01", "a2", 1, 1)]
    fold_b = [("casme2", "casme2/sub02", f"b{i}", t, 0) for i, t in enumerate([0, 0, 0, 1])]
    df = preds(fold_a + fold_b)
    # fold A is perfect (UF1 1); fold B: F1_0 = 6/(6+1), F1_1 = 0 -> UF1 3/7; mean of folds 5/7
    per_fold_mean = (1 + (6 / 7 + 0) / 2) / 2
    # pooled: class 0 TP 4 FP 1 FN 0 -> 8/9; class 1 TP 1 FP 0 FN 1 -> 2/3
    pooled = (8 / 9 + 2 / 3) / 2
    s = pooled_scores(df)
    assert s["all"]["uf1"] == pytest.approx(pooled)
    assert s["all"]["uf1"] != pytest.approx(per_fold_mean)
    assert s["all"]["uar"] == pytest.approx((4 / 4 + 1 / 2) / 2)
    assert s["all"]["accuracy"] == pytest.approx(5 / 6)
    assert s["all"]["n"] == 6


def test_pooled_scores_per_dataset_and_composite():
    t1, p1 = expand([[3, 1, 0], [0, 2, 0], [0, 1, 1]])   # casme2
    t2, p2 = expand([[2, 0, 0], [1, 1, 0], [0, 0, 2]])   # samm
    rows = [("casme2", "casme2/sub01", f"c{i}", a, b) for i, (a, b) in enumerate(zip(t1, p1))]
    rows += [("samm", "samm/006", f"s{i}", a, b) for i, (a, b) in enumerate(zip(t2, p2))]
    s = pooled_scores(preds(rows), labels=[0, 1, 2])
    assert list(s) == ["all", "casme2", "samm"]
    # casme2: TP 3,2,1 FP 0,2,0 FN 1,0,1
    assert s["casme2"]["uf1"] == pytest.approx((6 / 7 + 4 / 6 + 2 / 3) / 3)
    assert s["casme2"]["uar"] == pytest.approx((3 / 4 + 2 / 2 + 1 / 2) / 3)
    # samm: TP 2,1,2 FP 1,0,0 FN 0,1,0
    assert s["samm"]["uf1"] == pytest.approx((4 / 5 + 2 / 3 + 1) / 3)
    assert s["samm"]["accuracy"] == pytest.approx(5 / 6)
    # composite = sum of both matrices [[5,1,0],[1,3,0],[0,1,3]]: TP 5,3,3 FP 1,2,0 FN 1,1,1
    assert s["all"]["uf1"] == pytest.approx((10 / 12 + 6 / 9 + 6 / 7) / 3)
    assert s["all"]["uar"] == pytest.approx((5 / 6 + 3 / 4 + 3 / 4) / 3)
    assert (s["all"]["n"], s["casme2"]["n"], s["samm"]["n"]) == (4 + 2 + 2 + 2 + 2 + 2, 8, 6)


def test_class_absent_from_ground_truth_is_left_out_of_the_average():
    # class 2 has no true clip but is predicted once: classes scored are 0 and 1
    # class 0: TP 1 FP 0 FN 1 -> 2/3; class 1: TP 2 FP 0 FN 0 -> 1
    t, p = [0, 0, 1, 1], [0, 2, 1, 1]
    assert uf1(t, p, labels=[0, 1, 2]) == pytest.approx((2 / 3 + 1) / 2)
    assert uar(t, p, labels=[0, 1, 2]) == pytest.approx((1 / 2 + 1) / 2)
    assert accuracy(t, p) == pytest.approx(3 / 4)
    # absent from truth and prediction: a perfect subset scores 1, not 2/3
    assert uf1([0, 1], [0, 1], labels=[0, 1, 2]) == 1.0
    assert uar([0, 1], [0, 1], labels=[0, 1, 2]) == 1.0


@pytest.mark.parametrize(
    "y_true, y_pred, labels, message",
    [
        ([0, 1], [0], None, "entries"),
        ([], [], None, "empty"),
        ([0, 3], [0, 1], [0, 1, 2], "not among labels"),
        ([0, 1], [0, 5], [0, 1, 2], "not among labels"),
        ([0.5, 1], [0, 1], None, "integer"),
        (["neg", "pos"], ["neg", "pos"], None, "integer"),
        ([0, np.nan], [0, 1], None, "NaN"),
    ],
)
def test_bad_labels_raise_clear_errors(y_true, y_pred, labels, message):
    with pytest.raises(ValueError, match=message):
        uf1(y_true, y_pred, labels)


def test_pooled_scores_rejects_missing_columns_and_repeated_clips():
    with pytest.raises(ValueError, match="lack column"):
        pooled_scores(pd.DataFrame({"y_true": [0], "y_pred": [0]}))
    dup = preds([("samm", "samm/006", "006_1_2", 0, 0), ("samm", "samm/006", "006_1_2", 0, 1)])
    with pytest.raises(ValueError, match="exactly one fold"):
        pooled_scores(dup)
    with pytest.raises(TypeError):
        pooled_scores([(0, 0)])
