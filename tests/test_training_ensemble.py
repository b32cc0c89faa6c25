"""``finetune.members``: an ensemble of independently seeded networks per fold, the mean of their scores."""
import dataclasses

import numpy as np

from mer_keras.training.config import load_experiment
from mer_keras.training.fold import MEMBER_SEED_STEP, run_fold
from tests.test_stage_report import _data


def _variant(members, head="softmax"):
    v = load_experiment("liong2019_ststnet", overrides={"finetune": {"epochs": 2, "batch_size": 8}}).variants[0]
    return dataclasses.replace(v, finetune=dataclasses.replace(v.finetune, members=members),
                               head=dataclasses.replace(v.head, kind=head))


def test_the_ensemble_scores_are_the_mean_of_its_members():
    data = _data()
    pair = run_fold(_variant(2), data, seed=3)
    first = run_fold(_variant(1), data, seed=3)
    second = run_fold(_variant(1), data, seed=3 + MEMBER_SEED_STEP)
    np.testing.assert_allclose(pair.scores, (first.scores + second.scores) / 2, rtol=1e-6)
    np.testing.assert_array_equal(pair.y_pred, pair.scores.argmax(axis=1))
    assert [m["seed"] for m in pair.history["members"]] == [3, 3 + MEMBER_SEED_STEP]
    assert len(pair.head_params["members"]) == 2
    assert "members" not in first.history  # one network: the fold is what it always was
