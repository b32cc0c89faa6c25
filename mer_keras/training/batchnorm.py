"""BatchNormalization statistics recomputed over the training data after training ("precise BN").

Keras keeps each BatchNormalization layer's inference statistics as a moving average (momentum 0.99 by
default), which after a few dozen steps is still close to its initial state (mean 0, variance 1): on
realdata-dev, paper 000's network fine-tuned for 8 epochs of 8 steps predicts one class for every clip in
inference mode although its training loss falls (issue 21; the stage report shows it). Recomputing the
statistics as the mean of per-batch statistics over the training data, with the weights fixed, removes that
gap (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, section 3: precise BN). It is our option
(``bn_statistics = "recomputed"``), not a paper's.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .networks import per_model


def batchnorm_layers(model) -> list:
    """Every trainable BatchNormalization layer of ``model``, nested ones included (frozen ones keep theirs)."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def recompute_batchnorm_statistics(model, x, batch_size: int = 32) -> int:
    """Replace the moving statistics of ``model``'s BatchNormalization layers by the mean of their batch
    statistics over ``x`` (training mode, weights unchanged); returns how many layers were updated.

    Each batch runs through one traced training-mode call with every layer's momentum at 0, so a layer's
    moving statistics then hold that batch's; they are summed here and their mean assigned at the end. Only
    full batches are used (a short last one would weigh as much as a full one); with fewer clips than
    ``batch_size`` the whole of ``x`` is one batch.
    """
    layers = batchnorm_layers(model)
    if not layers or len(x) == 0:
        return 0
    momenta = [layer.momentum for layer in layers]
    batch_size = min(int(batch_size), len(x))
    means = [np.zeros(layer.moving_mean.shape, "float64") for layer in layers]
    variances = [np.zeros(layer.moving_variance.shape, "float64") for layer in layers]
    starts = range(0, len(x) - batch_size + 1, batch_size)
    try:
        for layer in layers:
            layer.momentum = 0.0  # the value the traced call below was traced with, and keeps
        step = _training_mode_call(model)
        for start in starts:
            step(tf.constant(np.asarray(x[start:start + batch_size], dtype="float32")))
            for i, layer in enumerate(layers):
                means[i] += keras.ops.convert_to_numpy(layer.moving_mean)
                variances[i] += keras.ops.convert_to_numpy(layer.moving_variance)
        for layer, mean, variance in zip(layers, means, variances):
            layer.moving_mean.assign(mean / len(starts))
            layer.moving_variance.assign(variance / len(starts))
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return len(layers)


_CALLS: dict = {}
"""id(model) -> (model, traced training-mode call), see ``networks.per_model``: one trace per network, about 10x
faster than eager calls."""


def _training_mode_call(model):
    return per_model(_CALLS, model, lambda net: tf.function(lambda batch: net(batch, training=True)))
