"""Paper 000 (issue 24): pre-training classes balanced by undersampling, and the sequence reading of fine-tuning."""
import numpy as np
import pytest

from mer_keras.training.config import PretrainConfig, load_experiment
from mer_keras.training.fit import BalancedBatches


def test_undersampling_draws_every_class_as_often_as_the_smallest_without_repetition():
    y = np.array([0] * 12 + [1] * 5 + [2] * 8)
    x = np.arange(len(y), dtype="float32").reshape(-1, 1, 1, 1)
    b = BalancedBatches(x, y, batch_size=4, num_classes=3, seed=0, sampling="undersample")
    subsets = []
    for _ in range(6):
        order = b.order
        assert np.bincount(y[order], minlength=3).tolist() == [5, 5, 5]
        assert len(set(order.tolist())) == len(order) == 15  # no clip twice within the epoch
        assert set(np.flatnonzero(y == 1)) <= set(order.tolist())  # the smallest class whole
        batches = [b.batch(i)[0][:, 0, 0, 0].astype(int).tolist() for i in range(len(b))]
        assert [len(part) for part in batches] == [4, 4, 4, 3]  # the last batch short, not topped up
        assert sorted(i for part in batches for i in part) == sorted(order.tolist())
        subsets.append(frozenset(order[y[order] == 0].tolist()))
        b.new_epoch()
    assert len(set(subsets)) > 1  # a different subset of the largest class each epoch


def test_oversampling_stays_the_default_and_repeats_minority_clips():
    y = np.array([0] * 12 + [1] * 5 + [2] * 8)
    x = np.zeros((len(y), 1, 1, 1), "float32")
    b = BalancedBatches(x, y, batch_size=4, num_classes=3, seed=0)
    counts = np.bincount(y[b.order], minlength=3)
    assert min(counts) >= 12 and len(b.order) % 4 == 0
    assert len(set(b.order.tolist())) < len(b.order)  # with replacement
    with pytest.raises(ValueError, match="sampling"):
        BalancedBatches(x, y, batch_size=4, num_classes=3, sampling="under")


def test_pretraining_passes_its_sampling_to_the_batches(monkeypatch):
    from mer_keras.training import fit, stages

    seen = {}

    def fake_train(model, x, y, **kw):
        seen.update(kw)
        return {}

    monkeypatch.setattr(stages, "train_classifier", fake_train)
    data = stages.TrainSet(np.zeros((4, 2, 2, 1), "float32"), np.array([0, 1, 0, 1]), np.array(list("abab")), 2)
    stages.train(None, data, PretrainConfig(balanced_sampling="undersample"), seed=0, kind="image")
    assert seen["sampling"] == "undersample"
    assert fit.train_classifier.__kwdefaults__["sampling"] == "oversample"


def test_paper_000_pretrains_on_undersampled_classes_and_its_table_says_so():
    exp = load_experiment("liu2022_shufflenet", synthme=True)
    assert {v.pretrain.balanced_sampling for v in exp.variants} == {"undersample"}
    for name in ("liu2022_shufflenet_ablation", "liu2022_shufflenet_baselines"):
        assert {v.pretrain.balanced_sampling for v in load_experiment(name).variants} == {"undersample"}
    old = load_experiment("liu2022_shufflenet", overrides={"pretrain": {"balanced_sampling": "oversample"}})
    assert old.variants[0].pretrain.balanced_sampling == "oversample"
    assert PretrainConfig().balanced_sampling == "oversample"  # other experiments keep today's sampling
