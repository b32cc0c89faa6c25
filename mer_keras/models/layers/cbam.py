"""CBAM (Woo et al. 2018) as one registered layer, the attention block of paper 000's first variant.

Channel attention: a shared MLP (C -> C/r -> C, ReLU in between) over the global average- and
max-pooled descriptors, summed, sigmoid. Spatial attention: channel-wise mean and max maps,
concatenated, one k x k convolution (k = 7 in the paper), sigmoid. The sub-layers are attributes
named from the block's name, so ``.weights.h5`` files nest them under the block and legacy
``.h5`` files find them by the block's name.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mer_keras")
class CBAM(keras.layers.Layer):
    """Convolutional block attention module: ``x * Mc(x)`` then ``* Ms(.)``; output shape = input shape.

    Args:
        ratio: reduction r of the shared MLP (the paper does not print its value; 8 is CBAM-keras'
            default and gives paper 000's 1.53 M parameters, see ``shufflenet_v2``).
        kernel_size: spatial-attention kernel (7 in the paper).
        kernel_regularizer: optional regulariser for the MLP and the spatial convolution.
    """

    def __init__(self, ratio: int = 8, kernel_size: int = 7, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(ratio) < 1 or int(kernel_size) < 1:
            raise ValueError(f"ratio and kernel_size must be >= 1, got {ratio}, {kernel_size}")
        self.ratio = int(ratio)
        self.kernel_size = int(kernel_size)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension must be known")
        hidden = max(1, channels // self.ratio)
        reg = self.kernel_regularizer
        self.mlp_hidden = keras.layers.Dense(hidden, activation="relu", kernel_initializer="he_normal",
                                             kernel_regularizer=reg, name=f"{self.name}_mlp_hidden")
        self.mlp_out = keras.layers.Dense(channels, kernel_initializer="he_normal",
                                          kernel_regularizer=reg, name=f"{self.name}_mlp_out")
        self.spatial_conv = keras.layers.Conv2D(1, self.kernel_size, padding="same", activation="sigmoid",
                                                kernel_initializer="he_normal", kernel_regularizer=reg,
                                                name=f"{self.name}_spatial_conv")
        self.mlp_hidden.build((None, channels))
        self.mlp_out.build((None, hidden))
        self.spatial_conv.build(tuple(input_shape[:-1]) + (2,))
        super().build(input_shape)

    def call(self, inputs):
        avg = ops.mean(inputs, axis=(1, 2))
        mx = ops.max(inputs, axis=(1, 2))
        channel = ops.sigmoid(self.mlp_out(self.mlp_hidden(avg)) + self.mlp_out(self.mlp_hidden(mx)))
        x = inputs * channel[:, None, None, :]
        descriptors = ops.concatenate(
            [ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)
        return x * self.spatial_conv(descriptors)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "kernel_size": self.kernel_size,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}
