"""Weight-free ShuffleNetV2 channel operations as registered layers.

A ``Lambda`` channel shuffle cannot be reloaded under Keras 3 safe mode (ENVIRONMENT.md), so the
split and the shuffle are small serialisable layers built on ``keras.ops``.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mer_keras")
class ChannelSplit(keras.layers.Layer):
    """Split the channel axis into two equal halves (ShuffleNetV2's channel split)."""

    def call(self, inputs):
        channels = inputs.shape[-1]
        if channels is None or channels % 2:
            raise ValueError(f"{self.name}: channel split needs an even, known channel count, got {channels}")
        half = channels // 2
        return inputs[..., :half], inputs[..., half:]

    def compute_output_shape(self, input_shape):
        half = input_shape[-1] // 2
        shape = tuple(input_shape[:-1]) + (half,)
        return shape, shape


@keras.saving.register_keras_serializable(package="mer_keras")
class ChannelShuffle(keras.layers.Layer):
    """Interleave channels of ``groups`` groups: (…, g * c) -> reshape (g, c) -> transpose -> flatten."""

    def __init__(self, groups: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(groups) < 1:
            raise ValueError(f"groups must be >= 1, got {groups}")
        self.groups = int(groups)

    def call(self, inputs):
        channels = inputs.shape[-1]
        if channels % self.groups:
            raise ValueError(f"{self.name}: {channels} channels do not divide into {self.groups} groups")
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        x = ops.reshape(inputs, (-1, height, width, self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
