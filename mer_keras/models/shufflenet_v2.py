"""ShuffleNetV2 (Ma et al. 2018) and paper 000's variants with CBAM or the Ghost-ViT block.

Layout as torchvision's ``shufflenet_v2_x*``: conv1 3x3/2 (24) -> max-pool 3x3/2 -> stages 2-4 of
[4, 8, 4] units (the first of each with stride 2) -> conv5 1x1 -> GAP -> FC; bias-free convolutions
followed by BN. With 1000 classes the trainable counts equal torchvision's (2,278,604 at 1.0x).

Where the attention goes (paper 000, Figs. 3 and 5 are images; the text says CBAM "is applied only
once in the network structure"):
- ``attention="cbam"``: one CBAM (r = 8, 7x7) after conv5, just before global pooling. At 1.0x with a
  3-class head that gives 1,520,074 trainable parameters, 0.65 % below the paper's 1.53 M.
- ``attention="ghost_vit"``: one Ghost-ViT block after the position given by ``attention_position``.
  The registry's ``shufflenet_v2_ghost_vit`` uses the 0.5x backbone with the block after stage 4
  (d = 120, 2 layers, 4 heads, FFN 2d, n = 3): 1,535,987 trainable parameters with 3 classes, 0.4 %
  above 1.53 M. (A 1.0x backbone cannot host an n x n MobileViT-style block anywhere near 1.53 M: the
  two 3x3 convolutions alone cost 27 C^2, >= 363 k at stage 2.)
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers import CBAM, ChannelShuffle, ChannelSplit, conv_bn_act, ghost_vit_block

STAGE_CHANNELS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
STAGE_REPEATS = (4, 8, 4)
ATTENTION_POSITIONS = ("stage2", "stage3", "stage4", "conv5")
DEFAULT_POSITION = {"cbam": "conv5", "ghost_vit": "stage4"}


def shufflenet_unit(x, out_channels, strides, name, activation="relu", kernel_regularizer=None):
    """One ShuffleNetV2 unit: split (stride 1) or duplicate (stride 2), two branches, concat, shuffle."""
    branch_channels = out_channels // 2
    kw = {"activation": activation, "kernel_regularizer": kernel_regularizer}
    if strides == 1:
        if x.shape[-1] != out_channels:
            raise ValueError(f"{name}: a stride-1 unit needs {out_channels} input channels, got {x.shape[-1]}")
        left, right = ChannelSplit(name=f"{name}_split")(x)
    else:
        left = conv_bn_act(x, None, 3, f"{name}_left_dw", strides=2, activation=None, depthwise=True,
                           kernel_regularizer=kernel_regularizer)
        left = conv_bn_act(left, branch_channels, 1, f"{name}_left_pw", **kw)
        right = x
    right = conv_bn_act(right, branch_channels, 1, f"{name}_right_pw1", **kw)
    right = conv_bn_act(right, None, 3, f"{name}_right_dw", strides=strides, activation=None, depthwise=True,
                        kernel_regularizer=kernel_regularizer)
    right = conv_bn_act(right, branch_channels, 1, f"{name}_right_pw2", **kw)
    x = keras.layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(x)


def ShuffleNetV2(input_shape=(224, 224, 3), scale=1.0, attention=None, include_top=True, weights=None,
                 pooling=None, classes=3, classifier_activation="softmax", dropout=0.0, l2=0.0,
                 activation="relu", attention_position=None, cbam_ratio=8, vit_dim=120, vit_depth=2,
                 vit_heads=4, vit_kernel_size=3, name=None):
    """Instantiate ShuffleNetV2 at ``scale`` 0.5 / 1.0 / 1.5 / 2.0, optionally with one attention block.

    Args:
        attention: None, "cbam" or "ghost_vit" (paper 000's two variants).
        attention_position: "stage2", "stage3", "stage4" or "conv5": the block goes after that
            layer group (default: conv5 for CBAM, stage4 for Ghost-ViT).
        l2: L2 factor on every convolution / dense kernel (paper 000: 0.2). activation: "relu" or
            "leaky_relu" (paper 000 swaps ReLU for LeakyReLU).
        cbam_ratio, vit_*: block hyper-parameters (see the module docstring for the defaults' origin).
        Others: as ``keras.applications`` (``weights`` is a local file path or None).
    """
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    if scale not in STAGE_CHANNELS:
        raise ValueError(f"scale must be one of {sorted(STAGE_CHANNELS)}, got {scale}")
    if attention not in (None, "cbam", "ghost_vit"):
        raise ValueError(f"attention must be None, 'cbam' or 'ghost_vit', got {attention!r}")
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {activation!r}")
    position = attention_position or DEFAULT_POSITION.get(attention)
    if attention is not None and position not in ATTENTION_POSITIONS:
        raise ValueError(f"attention_position must be one of {ATTENTION_POSITIONS}, got {position!r}")
    reg = regularizer(l2)
    channels = STAGE_CHANNELS[scale]

    def attend(x, after):
        if attention is None or position != after:
            return x
        if attention == "cbam":
            return CBAM(cbam_ratio, 7, kernel_regularizer=reg, name="cbam")(x)
        return ghost_vit_block(x, vit_dim, vit_depth, "ghostvit", num_heads=vit_heads,
                               kernel_size=vit_kernel_size, activation="swish", kernel_regularizer=reg)

    inputs = keras.Input(shape, name="input")
    x = conv_bn_act(inputs, channels[0], 3, "conv1", strides=2, activation=activation, kernel_regularizer=reg)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="maxpool")(x)
    for stage, (repeats, out_channels) in enumerate(zip(STAGE_REPEATS, channels[1:4]), start=2):
        for unit in range(repeats):
            x = shufflenet_unit(x, out_channels, 2 if unit == 0 else 1, f"stage{stage}_unit{unit + 1}",
                                activation, reg)
        x = attend(x, f"stage{stage}")
    x = conv_bn_act(x, channels[4], 1, "conv5", activation=activation, kernel_regularizer=reg)
    x = attend(x, "conv5")
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    suffix = "" if attention is None else f"_{attention}"
    return finish(inputs, x, name or f"shufflenet_v2_x{scale:g}{suffix}".replace(".", "_"), weights)
