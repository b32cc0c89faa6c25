"""PyTorch's layer defaults in Keras terms, for ports of networks whose authors released PyTorch code.

A plain Keras port of a small network trained for a fixed number of epochs lands measurably elsewhere
than its PyTorch original when the defaults differ (issue 26): PyTorch initialises ``Conv2d`` and ``Linear``
kernels with ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and their biases
with the same bound (Keras: Glorot-uniform kernels, zero biases); its ``BatchNorm2d`` has epsilon 1e-5 and
momentum 0.1 on the new batch (Keras: 1e-3 and 0.99 on the old average, i.e. 0.9 in Keras terms); its
``MaxPool2d(padding=p)`` pads with -inf on both sides, which no Keras padding mode reproduces.
"""
from __future__ import annotations

import math

import keras
from keras import ops

BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
"""``BatchNorm2d(momentum=0.1)`` in Keras' convention (weight of the running average)."""


def kernel_initializer():
    """PyTorch's ``kaiming_uniform_(a=sqrt(5))``: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def bias_initializer(fan_in: int):
    """PyTorch's bias default for a layer with ``fan_in`` inputs per output: U(-1/sqrt(fan_in), ...)."""
    bound = 1.0 / math.sqrt(int(fan_in))
    return keras.initializers.RandomUniform(-bound, bound)


@keras.saving.register_keras_serializable(package="mer_keras")
class TorchMaxPool2D(keras.layers.Layer):
    """``torch.nn.MaxPool2d(kernel_size, stride, padding)``: the map padded by ``padding`` on every side with
    -inf, then a valid max-pool (a 30x30 map with k=3, s=3, p=1 pools windows starting at -1, 2, ..., 26)."""

    def __init__(self, pool_size: int = 3, strides: int = 3, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(pool_size) < 1 or int(strides) < 1 or not 0 <= int(padding) <= int(pool_size) // 2:
            raise ValueError(f"pool_size, strides >= 1 and 0 <= padding <= pool_size // 2 expected, got "
                             f"{pool_size}, {strides}, {padding}")
        self.pool_size, self.strides, self.padding = int(pool_size), int(strides), int(padding)

    def call(self, inputs):
        p = self.padding
        if p:
            inputs = ops.pad(inputs, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=float("-inf"))
        return ops.max_pool(inputs, self.pool_size, self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        def out(n):
            return None if n is None else (n + 2 * self.padding - self.pool_size) // self.strides + 1

        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@keras.saving.register_keras_serializable(package="mer_keras")
class TakeChannels(keras.layers.Layer):
    """Channels ``start:stop`` of the last axis (OFF-ApexNet's u and v streams from a u, v, strain image)."""

    def __init__(self, start: int = 0, stop: int = 1, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= int(start) < int(stop):
            raise ValueError(f"0 <= start < stop expected, got {start}, {stop}")
        self.start, self.stop = int(start), int(stop)

    def call(self, inputs):
        if inputs.shape[-1] is not None and inputs.shape[-1] < self.stop:
            raise ValueError(f"{self.name}: input has {inputs.shape[-1]} channels, channel {self.stop - 1} asked")
        return inputs[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.stop - self.start,)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}
