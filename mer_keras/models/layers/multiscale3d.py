"""The multi-scale modules RC1, RC2, RC3 of paper 001 (Jin, He, Li, Yang, Math. Biosci. Eng. 21(4), 2024,
§3.2, Figs. 4-6, Eqs. 3.8-3.9), placed after residual blocks 2, 3 and 4 of ``msresnet3d``.

Each module runs parallel branches over its input and returns their adaptively weighted sum
K = sum_i w_i X_i, the w_i learned scalars (Eq. 3.8 for RC1 / RC2, Eq. 3.9 for RC3's eight maps).
Kernel sizes are read (T, H, W), as the paper's 3x7x7 stem: 1x1x7 runs along the width
("transverse"), 1x7x1 along the height ("longitudinal"), 7x1x1 along time ("radial").

- RC1: 1x1x1 | 1x1x1 -> 3x3x3 | 1x1x1 -> 3x3x3 -> 3x3x3 (a 5x5x5 as two 3x3x3) | global average pooling.
- RC2: 1x1x1 | 1x1x1 -> 1x1x7 -> 1x7x1 -> 7x1x1 (the factorised 7x7x7) | 1x1x1 -> two such factorised
  stacks (the text's replacement of a 9x9x9) | global average pooling.
- RC3: 1x1x1 -> 1x1x3 -> 1x3x1 -> 3x1x1, then 1x1x3, 1x3x1 and 3x1x1 in parallel (3 maps) |
  1x1x1, then 1x1x3, 1x3x1 and 3x1x1 in parallel (3 maps) | 1x1x1 | global average pooling: 8 maps.

Choices the paper leaves open (ours, not the paper's):

- every convolution is conv -> BN -> ReLU, "same" padding (the text's "padding operation" that keeps
  RC3's maps the size of the others), and every branch ends with the input's channel count C, so the
  module keeps its input's shape; the 1x1x1 "dimensionality reduction" goes to C // ``reduction``
  (2); a 1x1x1 reduction also opens RC2's two factorised branches (RC3's text has one, RC2's is silent);
- the pooling branch is the literal "global average pooling layer": the mean over (H, W) of each frame
  and channel ("global spatial information"), broadcast back, with no convolution;
- Eq. 3.9 prints seven weights for eight maps but says "the feature weights of the 8 outputs": all
  eight are learned; every weight starts at 1 / (number of maps), i.e. the mean of the branches.
"""
from __future__ import annotations

import keras
from keras import ops

_ALONG = {"w": lambda k: (1, 1, k), "h": lambda k: (1, k, 1), "t": lambda k: (k, 1, 1)}


def _factorised(k, filters):
    """(1, 1, k) -> (1, k, 1) -> (k, 1, 1): a k x k x k receptive field (the paper's "depth-separable")."""
    return [(filters, _ALONG[axis](k), f"{axis}{k}") for axis in ("w", "h", "t")]


class _MultiScaleModule(keras.layers.Layer):
    """Parallel convolutional branches and a pooling branch, fused by learned scalar weights (Eq. 3.8).

    Subclasses give ``_branches(channels, bottleneck)``: a list of ``(stem, heads)``, ``stem`` a list
    of ``(filters, kernel, tag)`` applied in turn, ``heads`` None (the stem's output is one map) or a
    list of ``(filters, kernel, tag)`` applied in parallel to the stem's output (one map each).
    """

    def __init__(self, reduction=2, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(reduction) < 1:
            raise ValueError(f"reduction must be >= 1, got {reduction}")
        self.reduction = int(reduction)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def _branches(self, channels, bottleneck):
        raise NotImplementedError

    def _unit(self, filters, kernel, name, input_shape):
        conv = keras.layers.Conv3D(filters, kernel, padding="same", use_bias=False, kernel_initializer="he_normal",
                                   kernel_regularizer=self.kernel_regularizer, name=f"{name}_conv")
        bn = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")
        conv.build(input_shape)
        bn.build(tuple(input_shape[:-1]) + (filters,))
        return conv, bn

    def build(self, input_shape):
        if len(input_shape) != 5 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expects (batch, T, H, W, C) with C known, got {input_shape}")
        channels = input_shape[-1]
        spec = self._branches(channels, max(1, channels // self.reduction))
        self.stems, self.heads = [], []
        for b, (stem, heads) in enumerate(spec, start=1):
            width, units = channels, []
            for i, (filters, kernel, tag) in enumerate(stem, start=1):
                units.append(self._unit(filters, kernel, f"{self.name}_b{b}_{i}_{tag}",
                                        tuple(input_shape[:-1]) + (width,)))
                width = filters
            self.stems.append(units)
            self.heads.append([self._unit(filters, kernel, f"{self.name}_b{b}_head_{tag}",
                                          tuple(input_shape[:-1]) + (width,))
                               for filters, kernel, tag in (heads or [])])
        self.num_maps = sum(len(h) or 1 for h in self.heads) + 1  # + the pooling branch
        self.branch_weights = self.add_weight(shape=(self.num_maps,), name="branch_weights",
                                              initializer=keras.initializers.Constant(1.0 / self.num_maps))
        super().build(input_shape)

    @staticmethod
    def _apply(unit, x, training):
        conv, bn = unit
        return ops.relu(bn(conv(x), training=training))

    def branch_maps(self, inputs, training=None):
        """The maps X_1 .. X_n of Eq. 3.8 / 3.9 (the pooled one last, still (batch, T, 1, 1, C))."""
        maps = []
        for stem, heads in zip(self.stems, self.heads):
            x = inputs
            for unit in stem:
                x = self._apply(unit, x, training)
            maps.extend([self._apply(unit, x, training) for unit in heads] if heads else [x])
        maps.append(ops.mean(inputs, axis=(2, 3), keepdims=True))
        return maps

    def call(self, inputs, training=None):
        maps = self.branch_maps(inputs, training)
        fused = maps[0] * self.branch_weights[0]
        for i, x in enumerate(maps[1:], start=1):
            fused = fused + self.branch_weights[i] * x
        return fused

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}


@keras.saving.register_keras_serializable(package="mer_keras")
class RC1(_MultiScaleModule):
    """Paper 001's RC1 (Fig. 4, Eq. 3.8): 1x1x1, 3x3x3, two 3x3x3 and pooling branches (module doc)."""

    def _branches(self, c, cb):
        return [([(c, 1, "1")], None),
                ([(cb, 1, "1"), (c, 3, "3")], None),
                ([(cb, 1, "1"), (cb, 3, "3a"), (c, 3, "3b")], None)]


@keras.saving.register_keras_serializable(package="mer_keras")
class RC2(_MultiScaleModule):
    """Paper 001's RC2 (Fig. 5, Eq. 3.8): 1x1x1, factorised 7x7x7, two factorised stacks, pooling (module doc)."""

    def _branches(self, c, cb):
        def stack(suffix, out):  # 1x1x7 -> 1x7x1 -> 7x1x1, the last to ``out`` channels
            units = [(cb, kernel, f"{tag}{suffix}") for _, kernel, tag in _factorised(7, cb)]
            return units[:-1] + [(out,) + units[-1][1:]]

        return [([(c, 1, "1")], None),
                ([(cb, 1, "1")] + stack("", c), None),
                ([(cb, 1, "1")] + stack("a", cb) + stack("b", c), None)]


@keras.saving.register_keras_serializable(package="mer_keras")
class RC3(_MultiScaleModule):
    """Paper 001's RC3 (Fig. 6, Eq. 3.9): two directional branches of three maps each, 1x1x1, pooling (module doc)."""

    def _branches(self, c, cb):
        directions = [(c, _ALONG[axis](3), f"{axis}3") for axis in ("w", "h", "t")]
        return [([(cb, 1, "1")] + _factorised(3, cb), directions),
                ([(cb, 1, "1")], directions),
                ([(c, 1, "1")], None)]
