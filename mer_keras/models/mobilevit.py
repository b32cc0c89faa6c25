"""MobileViT v1 (Mehta & Rastegari, ICLR 2022) as used by paper 004, following Apple's ml-cvnets configs.

stem 3x3/2 (16) -> stage1 MV2 -> stage2 3 MV2 (first /2) -> stages 3-5: MV2 /2 + MobileViT block
(2x2 patches, FFN 2d, 4 heads, Swish) -> 1x1 conv (final) -> GAP -> Dropout -> FC. With 1000 classes:
XXS 1,272,024, XS 2,317,848, S 5,578,632 trainable parameters (published 1.3 M / 2.3 M / 5.6 M).
The last MobileViT block works on a 1/32 map with 2x2 patches, so height and width must be
multiples of 64 (256 in the paper; 128 and 64 also work).
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers import conv_bn_act, inverted_residual, mobilevit_block
from .layers.conv import DEFAULT_LEAKY_SLOPE

# stage1, stage2, (stage3-5 channels), (stage3-5 transformer dims), final conv, MV2 expansion
VARIANTS = {
    "xxs": {"channels": (16, 24, 48, 64, 80), "dims": (64, 80, 96), "final": 320, "expansion": 2},
    "xs": {"channels": (32, 48, 64, 80, 96), "dims": (96, 120, 144), "final": 384, "expansion": 4},
    "s": {"channels": (32, 64, 96, 128, 160), "dims": (144, 192, 240), "final": 640, "expansion": 4},
}
TRANSFORMER_DEPTHS = (2, 4, 3)
ACTIVATIONS = ("swish", "relu", "leaky_relu")


def MobileViT(variant="s", input_shape=(256, 256, 3), include_top=True, weights=None, pooling=None,
              classes=3, classifier_activation="softmax", dropout=0.1, l2=0.0, transformer_dropout=0.0,
              activation="swish", leaky_slope=DEFAULT_LEAKY_SLOPE, name=None):
    """Instantiate MobileViT-XXS / XS / S.

    Args:
        variant: "xxs", "xs" or "s" (paper 004 uses S).
        dropout: before the classifier (ml-cvnets 0.1; paper 004 0.5). l2: kernel L2 factor (paper 004: 0.2).
        transformer_dropout: inside the transformer layers (ml-cvnets 0.0 for XXS, 0.1 for XS / S).
        activation: of every convolution ("swish", MobileViT's and paper 004's; "relu"; "leaky_relu" with
            ``leaky_slope``). The transformer FFNs keep Swish. Layer names do not depend on it.
        Others: as ``keras.applications`` (``weights`` is a local file path or None).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=64)
    if shape[0] % 64 or shape[1] % 64:
        raise ValueError(f"MobileViT needs height and width divisible by 64 (2x2 patches on the 1/32 map), "
                         f"got {shape[0]}x{shape[1]}; use e.g. 256, 192, 128 or 64")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    cfg, reg = VARIANTS[variant], regularizer(l2)
    act = {"activation": activation, "leaky_slope": leaky_slope, "kernel_regularizer": reg}
    ch, dims, exp = cfg["channels"], cfg["dims"], cfg["expansion"]

    inputs = keras.Input(shape, name="input")
    x = conv_bn_act(inputs, 16, 3, "stem", strides=2, **act)
    x = inverted_residual(x, ch[0], 1, exp, "stage1_mv2", **act)
    for i in range(3):
        x = inverted_residual(x, ch[1], 2 if i == 0 else 1, exp, f"stage2_mv2_{i + 1}", **act)
    for stage, (out, dim, depth) in enumerate(zip(ch[2:], dims, TRANSFORMER_DEPTHS), start=3):
        x = inverted_residual(x, out, 2, exp, f"stage{stage}_mv2", **act)
        x = mobilevit_block(x, dim, depth, 2 * dim, f"stage{stage}_mvit", dropout=transformer_dropout, **act)
    x = conv_bn_act(x, cfg["final"], 1, "final_conv", **act)
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    return finish(inputs, x, name or f"mobilevit_{variant}", weights)
