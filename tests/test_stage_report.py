"""The stage report (issue 21): probes on unseen training subjects, per-epoch inner UAR, the summary and figure."""
import dataclasses

import numpy as np
import pytest

from mer_keras.evaluation.stage_report import format_stages, plot_stages, stage_summary
from mer_keras.training.config import load_experiment
from mer_keras.training.fold import FoldData, run_fold
from mer_keras.training.probes import pixel_probe, probe_uar
from mer_keras.training.stages import TrainSet

FAST = {"finetune": {"epochs": 3, "batch_size": 8}}


def _separable(n=40, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, noise, (n, 28, 28, 3)).astype("float32")
    x[np.arange(n), :, :, y] += 1.0  # the class is the bright channel
    return x, y


def test_the_probe_scores_unseen_subjects_and_says_when_it_cannot():
    x, y = _separable()
    fit, val = np.arange(30), np.arange(30, 40)
    assert pixel_probe(x, y, fit, val) == 1.0
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(40, 50))
    assert probe_uar(noise, y, fit, val) < 0.8  # no signal, no perfect probe
    assert probe_uar(noise, np.zeros(40, int), fit, val) is None  # one class to fit: nothing to probe


def _data():
    x, y = _separable(60, noise=0.5)
    groups = np.repeat([f"s{i}" for i in range(10)], 6)
    return FoldData(train=TrainSet(x, y, groups, 3), x_test=x[:3])


@pytest.mark.parametrize("checkpoint", ["last_inner_val", "best_inner_val"])
def test_a_fold_with_an_inner_split_records_the_curve_and_the_probes(checkpoint):
    variant = load_experiment("liong2019_ststnet", overrides=FAST).variants[0]
    variant = dataclasses.replace(variant, finetune=dataclasses.replace(variant.finetune, checkpoint=checkpoint))
    history = run_fold(variant, _data(), seed=0).history["finetune"]
    assert len(history["inner_val_uar"]) == 3
    assert history["inner_val_epochs"] == [0, 1, 2]
    if checkpoint == "last_inner_val":
        assert history["best_epoch"] == 2  # the last epoch is kept, whatever the curve says
    assert set(history["probe_uar"]) == {"pixels", "before", "after"}
    assert history["probe_uar"]["pixels"] == 1.0  # the bright channel survives the 16x16 downsample
    assert all(0.0 <= v <= 1.0 for v in history["probe_uar"].values())


def test_a_fold_without_an_inner_split_has_no_probe():
    variant = load_experiment("liong2019_ststnet", overrides=FAST).variants[0]
    assert variant.finetune.checkpoint == "last"
    assert "probe_uar" not in run_fold(variant, _data(), seed=0).history["finetune"]


def test_the_summary_the_table_and_the_figure(tmp_path):
    def fold(curve, pixels, after, collapsed=False):
        return {"history": {"pretrain": {"inner_val_uar": curve, "best_epoch": int(np.argmax(curve)),
                                         "probe_uar": {"pixels": pixels, "before": 0.3, "after": after}},
                            "finetune": {"loss": [1.0, 0.5]},
                            "collapse": {"collapsed": collapsed}}}

    details = [fold([0.3, 0.5, 0.4], 0.7, 0.6), fold([0.3, 0.7, 0.6], 0.5, 0.4, collapsed=True)]
    summary = stage_summary(details)
    assert summary["folds"] == 2 and summary["collapsed_folds"] == 1
    assert "finetune" not in summary  # no inner split there: nothing measured on unseen subjects
    pre = summary["pretrain"]
    np.testing.assert_allclose(pre["inner_val_uar"], [0.3, 0.6, 0.5])
    assert pre["probe_pixels"]["mean"] == pytest.approx(0.6) and pre["probe_after"]["mean"] == pytest.approx(0.5)
    text = format_stages("v", summary, chance=1 / 3)
    assert "1 collapsed" in text and "0.600 (2)" in text and "0.600 ±0.10" in text
    assert summary["pretrain"]["inner_val_epochs"] == [1, 2, 3]
    path = plot_stages(summary, tmp_path / "stages.png", chance=1 / 3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no stage"):
        plot_stages(stage_summary([{"history": {}}]), tmp_path / "none.png")
    assert "nothing measured" in format_stages("v", stage_summary([{"history": {}}]))


def test_a_long_stage_that_keeps_its_last_epoch_is_evaluated_at_most_curve_points_times():
    from mer_keras.training import stages

    variant = load_experiment("liong2019_ststnet", overrides={"finetune": {
        "epochs": 60, "batch_size": 64, "checkpoint": "last_inner_val"}}).variants[0]
    history = stages.finetune(variant, _data().train, seed=0)[1]
    assert stages.CURVE_POINTS == 25  # 60 epochs: every third one, the last included
    assert history["inner_val_epochs"] == list(range(2, 60, 3))
    assert len(history["inner_val_uar"]) == 20 and history["best_epoch"] == 59
