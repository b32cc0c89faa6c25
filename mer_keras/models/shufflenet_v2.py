"""ShuffleNetV2 (Ma et al. 2018) and paper 000's variants with CBAM or the Ghost-ViT block.

Layout as torchvision's ``shufflenet_v2_x*``: conv1 3x3/2 (24) -> max-pool 3x3/2 -> stages 2-4 of
[4, 8, 4] units (the first of each with stride 2) -> conv5 1x1 -> GAP -> FC; bias-free convolutions
followed by BN. With 1000 classes the trainable counts equal torchvision's (2,278,604 at 1.0x).

Paper 000's ablation (Table 2: plain, + CBAM, + improved ViT) compares variants on **one backbone
width, 1.0x** (``ABLATION_SCALE``): it is the only width at which the CBAM variant lands near the
paper's "1.53 million training parameters" (0.5x + CBAM: 0.61 M; 1.5x: 2.75 M), so the improved-ViT
block is sized to the same budget on the same backbone. With a 3-class head (Table 1 of the paper is
an image; the counts below are ours, trainable parameters):

- plain 1.0x: 1,256,679.
- ``attention="cbam"``: one CBAM (r = 8, 7x7) after conv5, before global pooling (the text says CBAM
  "is applied only once in the network structure"): +263,395 -> 1,520,074, 0.65 % below 1.53 M.
- ``attention="ghost_vit"``: one Ghost-ViT block after stage 2 (28x28 map at 224 px, a 14x14 grid of
  2x2 patches), d = 96, 2 transformer layers, 4 heads, FFN 2d, n = 2: +280,248 -> 1,536,927, 0.45 %
  above 1.53 M. Our choice, not the paper's (its Fig. 5 is an image): the paper fixes neither n nor
  the placement nor d, only that patches are h x w with h, w <= n. The block's two n x n standard
  convolutions cost 3 n^2 C^2 for C input channels, so with MobileViT's n = 3 no placement in stages
  2-4 fits the budget (364 k at stage 2, C = 116; 1.45 M at stage 3; 5.8 M at stage 4); n = 2 (= the
  2x2 patch) at the narrowest stage leaves 119 k for the transformer, the size of MobileViT-XS's
  first block (d = 96, L = 2). Before stage 2 (C = 24) the block would also fit, but attention over
  28x28 tokens per patch position would cost over 1 G multiply-adds, against the paper's Table 4
  (37.9 ms with the ViT block vs 28.5 ms with CBAM). Measured multiply-adds at 224x224x3 (batch 1):
  plain 146 M, CBAM 147 M, Ghost-ViT 428 M.
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers import CBAM, ChannelShuffle, ChannelSplit, conv_bn_act, ghost_vit_block
from .layers.conv import DEFAULT_LEAKY_SLOPE

STAGE_CHANNELS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
STAGE_REPEATS = (4, 8, 4)
ATTENTION_POSITIONS = ("stage2", "stage3", "stage4", "conv5")
DEFAULT_POSITION = {"cbam": "conv5", "ghost_vit": "stage2"}
ABLATION_SCALE = 1.0
"""The one backbone width of every paper-000 ablation variant (see the module docstring)."""
ACTIVATIONS = ("relu", "leaky_relu")


def shufflenet_unit(x, out_channels, strides, name, activation="relu", kernel_regularizer=None,
                    leaky_slope=DEFAULT_LEAKY_SLOPE):
    """One ShuffleNetV2 unit: split (stride 1) or duplicate (stride 2), two branches, concat, shuffle."""
    branch_channels = out_channels // 2
    kw = {"activation": activation, "kernel_regularizer": kernel_regularizer, "leaky_slope": leaky_slope}
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
                 activation="relu", leaky_slope=DEFAULT_LEAKY_SLOPE, attention_position=None, cbam_ratio=8,
                 vit_dim=96, vit_depth=2, vit_heads=4, vit_kernel_size=2, stage_repeats=STAGE_REPEATS, name=None):
    """Instantiate ShuffleNetV2 at ``scale`` 0.5 / 1.0 / 1.5 / 2.0, optionally with one attention block.

    Args:
        attention: None, "cbam" or "ghost_vit" (paper 000's two variants).
        attention_position: "stage2", "stage3", "stage4" or "conv5": the block goes after that
            layer group (default: conv5 for CBAM, stage2 for Ghost-ViT).
        l2: L2 factor on every convolution / dense kernel (paper 000: 0.2). dropout: before the
            classifier (paper 000: 0.5).
        activation: "relu" or "leaky_relu" for every backbone activation (paper 000 swaps ReLU for
            LeakyReLU); layer names do not change with it, so weights transfer between the two.
            CBAM's MLP keeps its ReLU and the ViT block its Swish (MobileViT's).
        leaky_slope: LeakyReLU's negative slope (the paper prints none; 0.3 is Keras 2.2.4's default).
        cbam_ratio, vit_*: block hyper-parameters (see the module docstring for the defaults' origin).
        stage_repeats: units in stages 2-4 (torchvision's and the paper's (4, 8, 4)); fewer make a shallow
            network for a quick smoke run (the test suite's), with the same layer names as far as they go.
        Others: as ``keras.applications`` (``weights`` is a local file path or None).
    """
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    if scale not in STAGE_CHANNELS:
        raise ValueError(f"scale must be one of {sorted(STAGE_CHANNELS)}, got {scale}")
    if attention not in (None, "cbam", "ghost_vit"):
        raise ValueError(f"attention must be None, 'cbam' or 'ghost_vit', got {attention!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    stage_repeats = tuple(int(r) for r in stage_repeats)
    if len(stage_repeats) != len(STAGE_REPEATS) or min(stage_repeats) < 1:
        raise ValueError(f"stage_repeats must be {len(STAGE_REPEATS)} positive unit counts, got {stage_repeats}")
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
    x = conv_bn_act(inputs, channels[0], 3, "conv1", strides=2, activation=activation, kernel_regularizer=reg,
                    leaky_slope=leaky_slope)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="maxpool")(x)
    for stage, (repeats, out_channels) in enumerate(zip(stage_repeats, channels[1:4]), start=2):
        for unit in range(repeats):
            x = shufflenet_unit(x, out_channels, 2 if unit == 0 else 1, f"stage{stage}_unit{unit + 1}",
                                activation, reg, leaky_slope)
        x = attend(x, f"stage{stage}")
    x = conv_bn_act(x, channels[4], 1, "conv5", activation=activation, kernel_regularizer=reg,
                    leaky_slope=leaky_slope)
    x = attend(x, "conv5")
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    suffix = "" if attention is None else f"_{attention}"
    return finish(inputs, x, name or f"shufflenet_v2_x{scale:g}{suffix}".replace(".", "_"), weights)
