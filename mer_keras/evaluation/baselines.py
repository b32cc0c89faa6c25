"""Same-fold baselines: what the prepared input alone scores on exactly the run's LOSO folds (issue 16).

A network's pooled UF1 means little without the floor beside it: on a few hundred clips a majority-class
guess and a linear classifier on the raw input set that floor. Both baselines here see the same rows the
network sees (the prepared input array, the same ``Fold`` list), and each fold's baseline is fitted on
that fold's training rows only:

- ``majority``: the most frequent class of the training fold (ties go to the smallest class index);
- ``linear_svm``: every clip downsampled to ``size`` x ``size`` (``cv2.resize``, ``INTER_AREA``, per clip,
  so no statistic crosses clips), flattened, standardised and classified by a linear SVM
  (``StandardScaler`` + ``SVC(kernel="linear", class_weight="balanced")``), with C chosen by
  ``GridSearchCV`` (macro F1) over subject-grouped inner splits of the training fold, as the SVM head
  of the network pipelines chooses its own;
- ``linear_svm_mirrored``: the same SVM fitted on the training clips *and their mirrors*
  (``preprocessing.augment.hflip``: flow mirrored with u negated), each mirror in its clip's subject group;
  held-out clips are scored as they are. The floor for a network trained with flips: it asks whether the
  network beats a linear model given the same augmentation (on realdata-dev the flips lift the linear SVM on
  the centred flow from 0.764 to 0.787 UF1, docs/experiments/reference_systems.md).

The downsampled side (16 px), the C grid and the balanced class weights are our choices (no paper we
reproduce reports such a baseline); they are recorded with each baseline's label.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..preprocessing.augment import hflip
from .bootstrap import intervals_of
from .metrics import PREDICTION_COLUMNS, pooled_scores
from .protocols import Fold, inner_group_splits, loso_folds

KINDS = ("majority", "linear_svm", "linear_svm_mirrored")
DEFAULT_KINDS = ("majority", "linear_svm")
"""The floors of every run; ``linear_svm_mirrored`` is added where the experiment asks (``mirrored_floor``)."""
DEFAULT_SIZE = 16
DEFAULT_C = (0.001, 0.01, 0.1, 1.0)


def baseline_label(kind: str, size: int | None = DEFAULT_SIZE, C=DEFAULT_C) -> str:
    """How a baseline row is named in tables and ``results.json``."""
    if kind == "majority":
        return "majority class of the training fold"
    if kind in ("linear_svm", "linear_svm_mirrored"):
        side = "at full size" if size is None else f"at {size}x{size} px"
        mirrors = ", trained on the training clips and their mirrors" if kind == "linear_svm_mirrored" else ""
        return f"linear SVM on the input {side}{mirrors}, C in {list(C)} chosen in the training fold"
    raise ValueError(f"unknown baseline kind {kind!r}; known: {list(KINDS)}")


def downsample(x, size: int | None = DEFAULT_SIZE) -> np.ndarray:
    """``(n, features)`` float32: each clip resized to ``size`` x ``size`` (``INTER_AREA``) and flattened.

    ``x`` is ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, T, H, W, C)`` (each of the T frames resized); an
    ``(n, d)`` array, or ``size=None``, is only flattened. Spatial sides already at or below ``size`` are kept.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must hold at least one sample of at least one value, got shape {x.shape}")
    if size is None or x.ndim == 2:
        return x.reshape(len(x), -1)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"x must be (n, H, W), (n, H, W, C) or (n, T, H, W, C), got shape {x.shape}")
    n = len(x)
    h, w = (x.shape[1], x.shape[2]) if x.ndim < 5 else (x.shape[2], x.shape[3])
    if h <= size and w <= size:
        return x.reshape(n, -1)
    frames = x.reshape((-1,) + x.shape[-3:]) if x.ndim == 5 else x
    small = np.stack([cv2.resize(f, (int(size), int(size)), interpolation=cv2.INTER_AREA) for f in frames])
    return small.reshape(n, -1)


def _linear_svm(seed: int) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("svc", SVC(kernel="linear", class_weight="balanced", random_state=seed))])


def fit_linear_svm(features, y, groups, *, C=DEFAULT_C, inner_splits: int = 3, seed: int = 0):
    """The fitted baseline of one training fold (a ``Pipeline``; a constant predictor for a single class).

    Inner splits group by subject (``inner_group_splits``); those whose training part holds one class
    cannot fit an SVC and are dropped. With no usable split (a fold of one or two subjects), the middle
    of the C grid is fitted without a search.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    classes = np.unique(y)
    if len(classes) < 2:
        return _Constant(classes[0])
    splits = []
    if len(np.unique(groups)) >= 2:
        cv = inner_group_splits(groups, n_splits=max(2, int(inner_splits)))
        splits = [(tr, te) for tr, te in cv.split(features, y, groups) if len(np.unique(y[tr])) > 1]
    if not splits:
        return _linear_svm(seed).set_params(svc__C=list(C)[len(C) // 2]).fit(features, y)
    search = GridSearchCV(_linear_svm(seed), {"svc__C": list(C)}, scoring="f1_macro", cv=splits, n_jobs=1)
    return search.fit(features, y).best_estimator_


class _Constant:
    def __init__(self, value):
        self.value = value

    def predict(self, features):
        return np.full(len(features), self.value)


def _majority(y_train) -> int:
    return int(np.argmax(np.bincount(np.asarray(y_train, dtype=int))))


def _check_fold(fold: Fold, groups: np.ndarray) -> None:
    """A fold whose training rows hold its test subject would leak: refuse it."""
    overlap = sorted(set(groups[fold.train_idx]) & set(groups[fold.test_idx]))
    if overlap or len(np.intersect1d(fold.train_idx, fold.test_idx)):
        raise ValueError(f"fold {fold.subject!r} trains on its own test subject(s) {overlap or [fold.subject]}")


def baseline_predictions(x, manifest: pd.DataFrame, folds=None, *, kind: str = "majority",
                         label_column: str = "label", seed: int = 0, size: int | None = DEFAULT_SIZE, C=DEFAULT_C,
                         inner_splits: int = 3, mirror_kind: str | None = None) -> pd.DataFrame:
    """The baseline's pooled fold predictions, in the columns of a run's (``PREDICTION_COLUMNS``).

    ``x`` is the prepared input aligned with ``manifest`` rows (the array the network folds index);
    ``folds`` the run's ``Fold`` list (``loso_folds(manifest)`` when None). Rows come fold by fold, in the
    order of ``folds``; rows outside every fold's test set are left out, as in a run. ``mirror_kind``
    (``hflip``'s ``kind``: "image", "flow", ...) says how ``linear_svm_mirrored`` mirrors a clip.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown baseline kind {kind!r}; known: {list(KINDS)}")
    if (kind == "linear_svm_mirrored") != (mirror_kind is not None):
        raise ValueError("mirror_kind (how a clip is mirrored) is needed by, and only by, kind 'linear_svm_mirrored'")
    missing = [c for c in ("dataset", "subject", "clip", label_column) if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}")
    if len(x) != len(manifest):
        raise ValueError(f"x has {len(x)} rows but the manifest {len(manifest)}; they must be aligned")
    folds = loso_folds(manifest) if folds is None else folds
    y = manifest[label_column].to_numpy().astype(int)
    groups = manifest["subject"].astype(str).to_numpy()
    features = None if kind == "majority" else downsample(x, size)
    mirrored = downsample(hflip(np.asarray(x, dtype=np.float32), mirror_kind), size) if mirror_kind else None
    parts = []
    for fold in folds:
        _check_fold(fold, groups)
        tr, te = fold.train_idx, fold.test_idx
        if kind == "majority":
            y_pred = np.full(len(te), _majority(y[tr]))
        else:
            train = features[tr] if mirrored is None else np.concatenate([features[tr], mirrored[tr]])
            times = 1 if mirrored is None else 2
            model = fit_linear_svm(train, np.tile(y[tr], times), np.tile(groups[tr], times), C=C,
                                   inner_splits=inner_splits, seed=seed)
            y_pred = np.asarray(model.predict(features[te])).astype(int)
        rows = manifest.iloc[te][["dataset", "subject", "clip"]].astype(str).reset_index(drop=True)
        parts.append(rows.assign(y_true=y[te], y_pred=y_pred))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PREDICTION_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(PREDICTION_COLUMNS)]


def baseline_results(x, manifest: pd.DataFrame, folds=None, *, kinds=DEFAULT_KINDS, labels=None, n_boot: int = 1000,
                     seed: int = 0, level: float = 0.95, label_column: str = "label", size: int | None = DEFAULT_SIZE,
                     C=DEFAULT_C, inner_splits: int = 3, mirror_kind: str | None = None) -> tuple[dict, dict]:
    """``(entries, predictions)``: the ``results.json["baselines"]`` entries and each baseline's predictions.

    ``entries[kind] = {"label", "scores" (as ``pooled_scores``), "intervals" ({"uf1": [lo, hi], ...},
    composite, subject bootstrap)}``; ``predictions[kind]`` is the DataFrame of ``baseline_predictions``.
    """
    entries, predictions = {}, {}
    for kind in kinds:
        preds = baseline_predictions(x, manifest, folds, kind=kind, label_column=label_column, seed=seed, size=size,
                                     C=C, inner_splits=inner_splits,
                                     mirror_kind=mirror_kind if kind == "linear_svm_mirrored" else None)
        entries[kind] = {"label": baseline_label(kind, size, C), "scores": pooled_scores(preds, labels=labels),
                         "intervals": intervals_of(preds, n_boot=n_boot, seed=seed, level=level, labels=labels)}
        predictions[kind] = preds
    return entries, predictions
