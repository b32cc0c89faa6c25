"""The MEGC 2019 comparison table's reference systems: two small flow networks and the organisers' LBP-TOP.

``STSTNet`` (Liong et al., "Shallow Triple Stream Three-dimensional CNN (STSTNet) for micro-expression
recognition", FG 2019, arXiv:1902.03634, Table I; the authors' PyTorch release ``christy1206/STSTNet``
``main.py``): three parallel branches on the 28x28 (u, v, optical strain) image, each a 3x3 convolution with
3, 5 or 8 filters and padding 2 (30x30), ReLU, *then* BatchNorm (the release's order), a 3x3 max-pool of
stride 3 with padding 1 (10x10) and dropout 0.5; concatenated (16 channels), a 2x2 average pool (5x5x16 =
400) and one dense layer to the classes. The release feeds ``cv2.imread`` pixels, 0-255 and unnormalised:
``input_pixels`` maps the package's flow convention (u, v in [-1, 1], strain in [0, 1]; see
``preprocessing.precomputed``) back to those values inside the network. Channel order (the release reads
BGR) does not matter: every branch sees every channel. PyTorch's initialisers, BatchNorm epsilon and
max-pool padding are matched (``layers.torch_defaults``); the flatten order (HWC here, CHW there) only permutes
the dense weights. Trainable parameters with 3 classes: 84 + 140 + 224 (convs) + 32 (BN) + 1,203 (dense)
= 1,683; the paper's Table V prints 0.00167 M.

``OFFApexNet`` (Gan, Liong, Yau, Huang, Tan, "OFF-ApexNet on micro-expression recognition system", Signal
Process. Image Commun. 74:129-139, 2019): two streams, the horizontal and the vertical onset->apex flow
(channels 0 and 1 of the input), each two convolution + max-pool stages (5x5 convolutions of 6 and 16
filters, "same" padding, ReLU, 2x2 pools: 28 -> 14 -> 7), flattened and concatenated (2 x 784), then two
fully connected layers of 1,024 with ReLU and dropout and the output layer. 2,664,475 parameters with 3
classes; STSTNet's Table V prints 2.77 M for it (the difference is not explained by any layout we found).

``LBPTOPFeatures`` (the MEGC 2019 guideline's baseline: LBP-TOP, 5x5 non-overlapping blocks, radii
R_X, R_Y, R_T = 1, 1, 4, P = 4 on every plane, 10 frames): the weight-free ``layers.LBPTOP`` histograms of a
grey frame stack, named ``embedding`` for the SVM head. Its softmax top exists only so the model has the
builders' contract; the experiment trains no epoch and classifies with the linear SVM head.
"""
from __future__ import annotations

import keras

from .common import finish, regularizer, validate_common
from .layers.lbptop import LBPTOP
from .layers.torch_defaults import (
    BN_EPSILON,
    BN_MOMENTUM,
    TakeChannels,
    TorchMaxPool2D,
    bias_initializer,
    kernel_initializer,
)

STSTNET_BRANCHES = (("branch1", 3), ("branch2", 5), ("branch3", 8))
"""Stage table of STSTNet: (block name, filters) of the three parallel 3x3 convolutions."""

OFFAPEXNET_STREAMS = (("stream_u", 0), ("stream_v", 1))
OFFAPEXNET_STAGES = ((6, 5), (16, 5))
"""OFF-ApexNet: (block name, input channel) of each stream, and (filters, kernel) of each stream's stages."""
OFFAPEXNET_DENSE = (1024, 1024)

FLOW_TO_PIXELS = {"scale": [127.5, 127.5, 255.0], "offset": [127.5, 127.5, 0.0]}
"""u, v in [-1, 1] and strain in [0, 1] (the package's flow convention) -> the 0-255 values of the image."""


def _dense(units, fan_in, reg, name, activation=None):
    return keras.layers.Dense(units, activation=activation, kernel_initializer=kernel_initializer(),
                              bias_initializer=bias_initializer(fan_in), kernel_regularizer=reg, name=name)


def _conv(filters, kernel, channels_in, reg, name, padding="valid"):
    return keras.layers.Conv2D(filters, kernel, padding=padding, kernel_initializer=kernel_initializer(),
                               bias_initializer=bias_initializer(kernel * kernel * channels_in),
                               kernel_regularizer=reg, name=name)


def _top(x, include_top, classes, classifier_activation, reg):
    """Flattened features named ``embedding`` (what the SVM head reads), then the classifier."""
    features = keras.layers.Flatten(name="embedding")(x)
    if not include_top:
        return features
    return _dense(classes, features.shape[-1], reg, "predictions", classifier_activation)(features)


def STSTNet(input_shape=(28, 28, 3), include_top=True, weights=None, pooling=None, classes=3,
            classifier_activation="softmax", dropout=0.5, l2=0.0, input_pixels=True, width=1.0, name=None):
    """STSTNet as its authors released it (see the module docstring); ``dropout`` is each branch's; ``width``
    multiplies the branches' filters (1.0: the paper's 3, 5, 8)."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=8)
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    reg = regularizer(l2)
    inputs = keras.Input(shape, name="input")
    x = inputs
    if input_pixels:
        if shape[-1] != 3:
            raise ValueError(f"input_pixels maps (u, v, strain) images: 3 channels expected, got {shape}")
        x = keras.layers.Rescaling(**FLOW_TO_PIXELS, name="to_pixels")(x)
    branches = []
    for block, filters in STSTNET_BRANCHES:
        b = keras.layers.ZeroPadding2D(2, name=f"{block}_pad")(x)
        b = _conv(max(1, round(filters * width)), 3, shape[-1], reg, f"{block}_conv")(b)
        b = keras.layers.ReLU(name=f"{block}_relu")(b)
        b = keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{block}_bn")(b)
        b = TorchMaxPool2D(3, 3, 1, name=f"{block}_pool")(b)
        if dropout:
            b = keras.layers.Dropout(dropout, name=f"{block}_dropout")(b)
        branches.append(b)
    x = keras.layers.Concatenate(name="concat")(branches)
    x = keras.layers.AveragePooling2D(2, 2, name="pool_2x2")(x)
    return finish(inputs, _top(x, include_top, classes, classifier_activation, reg), name or "ststnet", weights)


def OFFApexNet(input_shape=(28, 28, 3), include_top=True, weights=None, pooling=None, classes=3,
               classifier_activation="softmax", dropout=0.5, l2=0.0, name=None):
    """OFF-ApexNet (see the module docstring): streams on channels 0 (u) and 1 (v); ``dropout`` after each
    fully connected layer."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=8)
    if shape[-1] < 2:
        raise ValueError(f"OFF-ApexNet needs the horizontal and vertical flow (>= 2 channels), got {shape}")
    reg = regularizer(l2)
    inputs = keras.Input(shape, name="input")
    streams = []
    for block, channel in OFFAPEXNET_STREAMS:
        s = TakeChannels(channel, channel + 1, name=f"{block}_input")(inputs)
        channels_in = 1
        for i, (filters, kernel) in enumerate(OFFAPEXNET_STAGES, 1):
            s = _conv(filters, kernel, channels_in, reg, f"{block}_conv{i}", padding="same")(s)
            s = keras.layers.ReLU(name=f"{block}_relu{i}")(s)
            s = keras.layers.MaxPooling2D(2, 2, name=f"{block}_pool{i}")(s)
            channels_in = filters
        streams.append(keras.layers.Flatten(name=f"{block}_flatten")(s))
    x = keras.layers.Concatenate(name="concat")(streams)
    for i, units in enumerate(OFFAPEXNET_DENSE, 1):
        x = _dense(units, x.shape[-1], reg, f"fc{i}", "relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    x = keras.layers.Identity(name="embedding")(x)  # what the SVM head reads
    if include_top:
        x = _dense(classes, x.shape[-1], reg, "predictions", classifier_activation)(x)
    return finish(inputs, x, name or "off_apexnet", weights)


def LBPTOPFeatures(input_shape=(10, 64, 64, 1), include_top=True, weights=None, pooling=None, classes=3,
                   classifier_activation="softmax", radii=(1, 1, 4), blocks=5, name=None):
    """LBP-TOP histograms of a (T, H, W, 1) grey clip (see the module docstring); ``pooling`` is ignored."""
    shape = tuple(input_shape)
    if len(shape) != 4 or shape[-1] != 1 or None in shape:
        raise ValueError(f"input_shape must be a static (frames, height, width, 1) grey clip, got {input_shape}")
    validate_common(shape[1:], include_top, weights, pooling, classes, 0.0, min_size=8)
    inputs = keras.Input(shape, name="input")
    x = LBPTOP(radii, blocks, name="embedding")(inputs)
    if include_top:
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return finish(inputs, x, name or "lbp_top", weights)
