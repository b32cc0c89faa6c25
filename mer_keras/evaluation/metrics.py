"""UF1 / UAR / accuracy pooled over LOSO folds, as the MEGC 2019 guideline defines them.

The guideline sums TP, FP and FN of every class over *all* folds before computing F1 and recall, so
the metrics here always take the pooled predictions of a whole run, never per-fold averages (a
subject with two clips would otherwise weigh as much as one with thirty).

Classes absent from the ground truth. UF1 and UAR average over the classes that have at least one
ground-truth sample in the scored subset (the whole composite, or one dataset of it):

- the guideline's UAR is the mean of TP_c / n_c, which is undefined for n_c = 0;
- the MEGC evaluation script that most public repositories copy (``recognition_evaluation`` with a
  one-vs-rest ``confusion_matrix`` per class, e.g. in STSTNet / HTNet) skips a class that is absent
  from both truth and prediction, and returns NaN when the absent class is predicted;
- sklearn's ``balanced_accuracy_score`` likewise drops classes without true samples.

We follow that rule in both cases, so no NaN ever reaches a table: a prediction of an absent class
still counts, as a false negative of the clip's true class. On the real MEGC composite every dataset
holds all three classes, so the rule only matters for small or synthetic subsets.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

PREDICTION_COLUMNS = ("dataset", "subject", "clip", "y_true", "y_pred")
"""Columns of a predictions DataFrame (one row per test clip, all folds together)."""

ALL = "all"
"""Key of the composite (all datasets pooled) in score dictionaries."""


def _as_labels(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains missing values (NaN)")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class indices, got non-integer values")
        arr = arr.astype(int)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr


def _checked(y_true, y_pred, labels):
    """Validated integer arrays and the classes to average over (see module docstring)."""
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} entries but y_pred has {len(p)}")
    if len(t) == 0:
        raise ValueError("cannot score an empty set of predictions")
    if labels is not None:
        allowed = {int(c) for c in labels}
        for name, arr in (("y_true", t), ("y_pred", p)):
            unknown = sorted(set(arr.tolist()) - allowed)
            if unknown:
                raise ValueError(f"{name} holds class(es) {unknown} not among labels {sorted(allowed)}")
    scored = np.unique(t)
    return t, p, scored


def uf1(y_true, y_pred, labels=None) -> float:
    """Unweighted F1: mean over the classes present in ``y_true`` of 2TP / (2TP + FP + FN).

    ``labels`` (optional) is the protocol's full class set; values outside it raise ``ValueError``.
    """
    t, p, scored = _checked(y_true, y_pred, labels)
    return float(f1_score(t, p, labels=scored, average="macro", zero_division=0))


def uar(y_true, y_pred, labels=None) -> float:
    """Unweighted average recall: mean over the classes present in ``y_true`` of TP_c / n_c."""
    t, p, scored = _checked(y_true, y_pred, labels)
    return float(recall_score(t, p, labels=scored, average="macro", zero_division=0))


def accuracy(y_true, y_pred, labels=None) -> float:
    """Fraction of clips predicted correctly (over all clips, whatever their class)."""
    t, p, _ = _checked(y_true, y_pred, labels)
    return float(accuracy_score(t, p))


def confusion(y_true, y_pred, labels) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class, in the order of ``labels``."""
    t, p, _ = _checked(y_true, y_pred, labels)
    return confusion_matrix(t, p, labels=list(labels))


def scores(y_true, y_pred, labels=None) -> dict:
    """``{"uf1", "uar", "accuracy", "n"}`` of one set of predictions."""
    return {
        "uf1": uf1(y_true, y_pred, labels),
        "uar": uar(y_true, y_pred, labels),
        "accuracy": accuracy(y_true, y_pred, labels),
        "n": len(y_true),
    }


def check_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Raise a clear error when a predictions table lacks columns or counts a clip twice."""
    if not isinstance(predictions, pd.DataFrame):
        raise TypeError(f"predictions must be a pandas DataFrame, got {type(predictions).__name__}")
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack column(s) {missing}; expected {list(PREDICTION_COLUMNS)}")
    dup = predictions.duplicated(subset=["dataset", "subject", "clip"], keep=False)
    if dup.any():
        first = predictions.loc[dup, ["dataset", "subject", "clip"]].iloc[0].tolist()
        raise ValueError(
            f"{int(dup.sum())} prediction rows repeat a (dataset, subject, clip), first {first}; "
            "a clip must be tested in exactly one fold"
        )
    return predictions


def pooled_scores(predictions: pd.DataFrame, labels=None) -> dict:
    """Scores of the pooled predictions of all folds: ``{"all": {...}, "<dataset>": {...}, ...}``.

    ``predictions`` has the columns ``dataset, subject, clip, y_true, y_pred`` (one row per test clip
    over all folds). Each entry holds ``uf1, uar, accuracy, n``; datasets come in sorted order after
    ``"all"``. A per-dataset entry is the same metric on that dataset's subset of the pooled
    predictions (MEGC 2019), never a mean of per-fold numbers.
    """
    check_predictions(predictions)
    result = {ALL: scores(predictions["y_true"], predictions["y_pred"], labels)}
    for dataset, part in sorted(predictions.groupby("dataset", sort=True), key=lambda kv: str(kv[0])):
        if str(dataset) == ALL:
            raise ValueError(f"'{ALL}' is reserved for the composite and cannot be a dataset name")
        result[str(dataset)] = scores(part["y_true"], part["y_pred"], labels)
    return result


def confusion_scores(counts) -> dict:
    """UF1 / UAR / accuracy from confusion counts, vectorised over any leading axes.

    ``counts[..., i, j]`` is the number of clips of true class ``i`` predicted as ``j`` over one full label set.
    Same definitions as ``uf1`` / ``uar`` / ``accuracy`` (classes without a true clip are left out of the
    averages, a prediction of such a class still costs its clip's true class), computed from counts so the
    bootstrap can score a thousand resamples at once. Returns ``{"uf1", "uar", "accuracy"}`` as arrays of
    the leading shape (floats for a single matrix).
    """
    cm = np.asarray(counts, dtype=float)
    if cm.ndim < 2 or cm.shape[-1] != cm.shape[-2]:
        raise ValueError(f"counts must end in a square (K, K) confusion matrix, got shape {cm.shape}")
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    n_true = cm.sum(axis=-1)
    n_pred = cm.sum(axis=-2)
    total = n_true.sum(axis=-1)
    if np.any(total == 0):
        raise ValueError("cannot score an empty set of predictions")
    scored = n_true > 0
    n_scored = scored.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(scored, 2 * tp / (n_true + n_pred), 0.0)
        recall = np.where(scored, tp / n_true, 0.0)
    out = {"uf1": f1.sum(axis=-1) / n_scored, "uar": recall.sum(axis=-1) / n_scored,
           "accuracy": tp.sum(axis=-1) / total}
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}
