"""``bn_statistics = "recomputed"``: BatchNorm's inference statistics are the training data's, not a moving
average that a few dozen steps leave near its initial state (issue 21's collapse on realdata-dev)."""
import keras
import numpy as np

from mer_keras.training.batchnorm import recompute_batchnorm_statistics


def _model():
    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    x = keras.layers.BatchNormalization(name="frozen_bn")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


def test_the_statistics_become_the_mean_of_the_batch_statistics_and_frozen_layers_keep_theirs():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, (70, 4)).astype("float32")  # far from the initial mean 0, variance 1
    model = _model()
    model.get_layer("frozen_bn").trainable = False
    frozen_before = [w.copy() for w in model.get_layer("frozen_bn").get_weights()]
    assert recompute_batchnorm_statistics(model, x, batch_size=32) == 1
    bn = model.get_layer("bn")
    batches = [x[:32], x[32:64]]  # the short last batch of 6 is left out
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], axis=0), rtol=1e-4)
    assert bn.momentum == 0.99  # restored
    assert recompute_batchnorm_statistics(model, x[:32] + 1.0, batch_size=32) == 1  # a second call, same trace
    np.testing.assert_allclose(bn.moving_mean.numpy(), x[:32].mean(0) + 1.0, rtol=1e-5)
    for before, after in zip(frozen_before, model.get_layer("frozen_bn").get_weights()):
        np.testing.assert_array_equal(before, after)


def test_inference_then_matches_training_mode_on_the_same_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, (32, 4)).astype("float32")
    model = _model()
    far = np.abs(model(x, training=False).numpy() - model(x, training=True).numpy()).max()
    recompute_batchnorm_statistics(model, x, batch_size=32)
    near = np.abs(model(x, training=False).numpy() - model(x, training=True).numpy()).max()
    assert far > 1.0 and near < 1e-2
