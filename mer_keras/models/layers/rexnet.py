"""ReXNet blocks (Han et al., "Rethinking Channel Dimensions for Efficient Model Design", CVPR 2021; official
code github.com/clovaai/rexnet, ``rexnetv1.py``), the feature extractor of paper 003's CropNet (Sec. 3.2.3).

A ReXNet bottleneck is MobileNetV2's inverted bottleneck (1x1 expansion, 3x3 depthwise, linear 1x1
projection; expansion 6 = paper 003's "MB6") with ReXNet's changes: Swish after the expansion, an optional
squeeze-excitation (SE) on the depthwise output, ReLU6 before the projection, and a *partial* residual that
adds the input to the first ``in_channels`` output channels whenever the stride is 1 and the block widens
(``in_channels <= channels``). Every Keras layer is named from the block's name, so weights load by name.
"""
from __future__ import annotations

import keras
from keras import ops

BN_MOMENTUM = 0.9  # torch BatchNorm2d(momentum=0.1), ReXNet's default
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="mer_keras")
class PartialResidual(keras.layers.Layer):
    """``[y, x] -> y + pad(x)``: the shortcut ``x`` (C_in channels) is added to the first C_in channels of
    ``y`` (C_out >= C_in channels), ReXNet's ``out[:, 0:in_channels] += x``. Weight-free."""

    def call(self, inputs):
        y, x = inputs
        extra = y.shape[-1] - x.shape[-1]
        if extra < 0:
            raise ValueError(f"{self.name}: shortcut has {x.shape[-1]} channels, more than the {y.shape[-1]} "
                             "of the block output")
        if extra:
            x = ops.pad(x, [[0, 0]] * (len(x.shape) - 1) + [[0, extra]])
        return y + x

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def se_block(x, ratio, name, kernel_regularizer=None):
    """ReXNet's SE: GAP -> 1x1 conv (C / ratio, bias) -> BN -> ReLU -> 1x1 conv (C, bias) -> sigmoid -> scale."""
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = keras.layers.Conv2D(channels // ratio, 1, kernel_regularizer=kernel_regularizer, name=f"{name}_reduce")(s)
    s = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(s)
    s = keras.layers.ReLU(name=f"{name}_relu")(s)
    s = keras.layers.Conv2D(channels, 1, activation="sigmoid", kernel_regularizer=kernel_regularizer,
                            name=f"{name}_expand")(s)
    return keras.layers.Multiply(name=f"{name}_excite")([x, s])


def conv_bn_swish(x, filters, kernel_size, name, strides=1, kernel_regularizer=None):
    """Bias-free conv -> BN -> Swish (ReXNet's ``ConvBNSwish``): layers ``name``, ``name_bn``, ``name_swish``."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                            kernel_regularizer=kernel_regularizer, name=name)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("swish", name=f"{name}_swish")(x)


def rexnet_bottleneck(x, channels, expansion, strides, use_se, name, se_ratio=12, kernel_regularizer=None):
    """One ReXNet ``LinearBottleneck`` (see the module docstring); ``expansion`` 6 is paper 003's MB6."""
    in_channels = x.shape[-1]
    shortcut = x
    if expansion != 1:
        x = conv_bn_swish(x, in_channels * expansion, 1, f"{name}_expand", kernel_regularizer=kernel_regularizer)
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False,
                                     depthwise_regularizer=kernel_regularizer, name=f"{name}_dwconv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_dwconv_bn")(x)
    if use_se:
        x = se_block(x, se_ratio, f"{name}_se", kernel_regularizer)
    x = keras.layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x)
    x = keras.layers.Conv2D(channels, 1, use_bias=False, kernel_regularizer=kernel_regularizer,
                            name=f"{name}_project")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_project_bn")(x)
    if strides == 1 and in_channels <= channels:
        x = PartialResidual(name=f"{name}_add")([x, shortcut])
    return x
