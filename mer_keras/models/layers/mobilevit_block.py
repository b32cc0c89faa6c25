"""Apple's MobileViT block (Mehta & Rastegari 2022) and the MobileNetV2 inverted residual it alternates with."""
from __future__ import annotations

import keras

from .conv import DEFAULT_LEAKY_SLOPE, conv_bn_act
from .patches import PatchFold, PatchUnfold
from .transformer import transformer_encoder


def inverted_residual(x, filters, strides, expansion, name, activation="swish", kernel_regularizer=None,
                      leaky_slope=DEFAULT_LEAKY_SLOPE):
    """MV2 block: 1x1 expand -> 3x3 depthwise (stride) -> 1x1 linear project, residual when shapes allow."""
    in_channels = x.shape[-1]
    hidden = round(in_channels * expansion)
    y = conv_bn_act(x, hidden, 1, f"{name}_expand", activation=activation, kernel_regularizer=kernel_regularizer,
                    leaky_slope=leaky_slope)
    y = conv_bn_act(y, hidden, 3, f"{name}_dw", strides=strides, activation=activation, depthwise=True,
                    kernel_regularizer=kernel_regularizer, leaky_slope=leaky_slope)
    y = conv_bn_act(y, filters, 1, f"{name}_project", activation=None, kernel_regularizer=kernel_regularizer)
    if strides == 1 and in_channels == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilevit_block(x, dim, depth, mlp_dim, name, num_heads=4, kernel_size=3, patch_size=2,
                    activation="swish", dropout=0.0, kernel_regularizer=None, leaky_slope=DEFAULT_LEAKY_SLOPE,
                    ffn_activation="swish"):
    """n x n conv -> 1x1 to d -> unfold 2x2 -> ``depth`` transformer layers (FFN ``mlp_dim``) -> LN ->
    fold -> 1x1 back to C -> concat with the input -> n x n fusion conv. Sizes must divide by the patch.
    ``activation`` is the convolutions', ``ffn_activation`` the transformer FFN's (Swish in MobileViT)."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if height is None or width is None or height % patch_size or width % patch_size:
        raise ValueError(f"{name}: feature map {height}x{width} is not divisible by the {patch_size}x{patch_size} "
                         "patch; choose an input size divisible by 64 (e.g. 256)")
    y = conv_bn_act(x, channels, kernel_size, f"{name}_local_conv", activation=activation,
                    kernel_regularizer=kernel_regularizer, leaky_slope=leaky_slope)
    y = keras.layers.Conv2D(dim, 1, use_bias=False, kernel_regularizer=kernel_regularizer,
                            name=f"{name}_local_proj")(y)
    y = PatchUnfold(patch_size, name=f"{name}_unfold")(y)
    grid = (height // patch_size, width // patch_size)
    y = keras.layers.Reshape((grid[0] * grid[1], dim), name=f"{name}_tokens")(y)
    for i in range(depth):
        y = transformer_encoder(y, num_heads, mlp_dim, f"{name}_layer{i + 1}", activation=ffn_activation,
                                dropout=dropout, kernel_regularizer=kernel_regularizer)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_norm")(y)
    y = PatchFold(patch_size, grid, name=f"{name}_fold")(y)
    y = conv_bn_act(y, channels, 1, f"{name}_fold_proj", activation=activation,
                    kernel_regularizer=kernel_regularizer, leaky_slope=leaky_slope)
    y = keras.layers.Concatenate(name=f"{name}_concat")([x, y])
    return conv_bn_act(y, channels, kernel_size, f"{name}_fusion", activation=activation,
                       kernel_regularizer=kernel_regularizer, leaky_slope=leaky_slope)
