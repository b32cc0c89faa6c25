"""The baselines of papers 000 / 004's ablation and timing tables, with the shared mer-keras top.

MobileNetV2 and ResNet50 are ``keras.applications`` backbones (``weights=None``: nothing is
downloaded) under the contract's GAP -> Dropout -> Dense("predictions") top, so their layer names
stay Keras'. ResNet18 (not in keras.applications) is written in the same naming style
(``conv2_block1_1_conv``...), with an ``activation`` switch. ``DeiT`` is a ViT of DeiT's sizes
(Touvron et al. 2021; patch 16, MLP 4d): it pools the patch tokens with the same GAP instead of a
class token, so it has 2 x ``width`` parameters fewer than DeiT (the class token and its position
embedding; tiny: 5,717,416 - 384, base: 86,567,656 - 1,536 with 1000 classes).

Paper 000 ("Improved lightweight ViT module") says its DeiT "multi-adds more than 10 G": of DeiT's
models only DeiT-B/16 at 224 px (86.6 M parameters, 17.6 G multiply-adds) does, so ``deit_base`` is
the paper-000 baseline; DeiT-S (4.6 G) and DeiT-Ti (1.3 G) do not. Paper 004 quotes 86 M for DeiT.
``ViTTiny`` (``vit_tiny``) is kept for small-input checks.
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers import activation_layer, transformer_encoder
from .layers.conv import DEFAULT_LEAKY_SLOPE
from .layers.resnet_block import basic_block

DEIT_VARIANTS = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}
"""DeiT width and heads; every variant has depth 12, patch 16 and an MLP of 4 x width."""


def _with_top(backbone, include_top, weights, pooling, classes, classifier_activation, dropout, l2, name):
    reg = regularizer(l2)
    if reg is not None:  # the application is built already: attach L2 to its kernels (and their configs)
        for layer in backbone.layers:
            attr = "depthwise_regularizer" if hasattr(layer, "depthwise_regularizer") else "kernel_regularizer"
            if hasattr(layer, attr) and getattr(layer, "kernel", None) is not None:
                setattr(layer, attr, reg)
                layer.kernel.regularizer = reg
    x = add_top(backbone.output, include_top, pooling, classes, classifier_activation, dropout, reg)
    return finish(backbone.input, x, name, weights)


def MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=True, weights=None, pooling=None, classes=3,
                classifier_activation="softmax", dropout=0.0, l2=0.0, name=None):
    """keras.applications MobileNetV2 (``alpha`` width) with the mer-keras top."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    backbone = keras.applications.MobileNetV2(input_shape=shape, alpha=alpha, include_top=False, weights=None)
    return _with_top(backbone, include_top, weights, pooling, classes, classifier_activation, dropout, l2,
                     name or "mobilenet_v2")


def ResNet50(input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
             classifier_activation="softmax", dropout=0.0, l2=0.0, name=None):
    """keras.applications ResNet50 with the mer-keras top."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    backbone = keras.applications.ResNet50(input_shape=shape, include_top=False, weights=None)
    return _with_top(backbone, include_top, weights, pooling, classes, classifier_activation, dropout, l2,
                     name or "resnet50")


def ResNet18(input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
             classifier_activation="softmax", dropout=0.0, l2=0.0, activation="relu",
             leaky_slope=DEFAULT_LEAKY_SLOPE, name=None):
    """ResNet18 (He et al. 2016, torchvision layout: 11,689,512 parameters with 1000 classes).

    ``activation``: "relu" or "leaky_relu" (slope ``leaky_slope``); layer names keep the ``_relu`` suffix
    either way, so weights transfer between the two."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    if activation not in ("relu", "leaky_relu"):
        raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {activation!r}")
    reg = regularizer(l2)
    act = (activation, leaky_slope)
    inputs = keras.Input(shape, name="input")
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, kernel_regularizer=reg,
                            name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="conv1_bn")(x)
    x = activation_layer(act[0], "conv1_relu", act[1])(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=2):
        for block in (1, 2):
            strides = 2 if block == 1 and stage > 2 else 1
            x = basic_block(x, filters, strides, f"conv{stage}_block{block}", reg, act)
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    return finish(inputs, x, name or "resnet18", weights)


@keras.saving.register_keras_serializable(package="mer_keras")
class PositionEmbedding(keras.layers.Layer):
    """Learned additive position embedding of shape (tokens, width); its shape ties it to the input size."""

    def build(self, input_shape):
        self.embedding = self.add_weight(shape=tuple(input_shape[1:]), name="embedding",
                                         initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.embedding


def DeiT(variant="base", input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
         classifier_activation="softmax", dropout=0.0, l2=0.0, patch_size=16, depth=12, name=None):
    """A ViT of DeiT's sizes ("tiny", "small", "base"): patch embedding, ``depth`` pre-norm encoders
    (GELU, MLP 4 x width), LN, GAP head. ``l2`` covers the patch embedding, attention and MLP kernels."""
    if variant not in DEIT_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(DEIT_VARIANTS)}, got {variant!r}")
    width, heads = DEIT_VARIANTS[variant]
    return _vit(input_shape, include_top, weights, pooling, classes, classifier_activation, dropout, l2, patch_size,
                width, depth, heads, 4 * width, name or f"deit_{variant}")


def ViTTiny(input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
            classifier_activation="softmax", dropout=0.0, l2=0.0, patch_size=16, width=192, depth=12,
            num_heads=3, mlp_dim=768, name=None):
    """A DeiT-tiny-sized ViT (Touvron et al. 2021): patch embedding, ``depth`` pre-norm encoders, GAP head."""
    return _vit(input_shape, include_top, weights, pooling, classes, classifier_activation, dropout, l2, patch_size,
                width, depth, num_heads, mlp_dim, name or "vit_tiny")


def _vit(input_shape, include_top, weights, pooling, classes, classifier_activation, dropout, l2, patch_size,
         width, depth, num_heads, mlp_dim, name):
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=patch_size)
    if shape[0] % patch_size or shape[1] % patch_size:
        raise ValueError(f"a ViT needs height and width divisible by the patch size {patch_size}, got {shape[:2]}")
    reg = regularizer(l2)
    grid = (shape[0] // patch_size, shape[1] // patch_size)
    inputs = keras.Input(shape, name="input")
    x = keras.layers.Conv2D(width, patch_size, strides=patch_size, kernel_regularizer=reg, name="patch_embed")(inputs)
    x = keras.layers.Reshape((grid[0] * grid[1], width), name="patch_tokens")(x)
    x = PositionEmbedding(name="pos_embed")(x)
    for i in range(depth):
        x = transformer_encoder(x, num_heads, mlp_dim, f"encoder{i + 1}", activation="gelu", norm_epsilon=1e-6,
                                kernel_regularizer=reg)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    x = keras.layers.Reshape((grid[0], grid[1], width), name="token_grid")(x)
    x = add_top(x, include_top, pooling, classes, classifier_activation, dropout, reg)
    return finish(inputs, x, name, weights)
