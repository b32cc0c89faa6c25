"""Leave-one-subject-out folds over a manifest, and subject-grouped splits inside a training fold.

The ``subject`` column of a manifest is dataset-qualified ('casme2/sub01', 'samm/006'), so LOSO over
a manifest holding several datasets is the MEGC 2019 composite protocol (68 folds over CASME II,
SMIC-HS and SAMM), and LOSO over one dataset's rows is the per-dataset protocol (CASME II 5-class,
MMEW, ...): both are the same call on a different set of rows.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from ..errors import InputError


class Fold(NamedTuple):
    """One LOSO fold: the held-out subject and *positional* row indices into the manifest."""

    subject: str
    train_idx: np.ndarray
    test_idx: np.ndarray


def _subjects(manifest: pd.DataFrame) -> np.ndarray:
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    if "subject" not in manifest.columns:
        raise ValueError("manifest has no 'subject' column; LOSO needs one subject key per clip")
    subjects = manifest["subject"]
    if subjects.isna().any():
        rows = list(manifest.index[subjects.isna()][:5])
        raise ValueError(f"manifest rows {rows} have no subject")
    return subjects.astype(str).to_numpy()


def loso_folds(manifest: pd.DataFrame, datasets=None) -> list[Fold]:
    """Leave-one-subject-out folds (sklearn ``LeaveOneGroupOut`` on ``subject``), sorted by subject.

    ``datasets`` (optional) restricts the folds to the rows of those datasets; the indices stay
    positional in ``manifest`` so they can index arrays aligned with it (``X[fold.train_idx]``).
    """
    subjects = _subjects(manifest)
    positions = np.arange(len(manifest))
    if datasets is not None:
        wanted = {datasets} if isinstance(datasets, str) else set(datasets)
        if "dataset" not in manifest.columns:
            raise ValueError("manifest has no 'dataset' column to select datasets from")
        present = set(manifest["dataset"].astype(str))
        unknown = sorted(wanted - present)
        if unknown:
            raise ValueError(f"dataset(s) {unknown} not in the manifest (it holds {sorted(present)})")
        positions = positions[manifest["dataset"].astype(str).isin(wanted).to_numpy()]
        subjects = subjects[positions]
    n_subjects = len(np.unique(subjects))
    if n_subjects < 2:
        raise InputError(f"LOSO needs at least 2 subjects, the selected rows hold {n_subjects}")
    folds = []
    for train, test in LeaveOneGroupOut().split(positions, groups=subjects):
        folds.append(Fold(str(subjects[test[0]]), positions[train], positions[test]))
    return sorted(folds, key=lambda f: f.subject)


PUBLISHED_CLASS_COUNTS = {
    "casme2-4class-jin2024": {
        "paper": "paper 001 (Jin et al. 2024), Sec. 4.1 and the Figure 10 discussion",
        "dataset": "casme2",
        "counts": {"negative": 63, "positive": 32, "surprise": 25, "other": 126},
        "note": "negative = disgust 63, positive = happiness 32, surprise 25, other = repression 27 + others 99; "
                "246 clips, OTHER 51.2 %",
    },
}
"""Clips per class that a paper prints for a protocol, to set a manifest's counts beside (issue 24)."""


def counts_beside_published(manifest: pd.DataFrame, protocol: str | None = None) -> str | None:
    """The manifest's clips per class beside the paper's for ``protocol`` (default: the manifest's own
    ``protocol`` column), with each class's share of the total; None when no paper prints counts for it.

    Only the rows of the paper's dataset are counted when the manifest says which dataset each row is from."""
    if protocol is None:
        found = set(manifest["protocol"].astype(str)) if "protocol" in manifest.columns and len(manifest) else set()
        protocol = found.pop() if len(found) == 1 else None
    published = PUBLISHED_CLASS_COUNTS.get(protocol)
    if published is None:
        return None
    rows = manifest
    if "dataset" in rows.columns and len(rows):
        family = rows["dataset"].astype(str).str.split("-").str[0]
        if (family == published["dataset"]).any():
            rows = rows[(family == published["dataset"]).to_numpy()]
    here = rows["class_name"].astype(str).value_counts() if len(rows) else pd.Series(dtype=int)
    paper = published["counts"]
    total_here, total_paper = len(rows), sum(paper.values())

    def share(n, total):
        return f"{n:>5} ({100.0 * n / total:5.1f} %)" if total else f"{n:>5} (   - %)"

    lines = [f"clips per class under {protocol} beside {published['paper']}:",
             f"{'class':<10} {'here':>14} {'paper':>14}"]
    for name, n_paper in paper.items():
        lines.append(f"{name:<10} {share(int(here.get(name, 0)), total_here):>14} {share(n_paper, total_paper):>14}")
    lines.append(f"{'total':<10} {total_here:>14} {total_paper:>14}")
    lines.append(f"(paper: {published['note']})")
    return "\n".join(lines)


def inner_group_splits(groups, n_splits: int = 5) -> GroupKFold:
    """Subject-grouped K-fold for model selection inside one training fold.

    Pass it as ``GridSearchCV(cv=inner_group_splits(groups))`` and call ``fit(X, y, groups=groups)``,
    so no subject is ever on both sides of an inner split. ``n_splits`` is lowered to the number of
    distinct subjects when the training fold has fewer (then it is leave-one-subject-out).
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise ValueError("groups must be a non-empty one-dimensional sequence of subject keys")
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    n_groups = len(pd.unique(groups))
    if n_groups < 2:
        raise ValueError(f"subject-grouped splits need at least 2 subjects, got {n_groups}")
    return GroupKFold(n_splits=min(n_splits, n_groups))
