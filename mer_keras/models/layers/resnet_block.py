"""The 2-D ResNet v1 basic block (He et al. 2016, §3.3 and Fig. 2 left), shared by ``baselines.ResNet18`` and
``lam_resnet.LAMResNet`` so both name their layers alike (``conv2_block1_1_conv``...) and weights move by name."""
from __future__ import annotations

import keras

from .conv import activation_layer
from .lam import LAM


def basic_block(x, filters, strides, name, reg, act, lam=None, lam_position="residual"):
    """3x3 -> 3x3 with a projection shortcut when the shape changes; ``act`` = (activation, leaky slope).

    ``lam``: ``LAM`` keyword arguments (paper 002), one ``{name}_lam`` layer at ``lam_position``: "residual"
    (after the second BN, before the addition) or "output" (after the block's activation); None: no LAM."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False, kernel_regularizer=reg,
                                       name=f"{name}_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_0_bn")(shortcut)
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, kernel_regularizer=reg,
                            name=f"{name}_1_conv")(x)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_1_bn")(y)
    y = activation_layer(act[0], f"{name}_1_relu", act[1])(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                            name=f"{name}_2_conv")(y)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_2_bn")(y)
    if lam is not None and lam_position == "residual":
        y = LAM(**lam, kernel_regularizer=reg, name=f"{name}_lam")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    y = activation_layer(act[0], f"{name}_out", act[1])(y)
    if lam is not None and lam_position == "output":
        y = LAM(**lam, kernel_regularizer=reg, name=f"{name}_lam")(y)
    return y
