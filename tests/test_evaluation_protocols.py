"""LOSO folds over qualified subject keys, and subject-grouped inner splits."""
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV

from mer_keras.evaluation import inner_group_splits, loso_folds


def manifest():
    subjects = ["samm/006", "casme2/sub02", "casme2/sub01", "samm/006", "smic-hs/s1", "casme2/sub01"]
    return pd.DataFrame({
        "dataset": [s.split("/")[0] for s in subjects],
        "subject": subjects,
        "clip": [f"c{i}" for i in range(len(subjects))],
        "label": [0, 1, 2, 0, 1, 2],
    }, index=[10, 11, 12, 13, 14, 15])  # positions, not index labels, must come back


def test_loso_one_fold_per_subject_sorted_with_positional_indices():
    folds = loso_folds(manifest())
    assert [f.subject for f in folds] == ["casme2/sub01", "casme2/sub02", "samm/006", "smic-hs/s1"]
    by_subject = {f.subject: f for f in folds}
    assert by_subject["casme2/sub01"].test_idx.tolist() == [2, 5]
    assert by_subject["samm/006"].test_idx.tolist() == [0, 3]
    for f in folds:
        assert set(f.train_idx).isdisjoint(f.test_idx)
        assert sorted([*f.train_idx, *f.test_idx]) == list(range(6))
        assert f.subject not in set(manifest()["subject"].iloc[f.train_idx])
    assert loso_folds(manifest())[0].test_idx.tolist() == folds[0].test_idx.tolist()  # deterministic


def test_same_subject_name_in_two_datasets_stays_two_folds():
    df = pd.DataFrame({"dataset": ["casme2", "synthme"], "subject": ["casme2/sub01", "synthme/sub01"]})
    assert len(loso_folds(df)) == 2


def test_loso_restricted_to_one_dataset_keeps_manifest_positions():
    folds = loso_folds(manifest(), datasets="casme2")
    assert [f.subject for f in folds] == ["casme2/sub01", "casme2/sub02"]
    assert folds[0].test_idx.tolist() == [2, 5] and folds[0].train_idx.tolist() == [1]
    with pytest.raises(ValueError, match="not in the manifest"):
        loso_folds(manifest(), datasets=["mmew"])


def test_loso_bad_input():
    with pytest.raises(ValueError, match="at least 2 subjects"):
        loso_folds(manifest(), datasets="smic-hs")
    with pytest.raises(ValueError, match="no 'subject' column"):
        loso_folds(pd.DataFrame({"clip": ["a", "b"]}))
    with pytest.raises(ValueError, match="have no subject"):
        loso_folds(pd.DataFrame({"subject": ["a", None]}))


def test_inner_group_splits_never_split_a_subject_and_work_in_grid_search():
    groups = np.repeat(["s1", "s2", "s3", "s4"], 3)
    x = np.arange(len(groups), dtype=float).reshape(-1, 1)
    y = np.tile([0, 1, 2], 4)
    cv = inner_group_splits(groups, n_splits=5)
    assert cv.get_n_splits() == 4  # lowered to the 4 subjects available
    for train, test in cv.split(x, y, groups):
        assert set(groups[train]).isdisjoint(groups[test])
    search = GridSearchCV(DummyClassifier(), {"strategy": ["most_frequent", "uniform"]}, cv=cv)
    search.fit(x, y, groups=groups)
    assert search.n_splits_ == 4
    assert inner_group_splits(groups, n_splits=2).get_n_splits() == 2


def test_inner_group_splits_bad_input():
    with pytest.raises(ValueError, match="at least 2 subjects"):
        inner_group_splits(["s1", "s1", "s1"])
    with pytest.raises(ValueError, match="n_splits"):
        inner_group_splits(["s1", "s2"], n_splits=1)
    with pytest.raises(ValueError, match="non-empty"):
        inner_group_splits([])
