"""``MER_KERAS_GRAPH_OPTIMIZER``: TensorFlow's graph optimiser as a recorded run setting (the suite runs with it
off; a user's run keeps it on)."""
import pytest

from mer_keras.errors import ConfigError
from mer_keras.training.config import load_experiment
from mer_keras.training.networks import GRAPH_OPTIMIZER_ENV, RunSettings


@pytest.mark.parametrize(("value", "recorded"), [(None, None), ("on", None), ("OFF", "off"), ("eager", "eager")])
def test_the_setting_comes_from_the_environment_and_is_recorded_when_not_on(monkeypatch, value, recorded):
    if value is None:
        monkeypatch.delenv(GRAPH_OPTIMIZER_ENV, raising=False)
    else:
        monkeypatch.setenv(GRAPH_OPTIMIZER_ENV, value)
    settings = RunSettings.of(load_experiment("liong2019_ststnet"))
    assert settings.graph_optimizer == (recorded or "on")
    # recorded in results.json and in the folds' setup only when off, so runs made before the setting match
    assert settings.as_dict().get("graph_optimizer") == recorded


def test_a_wrong_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(GRAPH_OPTIMIZER_ENV, "fast")
    with pytest.raises(ConfigError, match=f"{GRAPH_OPTIMIZER_ENV} must be 'on', 'off' or 'eager', got 'fast'"):
        RunSettings.of(load_experiment("liong2019_ststnet"))


def test_a_resume_with_the_other_setting_is_refused(monkeypatch, tmp_path):
    """The folds of a run made with the optimiser off are not pooled with folds made with it on."""
    import numpy as np

    from mer_keras.api import run_loso
    from mer_keras.training.networks import (
        configure_graph_optimizer,
        graph_optimizer_setting,
    )

    before = graph_optimizer_setting()  # the suite's own, restored below (the setting is process-wide)
    rng = np.random.default_rng(0)
    x, y = rng.random((9, 28, 28, 3), dtype=np.float32), np.arange(9) % 3
    groups = np.repeat(["a", "b", "c"], 3)
    tiny = {"finetune": {"epochs": 1}, "head": {"kind": "softmax"}}
    monkeypatch.setenv(GRAPH_OPTIMIZER_ENV, "off")
    run_loso(x, y, groups, "liong2019_ststnet", out=tmp_path / "run", overrides=tiny)
    monkeypatch.setenv(GRAPH_OPTIMIZER_ENV, "on")
    try:
        with pytest.raises(ValueError, match="other settings"):
            run_loso(x, y, groups, "liong2019_ststnet", out=tmp_path / "run", overrides=tiny)
    finally:
        configure_graph_optimizer(before)
