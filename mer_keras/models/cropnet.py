"""CropNet, paper 003's network (Zhao, Chen, Luo, "Micro-Expression Recognition Based on Pixel Residual Sum
and Cropped Gaussian Pyramid", Front. Neurorobot. 15:746985, 2021, Sec. 3.2 and Fig. 3).

input (S x S, paper 320) -> CGPO: ten S/2 images z0..z9 (``layers.cgpo``; grid and boxes documented there)
-> one ReXNet feature extractor shared by the ten (Sec. 3.2.3; ``layers.rexnet``) -> per crop Conv-BN-
adaptive pooling-FC to a feature vector (Sec. 3.2.4) -> trainable position embeddings p1..p9 added to
z1..z9 (Eq. 8) -> concatenation -> classifier.

What the text leaves open, and what we chose (arguments where it matters):

- extractor: ReXNet-v1 exactly as the official code builds it (stem 32, 16 bottlenecks in stages of
  1/2/2/3/3/5 blocks, expansion 1 then 6, SE from stage 3, channels growing linearly from 16 by 180 in
  total, times ``width``). Fig. 3 (an image) would fix the channels; the text only says "progressively
  increasing channels" and "MB6".
- the per-crop "Conv, BN, Adaptive Pooling, FC" is ReXNet's own head (1x1 conv to 1280 x ``width``, BN,
  Swish, global average pooling, dropout 0.2, FC). We share it across the ten crops like the extractor,
  and its FC gives ``feature_dim`` = 1000 values, ReXNet's ImageNet head, so an ImageNet-trained ReXNet
  transfers whole (the paper pre-trains on ImageNet; nothing is downloaded here: pass ``weights=``).
- ``width`` = 1.3: with it and ``feature_dim`` = 1000 CropNet has 7,616,096 trainable parameters for 5
  classes (7,596,094 for 3), close to the one figure the text gives (Sec. 3.2.1: "approximately 7.6M");
  the ReXNet-1.3x part (extractor + head) is 7,557,091, ReXNet's published 7.56 M. That the authors used
  the 1.3x width is our inference from the count, not a statement of the paper. 6.97 GFLOPs at 320 px
  (ten 160 px passes; about 1.2 s per image, batch 1, on the 2-core CPU this was written on); ``width``
  1.0 gives 4,855,878 parameters and 4.23 GFLOPs.
- the classifier after the concatenation is one Dense layer (``predictions``).
- BatchNorm sees the ten crops of a batch together (they are folded into the batch); TF "same" padding
  for the stride-2 depthwise convolutions (torch pads symmetrically: ported weights see a one-pixel shift).

Training (Sec. 4.2, wired by the experiment, not here): label smoothing is
``keras.losses.CategoricalCrossentropy(label_smoothing=...)`` (the paper gives no smoothing factor), the
optimizer ``mer_keras.training.adamp.AdamP``, the augmentation ``mer_keras.preprocessing.augment_color``.

``include_top=False`` returns the concatenated, position-embedded features (B, 10 x feature_dim);
``pooling`` "avg" / "max" instead pools them over the ten crops (B, feature_dim).
"""
from __future__ import annotations

import keras

from .common import finish, regularizer, validate_common
from .layers.cgpo import CGPO, BatchToCrops, CropPositionEmbedding, CropsToBatch
from .layers.rexnet import conv_bn_swish, rexnet_bottleneck

STAGE_BLOCKS = (1, 2, 2, 3, 3, 5)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)
STAGE_SE = (False, False, True, True, True, True)
REXNET_INPUT_CHANNELS = 16
REXNET_FINAL_CHANNELS = 180
REXNET_STEM = 32


def rexnet_channels(width=1.0):
    """(stem, [(in, out, expansion, stride, se) per bottleneck], penultimate) of ReXNet-v1 at ``width``,
    the official ``ReXNetV1`` channel rule (depth multiplier 1)."""
    blocks = sum(STAGE_BLOCKS)
    strides = [s if i == 0 else 1 for s, n in zip(STAGE_STRIDES, STAGE_BLOCKS) for i in range(n)]
    ses = [se for se, n in zip(STAGE_SE, STAGE_BLOCKS) for _ in range(n)]
    expansions = [1] * STAGE_BLOCKS[0] + [6] * (blocks - STAGE_BLOCKS[0])
    stem = REXNET_STEM / width if width < 1.0 else REXNET_STEM
    planes = REXNET_INPUT_CHANNELS / width if width < 1.0 else REXNET_INPUT_CHANNELS
    ins, outs = [round(stem * width)], [round(planes * width)]
    for _ in range(1, blocks):
        ins.append(round(planes * width))
        planes += REXNET_FINAL_CHANNELS / blocks
        outs.append(round(planes * width))
    return round(stem * width), list(zip(ins, outs, expansions, strides, ses)), int(1280 * width)


def CropNet(width=1.3, feature_dim=1000, alpha=0.3, position_variance=0.2, se=True, se_ratio=12, cgpo=True,
            input_shape=(320, 320, 3), include_top=True, weights=None, pooling=None, classes=5,
            classifier_activation="softmax", dropout=0.2, l2=0.0, name="cropnet"):
    """CropNet (paper 003; every choice is in the module docstring).

    ``input_shape`` must be square with an even side (crops are half of it: 160 at the paper's 320,
    32 at 64); ``alpha`` is CGPO's overlap factor; ``position_variance`` the variance of the p_i at
    initialisation; ``dropout`` ReXNet's before each crop's FC; ``l2`` on every kernel. ``cgpo=False`` is
    the paper's ablation without CGPO: the same ReXNet on the whole image, no crops, no position embeddings.
    """
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    if shape[0] != shape[1] or shape[0] % 2:
        raise ValueError(f"CropNet needs a square input with an even side (crops are half of it), got {shape}")
    if width <= 0 or int(feature_dim) < 1:
        raise ValueError(f"width must be > 0 and feature_dim >= 1, got {width}, {feature_dim}")
    reg = regularizer(l2)
    stem, blocks, penultimate = rexnet_channels(width)

    inputs = keras.Input(shape, name="input")
    if cgpo:
        crops = CGPO(alpha=alpha, name="cgpo")(inputs)
    else:  # one "crop": the whole image
        crops = keras.layers.Reshape((1,) + tuple(shape), name="whole_image")(inputs)
    n_crops = crops.shape[1]
    x = CropsToBatch(name="crops_to_batch")(crops)
    # shared ReXNet extractor
    x = conv_bn_swish(x, stem, 3, "stem_conv", strides=2, kernel_regularizer=reg)
    for index, (_, out, expansion, strides, use_se) in enumerate(blocks, start=1):
        x = rexnet_bottleneck(x, out, expansion, strides, use_se and se, f"block{index}", se_ratio, reg)
    # per-crop Conv-BN-adaptive pooling-FC (ReXNet's head), shared
    x = conv_bn_swish(x, penultimate, 1, "head_conv", kernel_regularizer=reg)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    x = keras.layers.Dense(int(feature_dim), kernel_regularizer=reg, name="head_fc")(x)
    x = BatchToCrops(n_crops, name="batch_to_crops")(x)
    if n_crops > 1:
        x = CropPositionEmbedding(first=1, variance=position_variance, name="position_embedding")(x)
    if include_top:
        x = keras.layers.Flatten(name="fusion")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, kernel_regularizer=reg,
                               name="predictions")(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
    else:
        x = keras.layers.Flatten(name="fusion")(x)
    return finish(inputs, x, name, weights)

