"""Conv -> BatchNorm -> activation, the unit every convolutional builder repeats, named from ``name``."""
from __future__ import annotations

import keras


def activation_layer(activation, name):
    """A named activation layer; "leaky_relu" uses Keras' default slope 0.3 (also Keras 2.2.4's)."""
    if activation is None:
        return None
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(name=name)
    if activation == "relu":
        return keras.layers.ReLU(name=name)
    return keras.layers.Activation(activation, name=name)


def conv_bn_act(x, filters, kernel_size, name, strides=1, activation="relu", depthwise=False,
                kernel_regularizer=None, bn_epsilon=1e-5):
    """Bias-free (depthwise) convolution, BN, optional activation: layers ``name``, ``name_bn``, ``name_act``."""
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=False,
                                         depthwise_regularizer=kernel_regularizer, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                                kernel_regularizer=kernel_regularizer, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=bn_epsilon, momentum=0.9, name=f"{name}_bn")(x)
    act = activation_layer(activation, f"{name}_act")
    return act(x) if act is not None else x
