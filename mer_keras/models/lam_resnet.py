"""ResNet with LAM, paper 002's network (Hao, Zhu, Zhang et al., Multimed. Tools Appl. 83, 2024; abstract only).

The abstract says LAM is "cooperated with residual block at various scales in Resnet" and "can adaptively
compute and update the feature maps in each network layer"; the module itself is in ``layers.lam``.
It names neither the depth nor where in the residual unit LAM sits. Our choices, all arguments:

- depth [18]: 18 or 34, ResNet v1 basic blocks in the torchvision layout (11,689,512 and 21,797,672
  parameters with 1000 classes and no LAM);
- ``lam_stages`` [(1, 2, 3, 4), every scale]: residual stages numbered 1-4 as torchvision's
  ``layer1``-``layer4`` (Keras names ``conv2``-``conv5``, 56 to 7 px at 224 input); ``()`` is the bare
  ResNet;
- ``lam_blocks`` ["all"]: a LAM in every basic block of a chosen stage, or only in its ``"last"`` block;
- ``lam_position`` ["residual"]: on the residual branch after its second BN, before the addition (where
  SE-Net and CBAM put their modules in a ResNet), or ``"output"``: on the block output after the ReLU.

Backbone layers carry ``baselines.ResNet18``'s names (``conv2_block1_1_conv``...) and each LAM is one
layer ``{block}_lam``, so ``lam_stages=()`` builds exactly ``resnet18`` and weights move by name between
the bare and the LAM networks (``load_pretrained``); gradual unfreezing groups a LAM with its stage.
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers.conv import DEFAULT_LEAKY_SLOPE, activation_layer
from .layers.lam import LAM
from .layers.resnet_block import basic_block

BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
"""Basic blocks per stage (He et al. 2016, Table 1)."""
STAGE_FILTERS = (64, 128, 256, 512)
LAM_POSITIONS = ("residual", "output")
LAM_BLOCKS = ("all", "last")


def _check_lam_stages(lam_stages):
    stages = tuple(int(s) for s in lam_stages)
    if len(set(stages)) != len(stages) or not set(stages) <= {1, 2, 3, 4}:
        raise ValueError(f"lam_stages must be distinct residual stages among 1, 2, 3, 4, got {lam_stages!r}")
    return frozenset(stages)


def LAMResNet(depth=18, lam_stages=(1, 2, 3, 4), lam_position="residual", lam_blocks="all", lam_channel="mlp",
              lam_reduction=16, lam_channel_kernel_size=None, lam_spatial="conv", lam_spatial_kernel_size=7,
              lam_pooling="avg_max", lam_arrangement="sequential", input_shape=(224, 224, 3), include_top=True,
              weights=None, pooling=None, classes=3, classifier_activation="softmax", dropout=0.0, l2=0.0,
              activation="relu", leaky_slope=DEFAULT_LEAKY_SLOPE, name=None):
    """ResNet{depth} with LAM in the residual blocks of ``lam_stages`` (paper 002; choices in the module docstring).

    ``lam_*`` arguments other than the placement ones go to ``LAM`` (``lam_channel`` -> ``channel``...).
    ``activation``: "relu" or "leaky_relu" (slope ``leaky_slope``); names keep the ``_relu`` suffix.
    """
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    if depth not in BLOCKS:
        raise ValueError(f"depth must be one of {sorted(BLOCKS)} (basic-block ResNets), got {depth!r}")
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {activation!r}")
    if lam_position not in LAM_POSITIONS:
        raise ValueError(f"lam_position must be one of {LAM_POSITIONS}, got {lam_position!r}")
    if lam_blocks not in LAM_BLOCKS:
        raise ValueError(f"lam_blocks must be one of {LAM_BLOCKS}, got {lam_blocks!r}")
    stages_with_lam = _check_lam_stages(lam_stages)
    lam = {"channel": lam_channel, "reduction": lam_reduction, "channel_kernel_size": lam_channel_kernel_size,
           "spatial": lam_spatial, "spatial_kernel_size": lam_spatial_kernel_size, "pooling": lam_pooling,
           "arrangement": lam_arrangement}
    if stages_with_lam:
        LAM(**lam)  # argument errors now, not deep inside the graph
    reg = regularizer(l2)
    act = (activation, leaky_slope)
    inputs = keras.Input(shape, name="input")
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, kernel_regularizer=reg,
                            name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="conv1_bn")(x)
    x = activation_layer(act[0], "conv1_relu", act[1])(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for stage, (filters, blocks) in enumerate(zip(STAGE_FILTERS, BLOCKS[depth]), start=1):
        for block in range(1, blocks + 1):
            with_lam = stage in stages_with_lam and (lam_blocks == "all" or block == blocks)
            x = basic_block(x, filters, 2 if block == 1 and stage > 1 else 1, f"conv{stage + 1}_block{block}",
                            reg, act, lam if with_lam else None, lam_position)
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    return finish(inputs, x, name or (f"lam_resnet{depth}" if stages_with_lam else f"resnet{depth}"), weights)
