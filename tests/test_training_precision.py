"""Mixed precision as a run setting: checked, applied to the networks, recorded, and scoped to the run."""
import keras
import numpy as np
import pytest

import mer_keras
from mer_keras.errors import ConfigError
from mer_keras.training.config import NetworkConfig, load_experiment
from mer_keras.training.fit import ready_to_train
from mer_keras.training.networks import dtype_policy, fresh_model


def test_precision_is_a_checked_run_setting():
    assert load_experiment("liu2022_shufflenet").precision == "float32"
    assert load_experiment("liu2022_shufflenet", overrides={"precision": "mixed_bfloat16"}).precision \
        == "mixed_bfloat16"
    with pytest.raises(ConfigError, match=r"precision: got 'bf16'"):
        load_experiment("liu2022_shufflenet", overrides={"precision": "bf16"})


def test_a_mixed_network_computes_in_its_dtype_from_the_float32_initial_weights():
    shape, net = (32, 32, 1), NetworkConfig()
    reference = [w.copy() for w in fresh_model("shufflenet_v2", shape, 3, net, seed=5).get_weights()]
    with dtype_policy("mixed_bfloat16"):
        mixed = fresh_model("shufflenet_v2", shape, 3, net, seed=5)
    assert keras.config.dtype_policy().name == "float32"  # the caller's policy is back
    convs = [layer for layer in mixed._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(w.dtype == np.float32 for w in mixed.get_weights())
    for a, b in zip(reference, mixed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_reused_float16_model_starts_every_fold_with_a_fresh_loss_scale():
    """The cached compiled model's optimizer is reset between folds; zeroing a LossScaleOptimizer's scale
    with the rest would multiply every later gradient by 0."""
    with dtype_policy("mixed_float16"):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    ready_to_train(model, "adam", 1e-2)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).random((8, 4), dtype="float32")
    y = keras.utils.to_categorical(np.arange(8) % 3, 3)
    model.train_on_batch(x, y)
    ready_to_train(model, "adam", 1e-2)  # the next fold
    scale = float(keras.ops.convert_to_numpy(model.optimizer.dynamic_scale))
    assert scale == model.optimizer.initial_scale > 0
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_run_loso_under_mixed_precision_scores_and_leaves_float32_behind(monkeypatch):
    from mer_keras.training import stages

    policies = []

    def recording_fresh_model(*args, **kwargs):
        policies.append(keras.config.dtype_policy().name)
        return fresh_model(*args, **kwargs)

    monkeypatch.setattr(stages, "fresh_model", recording_fresh_model)
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 8)
    x = rng.random((24, 32, 32, 1), dtype="float32") + y[:, None, None, None] * 0.5
    groups = np.repeat(["s1", "s2", "s3"], 8)
    result = mer_keras.run_loso(x, y, groups, "liu2022_shufflenet", overrides={
        "precision": "mixed_bfloat16", "pretrain": {"kind": "none"}, "head": {"kind": "softmax"},
        "finetune": {"epochs": 1, "batch_size": 8}, "preprocess": {"size": 32},
        "network": {"stage_repeats": [1, 1, 1]}})
    assert len(result["predictions"]) == 24
    assert set(result["predictions"]["y_pred"]) <= {0, 1, 2}
    assert result["scores"]["all"]["n"] == 24 and 0.0 <= result["scores"]["all"]["uf1"] <= 1.0
    assert policies and set(policies) == {"mixed_bfloat16"}  # every fold's network was built mixed
    assert keras.config.dtype_policy().name == "float32"
