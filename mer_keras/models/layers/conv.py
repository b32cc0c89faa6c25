"""Conv -> BatchNorm -> activation, the unit every convolutional builder repeats, named from ``name``."""
from __future__ import annotations

import keras

DEFAULT_LEAKY_SLOPE = 0.3
"""Keras' LeakyReLU default, and Keras 2.2.4's (the version paper 000 used; the paper prints no slope)."""


def activation_layer(activation, name, leaky_slope=DEFAULT_LEAKY_SLOPE):
    """A named activation layer. The name never depends on the activation, so weights saved with one
    activation load by name into a model built with another (paper 000 swaps ReLU for LeakyReLU)."""
    if activation is None:
        return None
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=float(leaky_slope), name=name)
    if activation == "relu":
        return keras.layers.ReLU(name=name)
    return keras.layers.Activation(activation, name=name)


def conv_bn_act(x, filters, kernel_size, name, strides=1, activation="relu", depthwise=False,
                kernel_regularizer=None, bn_epsilon=1e-5, leaky_slope=DEFAULT_LEAKY_SLOPE):
    """Bias-free (depthwise) convolution, BN, optional activation: layers ``name``, ``name_bn``, ``name_act``."""
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=False,
                                         depthwise_regularizer=kernel_regularizer, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                                kernel_regularizer=kernel_regularizer, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=bn_epsilon, momentum=0.9, name=f"{name}_bn")(x)
    act = activation_layer(activation, f"{name}_act", leaky_slope)
    return act(x) if act is not None else x
