"""AFFA, the attentional feature fusion of paper 001 (Jin, He, Li, Yang, Math. Biosci. Eng. 21(4), 2024, §3.2).

The channel attention mechanism CAM (Eq. 3.10 and the paragraph after it) has two branches over the
pooled input: global average pooling -> 1x1x1 conv to C/r -> BN -> ReLU -> 1x1x1 conv back to C -> BN,
and the same on global max pooling; the two are added and squashed by a sigmoid into channel weights
M. A 1x1x1 convolution of a pooled (1, 1, 1, C) map is a dense layer, which is what we use.

AFFA is "two attentional feature networks" and "two fusion operations" (Eq. 3.11,
Z = CAM(X + Y) * X + (1 - CAM(X + Y)) * Y): Dai et al.'s iterative AFF (WACV 2021), which the text
follows. Our reading: the first CAM weighs X against Y from X + Y, the second CAM from that first
fusion, and its weights give Z. Choices the paper leaves open (arguments): r = 4 (Dai et al.'s
default); each branch has its own weights. The BN layers of CAM act on pooled vectors, so training
needs batches of two or more clips (as Dai et al.'s PyTorch code does).
"""
from __future__ import annotations

import keras
from keras import ops


def _spatial_axes(rank):
    """Every axis but the batch and the channel (channels-last)."""
    return tuple(range(1, rank - 1))


@keras.saving.register_keras_serializable(package="mer_keras")
class ChannelAttentionGate(keras.layers.Layer):
    """CAM of paper 001, Eq. 3.10: the channel weights M = sigmoid(L_avg(X) + L_max(X)), shape (batch, 1.., C).

    Works on any channels-last rank (3-D clips: (batch, T, H, W, C) -> (batch, 1, 1, 1, C)).

    Args:
        reduction: r, the hidden width is max(1, C // r).
        kernel_regularizer: optional regulariser of the point-wise kernels.
    """

    def __init__(self, reduction=4, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(reduction) < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        self.reduction = int(reduction)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension must be known")
        hidden = max(1, channels // self.reduction)
        self.branches = {}
        for pool in ("avg", "max"):
            layers = [
                keras.layers.Dense(hidden, use_bias=False, kernel_initializer="he_normal",
                                   kernel_regularizer=self.kernel_regularizer, name=f"{self.name}_{pool}_pw1"),
                keras.layers.BatchNormalization(name=f"{self.name}_{pool}_bn1"),
                keras.layers.Dense(channels, use_bias=False, kernel_initializer="he_normal",
                                   kernel_regularizer=self.kernel_regularizer, name=f"{self.name}_{pool}_pw2"),
                keras.layers.BatchNormalization(name=f"{self.name}_{pool}_bn2"),
            ]
            for layer, width in zip(layers, (channels, hidden, hidden, channels)):
                layer.build((None, width))
            self.branches[pool] = layers
        self._rank = len(input_shape)
        super().build(input_shape)

    def _branch(self, pooled, layers, training):
        pw1, bn1, pw2, bn2 = layers
        return bn2(pw2(ops.relu(bn1(pw1(pooled), training=training))), training=training)

    def call(self, inputs, training=None):
        axes = _spatial_axes(len(inputs.shape))
        logits = (self._branch(ops.mean(inputs, axis=axes), self.branches["avg"], training)
                  + self._branch(ops.max(inputs, axis=axes), self.branches["max"], training))
        return ops.reshape(ops.sigmoid(logits), (-1,) + (1,) * len(axes) + (logits.shape[-1],))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + (1,) * (len(input_shape) - 2) + (input_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}


@keras.saving.register_keras_serializable(package="mer_keras")
class AttentionalFeatureFusion(keras.layers.Layer):
    """AFFA of paper 001, Eq. 3.11 applied twice: ``[X, Y] -> Z`` with Z = M * X + (1 - M) * Y.

    X and Y must have the same shape (paper 001 brings the deeper block's map to the shallower one's
    size by a transposed convolution first, see ``msresnet3d``). ``M1 = CAM1(X + Y)``,
    ``U = M1 * X + (1 - M1) * Y``, ``M2 = CAM2(U)``, ``Z = M2 * X + (1 - M2) * Y``; ``iterations=1``
    stops at U (a single AFF).

    Args:
        reduction: r of both CAMs.
        iterations: 2 (paper 001: "one AFFA corresponds to 2 fusion operations") or 1.
        kernel_regularizer: optional regulariser of the CAM kernels.
    """

    def __init__(self, reduction=4, iterations=2, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(iterations) not in (1, 2):
            raise ValueError(f"iterations must be 1 or 2, got {iterations}")
        self.reduction = int(reduction)
        self.iterations = int(iterations)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"{self.name}: expects [X, Y], got input shape {input_shape}")
        shape_x, shape_y = (tuple(s) for s in input_shape)
        if shape_x[1:] != shape_y[1:]:
            raise ValueError(f"{self.name}: X and Y must have the same shape, got {shape_x} and {shape_y}")
        self.gates = []
        for i in range(1, self.iterations + 1):
            gate = ChannelAttentionGate(self.reduction, kernel_regularizer=self.kernel_regularizer,
                                        name=f"{self.name}_cam{i}")
            gate.build(shape_y)
            self.gates.append(gate)
        super().build(input_shape)

    def call(self, inputs, training=None):
        x, y = inputs
        fused = x + y
        for gate in self.gates:
            weights = gate(fused, training=training)
            fused = weights * x + (1.0 - weights) * y
        return fused

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction, "iterations": self.iterations,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}
