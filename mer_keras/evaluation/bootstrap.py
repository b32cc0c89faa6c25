"""Subject-level bootstrap intervals for pooled UF1 / UAR / accuracy, and paired comparisons of two runs.

The LOSO unit is the subject, and clips of one subject are not independent (same face, same session,
often the same emotion), so resampling *clips* would give intervals that are too narrow. We resample
subjects with replacement (all clips of a drawn subject come along, as many times as it is drawn), pool
the drawn subjects' predictions and recompute the metric the MEGC 2019 way (pooled, never per fold).

Choices that are ours, not a paper's (no MER paper we reproduce reports intervals):

- percentile intervals (the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled
  values), 1000 resamples and seed 0 by default, so a rerun prints the same interval;
- subjects are drawn from the whole scored set without stratifying by dataset, so on the composite a
  resample's mix of CASME II / SMIC / SAMM subjects varies as it would with another draw of subjects;
- a paired comparison draws the *same* subjects for both runs in each resample, so what the two runs
  share (hard subjects, easy subjects) cancels in the difference; its interval covering 0 means the data
  cannot tell the two apart ("not distinguishable"), not that they are equal.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .metrics import check_predictions, confusion_scores

METRICS = ("uf1", "uar", "accuracy")
KEY = ["dataset", "subject", "clip"]
NOT_DISTINGUISHABLE = "not distinguishable"
DISTINGUISHABLE = "distinguishable"


def _round(value: float, digits: int) -> float:
    return round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0, so '-0.00' never prints


def format_interval(point, low, high, digits: int = 3, ci_digits: int = 2, sign: bool = False) -> str:
    """``0.611 [0.56, 0.66]`` (``sign=True`` writes ``+0.012 [-0.01, 0.03]`` for differences)."""
    if point is None or low is None or high is None:
        return "-"
    p = f"{_round(point, digits):+.{digits}f}" if sign else f"{_round(point, digits):.{digits}f}"
    return f"{p} [{_round(low, ci_digits):.{ci_digits}f}, {_round(high, ci_digits):.{ci_digits}f}]"


class Interval(NamedTuple):
    """A score and its bootstrap interval; ``str()`` gives ``0.611 [0.56, 0.66]``."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return format_interval(self.point, self.low, self.high)


class Difference(NamedTuple):
    """``a - b`` of one metric with its paired interval; ``verdict`` is 'not distinguishable' when it covers 0."""

    difference: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        return NOT_DISTINGUISHABLE if self.low <= 0 <= self.high else DISTINGUISHABLE

    def __str__(self) -> str:
        return f"{format_interval(self.difference, self.low, self.high, sign=True)} {self.verdict}"


def _metric_functions(metrics) -> dict:
    """Names (fast path, from confusion counts) or ``{name: fn(y_true, y_pred) -> float}`` (row path)."""
    if isinstance(metrics, str):
        metrics = [metrics]
    if callable(metrics):
        metrics = {getattr(metrics, "__name__", "metric"): metrics}
    if isinstance(metrics, dict):
        bad = [k for k, f in metrics.items() if not callable(f) and f not in METRICS]
        if bad:
            raise TypeError(f"metric(s) {bad} must be callables fn(y_true, y_pred) or one of {list(METRICS)}")
        return dict(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; name them from {list(METRICS)} or pass callables")
    return {m: m for m in metrics}


def _draws(n_subjects: int, n_boot: int, seed) -> np.ndarray:
    """``(n_boot, n_subjects)`` counts: how often each subject is drawn in each resample."""
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_subjects, size=(int(n_boot), n_subjects))
    weights = np.zeros((int(n_boot), n_subjects), dtype=np.int64)
    np.add.at(weights, (np.arange(int(n_boot))[:, None], picks), 1)
    return weights


def _codes(preds: pd.DataFrame, labels):
    """Subject codes, class codes of truth and prediction, and the number of classes."""
    subjects, s_code = np.unique(preds["subject"].astype(str).to_numpy(), return_inverse=True)
    t = preds["y_true"].to_numpy().astype(int)
    p = preds["y_pred"].to_numpy().astype(int)
    classes = np.unique(np.concatenate([t, p, np.asarray([] if labels is None else list(labels), dtype=int)]))
    return subjects, s_code, np.searchsorted(classes, t), np.searchsorted(classes, p), len(classes)


def _resampled(preds: pd.DataFrame, funcs: dict, weights: np.ndarray, labels) -> dict:
    """Each metric of the full set (``"point"``) and of every resample (``"boot"``, one value per row of weights)."""
    subjects, s_code, t, p, k = _codes(preds, labels)
    out = {}
    named = [m for m, f in funcs.items() if isinstance(f, str)]
    if named:
        per_subject = np.zeros((len(subjects), k, k))
        np.add.at(per_subject, (s_code, t, p), 1)
        full = confusion_scores(per_subject.sum(axis=0))
        boot = confusion_scores(np.einsum("bs,sij->bij", weights, per_subject))
        out.update({m: (full[funcs[m]], boot[funcs[m]]) for m in named})
    rows_of = [np.flatnonzero(s_code == s) for s in range(len(subjects))]
    y_true, y_pred = preds["y_true"].to_numpy(), preds["y_pred"].to_numpy()
    for m, f in funcs.items():
        if isinstance(f, str):
            continue
        values = []
        for w in weights:
            idx = np.concatenate([np.tile(rows_of[s], c) for s, c in enumerate(w) if c])
            values.append(float(f(y_true[idx], y_pred[idx])))
        out[m] = (float(f(y_true, y_pred)), np.asarray(values))
    return out


def _bounds(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _checked_rows(preds, name: str) -> pd.DataFrame:
    check_predictions(preds)
    if len(preds) == 0:
        raise ValueError(f"{name} holds no predictions to resample")
    return preds


def bootstrap_ci(preds: pd.DataFrame, metrics=METRICS, n_boot: int = 1000, seed=0, level: float = 0.95,
                 labels=None) -> dict:
    """``{metric: Interval(point, low, high)}`` of pooled predictions, resampling subjects with replacement.

    ``preds`` has the columns of a run's pooled fold predictions (``dataset, subject, clip, y_true,
    y_pred``). ``metrics`` are names from ``METRICS`` or ``{name: fn(y_true, y_pred)}``; ``labels`` is the
    protocol's class set (optional, as in ``metrics.scores``). The point is the metric of all of ``preds``.
    """
    preds = _checked_rows(preds, "preds")
    funcs = _metric_functions(metrics)
    weights = _draws(preds["subject"].nunique(), n_boot, seed)
    return {m: Interval(point, *_bounds(boot, level))
            for m, (point, boot) in _resampled(preds, funcs, weights, labels).items()}


def intervals_of(preds: pd.DataFrame, n_boot: int = 1000, seed=0, level: float = 0.95, labels=None) -> dict:
    """The ``results.json`` form, ``{"uf1": [low, high], "uar": [...], "accuracy": [...]}``."""
    ci = bootstrap_ci(preds, METRICS, n_boot=n_boot, seed=seed, level=level, labels=labels)
    return {m: [c.low, c.high] for m, c in ci.items()}


def _clip_keys(preds: pd.DataFrame) -> pd.Series:
    """``dataset/subject/clip`` of every row: what pairs the rows of two runs."""
    return preds[KEY].astype(str).agg("/".join, axis=1)


def paired(preds_a: pd.DataFrame, preds_b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``preds_b`` in the row order of ``preds_a``; an error names the clips (or truths) that differ."""
    a = _checked_rows(preds_a, "preds_a").reset_index(drop=True)
    b = _checked_rows(preds_b, "preds_b")
    ka, kb = _clip_keys(a), _clip_keys(b)
    only_a, only_b = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
    if only_a or only_b:
        raise ValueError(
            f"the two runs were not scored on the same clips: {len(only_a)} only in a (first {only_a[:3]}), "
            f"{len(only_b)} only in b (first {only_b[:3]}); a paired comparison needs the same clips")
    b = b.set_index(kb.to_numpy()).loc[ka.to_numpy()].reset_index(drop=True)
    differ = a["y_true"].to_numpy().astype(int) != b["y_true"].to_numpy().astype(int)
    if differ.any():
        raise ValueError(f"{int(differ.sum())} clips have different y_true in the two runs "
                         f"(first {ka[differ].tolist()[:3]}): not the same labels, cannot be paired")
    return a, b


def paired_bootstrap(preds_a: pd.DataFrame, preds_b: pd.DataFrame, metrics=("uf1", "uar"), n_boot: int = 1000,
                     seed=0, level: float = 0.95, labels=None) -> dict:
    """``{metric: Difference(a - b, low, high)}`` with the same subjects drawn for both runs in each resample.

    Both runs must hold the same clips with the same ``y_true`` (a ``ValueError`` names what differs).
    ``Difference.verdict`` is ``"not distinguishable"`` where the interval covers 0.
    """
    a, b = paired(preds_a, preds_b)
    return _difference(a, b, _metric_functions(metrics), n_boot, seed, level, labels)


def _difference(a: pd.DataFrame, b: pd.DataFrame, funcs: dict, n_boot, seed, level, labels) -> dict:
    """``{metric: Difference(a - b)}`` with the same subject draws on both sides (same subjects in a and b)."""
    weights = _draws(a["subject"].nunique(), n_boot, seed)
    ra, rb = _resampled(a, funcs, weights, labels), _resampled(b, funcs, weights, labels)
    return {m: Difference(ra[m][0] - rb[m][0], *_bounds(ra[m][1] - rb[m][1], level)) for m in funcs}


def subject_paired(preds_a: pd.DataFrame, preds_b: pd.DataFrame) -> None:
    """Check that two prediction sets hold the same subjects with the same class counts each (their clips need
    not be named alike); a ``ValueError`` names the first subjects that differ."""
    a, b = _checked_rows(preds_a, "preds_a"), _checked_rows(preds_b, "preds_b")
    counts_a, counts_b = (p.groupby(p["subject"].astype(str))["y_true"].value_counts().unstack(fill_value=0)
                          for p in (a, b))
    only_a, only_b = sorted(set(counts_a.index) - set(counts_b.index)), sorted(set(counts_b.index) - set(counts_a.index))
    if only_a or only_b:
        raise ValueError(f"not the same subjects: {len(only_a)} only in a (first {only_a[:3]}), {len(only_b)} only "
                         f"in b (first {only_b[:3]}); a paired comparison needs the same subjects")
    counts_a, counts_b = counts_a.align(counts_b, fill_value=0)
    differ = (counts_a != counts_b).any(axis=1)
    if differ.any():
        first = differ[differ].index[0]
        raise ValueError(f"{int(differ.sum())} subject(s) hold other class counts in the two sets (first {first}: "
                         f"{counts_a.loc[first].to_dict()} vs {counts_b.loc[first].to_dict()}): not the same clips or "
                         "not the same class codes, cannot be paired")


def subject_paired_bootstrap(preds_a: pd.DataFrame, preds_b: pd.DataFrame, metrics=("uf1", "uar"),
                             n_boot: int = 1000, seed=0, level: float = 0.95, labels=None) -> dict:
    """``paired_bootstrap`` for two sets whose clips cannot be matched one to one, only subject to subject (another
    codebase's log that prints each subject's truths and predictions without clip names).

    Each resample draws whole subjects, and a pooled UF1 / UAR / accuracy depends only on each subject's counts of
    (truth, prediction): for these metrics the result is ``paired_bootstrap``'s, bit for bit, whenever the clips
    could have been matched. Both sets must hold the same subjects with the same class counts each."""
    subject_paired(preds_a, preds_b)
    funcs = _metric_functions(metrics)
    if any(not isinstance(f, str) for f in funcs.values()):
        raise ValueError("subject_paired_bootstrap takes metric names only (a callable may need matched clips)")
    return _difference(preds_a, preds_b, funcs, n_boot, seed, level, labels)


def seeds_paired_bootstrap(pairs, metrics=("uf1",), n_boot: int = 1000, seed=0, level: float = 0.95,
                           labels=None) -> dict:
    """``{metric: Difference}`` of the mean of ``a - b`` over training seeds, resampling seeds *and* subjects.

    ``pairs`` holds one ``(preds_a, preds_b)`` per seed (e.g. a network and its same-fold floor), all on the
    same clips. Each resample draws the seeds with replacement and, independently, the subjects (the same
    subjects for every seed and both sides), and averages the drawn seeds' paired differences: a two-level
    bootstrap, so the interval covers what another training seed would change as well as another draw of
    subjects, which ``paired_bootstrap`` of one seed does not. With one seed, or seeds that predict alike, it
    is ``paired_bootstrap``'s interval (same subject draws for the same ``seed``). Our choice, no paper's; with
    few seeds the seed level is coarse (three seeds allow ten distinct draws).
    """
    pairs = [paired(a, b) for a, b in pairs]
    if not pairs:
        raise ValueError("seeds_paired_bootstrap needs at least one (preds_a, preds_b) pair")
    keys = [_clip_keys(a) for a, _ in pairs]
    for k, key in enumerate(keys[1:], 1):
        if set(key) != set(keys[0]):
            raise ValueError(f"seed {k}'s runs hold other clips than seed 0's: a seed bootstrap needs the same clips")
    # one row order and one class set for every seed, so subject k of the draws is the same subject everywhere
    pairs = [(a.set_index(key.to_numpy()).loc[keys[0].to_numpy()].reset_index(drop=True),
              b.set_index(key.to_numpy()).loc[keys[0].to_numpy()].reset_index(drop=True))
             for (a, b), key in zip(pairs, keys)]
    classes = np.unique(np.concatenate([p[c].to_numpy().astype(int) for pair in pairs for p in pair
                                        for c in ("y_true", "y_pred")]))
    labels = classes if labels is None else np.union1d(classes, list(labels))
    funcs = _metric_functions(metrics)
    weights = _draws(pairs[0][0]["subject"].nunique(), n_boot, seed)
    seed_picks = np.random.default_rng([int(seed), 1]).integers(0, len(pairs), size=(int(n_boot), len(pairs)))
    out = {}
    per_seed = [(_resampled(a, funcs, weights, labels), _resampled(b, funcs, weights, labels)) for a, b in pairs]
    for m in funcs:
        points = np.array([ra[m][0] - rb[m][0] for ra, rb in per_seed])
        boots = np.stack([ra[m][1] - rb[m][1] for ra, rb in per_seed])  # (seeds, n_boot)
        resampled = boots[seed_picks, np.arange(int(n_boot))[:, None]].mean(axis=1)
        out[m] = Difference(float(points.mean()), *_bounds(resampled, level))
    return out
