"""AdamP (paper 003's optimizer): steps against a NumPy transcription of the published update rule (official
clovaai/AdamP code, in torch's weight layout), serialization, and convergence on a toy problem."""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from mer_keras.training.adamp import AdamP


class ReferenceAdamP:
    """Heo et al. 2021 / clovaai AdamP ``step`` for one parameter ``p`` in torch layout (channel = axis 0)."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, delta=0.1, wd_ratio=0.1,
                 nesterov=False):
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.wd, self.delta, self.wd_ratio, self.nesterov = weight_decay, delta, wd_ratio, nesterov
        self.t, self.m, self.v = 0, None, None
        self.projected = None

    def _cos(self, x, y):  # F.cosine_similarity(dim=1).abs()
        return np.abs((x * y).sum(1)) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), self.eps)

    def _projection(self, p, grad, perturb):
        expand = (-1,) + (1,) * (p.ndim - 1)
        for view in (lambda a: a.reshape(a.shape[0], -1), lambda a: a.reshape(1, -1)):
            if self._cos(view(grad), view(p)).max() < self.delta / math.sqrt(view(p).shape[1]):
                p_n = p / (np.linalg.norm(view(p), axis=1).reshape(expand) + self.eps)
                perturb = perturb - p_n * view(p_n * perturb).sum(1).reshape(expand)
                return perturb, self.wd_ratio, view(p).shape[0]
        return perturb, 1.0, 0

    def step(self, p, grad):
        if self.m is None:
            self.m, self.v = np.zeros_like(p), np.zeros_like(p)
        self.t += 1
        bc1, bc2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        denom = np.sqrt(self.v) / math.sqrt(bc2) + self.eps
        perturb = (self.b1 * self.m + (1 - self.b1) * grad) / denom if self.nesterov else self.m / denom
        ratio, self.projected = 1.0, 0
        if p.ndim > 1:
            perturb, ratio, self.projected = self._projection(p, grad, perturb)
        if self.wd > 0:
            p = p * (1 - self.lr * self.wd * ratio)
        return p - self.lr / bc1 * perturb


def _radial_free(w, r, axis):
    """``r`` minus its component along ``w`` per slice over ``axis``: a scale-invariant weight's gradient."""
    return r - w * (w * r).sum(axis, keepdims=True) / (w * w).sum(axis, keepdims=True)


@pytest.mark.parametrize("kind, settings", [
    ("per_channel", {"weight_decay": 0.1}),   # gradient orthogonal to every output channel: channel view
    ("per_layer", {"weight_decay": 0.1}),     # orthogonal only to the whole tensor: layer view
    ("plain", {"weight_decay": 0.1}),         # not scale-invariant: Adam with full decay
    ("per_channel", {"nesterov": True, "wd_ratio": 0.5, "weight_decay": 0.02}),
])
def test_steps_match_the_published_update_rule(kind, settings):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(16, 4))  # Keras Dense layout (in, out); torch holds its transpose (out, in)
    reference = ReferenceAdamP(lr=0.01, **settings)
    optimizer = AdamP(learning_rate=0.01, **settings)
    variable = keras.Variable(kernel.astype("float64"), dtype="float64", name="kernel")
    torch_p = kernel.T.copy()
    for _ in range(3):
        r = rng.normal(size=kernel.shape)
        grad = {"per_channel": _radial_free(kernel, r, 0),
                "per_layer": _radial_free(kernel.reshape(1, -1), r.reshape(1, -1), 1).reshape(kernel.shape),
                "plain": r}[kind]
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
        torch_p = reference.step(torch_p, grad.T)
        kernel = keras.ops.convert_to_numpy(variable)
        # Keras keeps the learning rate in float32 (0.01 -> 0.0099999998): agreement to ~1e-8, not 1e-16
        np.testing.assert_allclose(kernel, torch_p.T, rtol=1e-7, atol=1e-9)
    # the test exercises the branch it names (a per-layer gradient is not orthogonal per channel)
    assert reference.projected == {"per_channel": 4, "per_layer": 1, "plain": 0}[kind]


def test_projection_changes_the_step_and_biases_are_never_projected():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(8, 3))
    grad = _radial_free(w, rng.normal(size=w.shape), 0)
    adam_like = AdamP(learning_rate=0.1, delta=0.0)  # delta 0: the test never passes, plain Adam
    projected = AdamP(learning_rate=0.1)
    a, b = keras.Variable(w, dtype="float64"), keras.Variable(w, dtype="float64")
    for opt, var in ((adam_like, a), (projected, b)):
        opt.apply([keras.ops.convert_to_tensor(grad)], [var])

    def radial(v):
        return np.abs((w * (keras.ops.convert_to_numpy(v) - w)).sum(0))

    assert np.all(radial(a) > 1e-3)  # Adam's step has a radial part (it changes the weight norm to first order)
    assert np.all(radial(b) < 1e-6)  # AdamP's step is tangent to every output channel
    bias = keras.Variable(np.ones(3), dtype="float64")
    AdamP(learning_rate=0.1, weight_decay=0.5).apply([keras.ops.convert_to_tensor(np.zeros(3))], [bias])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), 1 - 0.1 * 0.5)  # full decay, no projection


def test_depthwise_kernels_use_their_output_channels():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(3, 3, 5, 1))  # Keras depthwise layout; torch: (5, 1, 3, 3)
    grad = np.moveaxis(_radial_free(np.moveaxis(w, 2, 0).reshape(5, -1),
                                    rng.normal(size=(5, 9)), 1).reshape(5, 3, 3, 1), 0, 2)
    layer = keras.layers.DepthwiseConv2D(3, use_bias=False, name="block1_dwconv")
    layer.build((None, 8, 8, 5))
    layer.kernel.assign(w)
    reference = ReferenceAdamP(lr=0.05)
    AdamP(learning_rate=0.05).apply([keras.ops.convert_to_tensor(grad.astype("float32"))], [layer.kernel])
    expected = reference.step(np.transpose(w, (2, 3, 0, 1)), np.transpose(grad, (2, 3, 0, 1)))
    assert reference.projected == 5
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel), np.transpose(expected, (2, 3, 0, 1)),
                               rtol=1e-4, atol=1e-5)


def test_config_round_trip():
    optimizer = AdamP(learning_rate=3e-4, weight_decay=0.01, delta=0.2, wd_ratio=0.3, nesterov=True)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is AdamP
    for key in ("learning_rate", "weight_decay", "delta", "wd_ratio", "nesterov", "beta_1", "epsilon"):
        assert restored.get_config()[key] == pytest.approx(optimizer.get_config()[key]), key


def test_trains_a_batch_normalised_network_on_a_toy_problem():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).astype("int32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, use_bias=False),
                              keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.Dense(2)])
    model.compile(AdamP(learning_rate=0.01, weight_decay=1e-4),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0).history
    assert history["loss"][-1] < 0.35 * history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[1] > 0.9  # chance 0.5; a linear rule, so near 1 when it converges
