"""The baselines of papers 000 / 004's ablation and timing tables, with the shared mer-keras top.

MobileNetV2 and ResNet50 are ``keras.applications`` backbones (``weights=None``: nothing is
downloaded) under the contract's GAP -> Dropout -> Dense("predictions") top, so their layer names
stay Keras'. ResNet18 (not in keras.applications) is written in the same naming style
(``conv2_block1_1_conv``...). ``ViTTiny`` is a DeiT-tiny-sized ViT (patch 16, width 192, depth 12,
3 heads, MLP 768): it pools the patch tokens with the same GAP instead of a class token, so it has
384 parameters fewer than DeiT-tiny's 5,717,416 with 1000 classes.
"""
from __future__ import annotations

import keras

from .common import add_top, finish, regularizer, validate_common
from .layers import transformer_encoder


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


def _basic_block(x, filters, strides, name, reg):
    """ResNet v1 basic block: 3x3 -> 3x3, projection shortcut when the shape changes."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False, kernel_regularizer=reg,
                                       name=f"{name}_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_0_bn")(shortcut)
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, kernel_regularizer=reg,
                            name=f"{name}_1_conv")(x)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_1_bn")(y)
    y = keras.layers.ReLU(name=f"{name}_1_relu")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                            name=f"{name}_2_conv")(y)
    y = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_2_bn")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def ResNet18(input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
             classifier_activation="softmax", dropout=0.0, l2=0.0, name=None):
    """ResNet18 (He et al. 2016, torchvision layout: 11,689,512 parameters with 1000 classes)."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout)
    reg = regularizer(l2)
    inputs = keras.Input(shape, name="input")
    x = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, kernel_regularizer=reg,
                            name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=2):
        for block in (1, 2):
            strides = 2 if block == 1 and stage > 2 else 1
            x = _basic_block(x, filters, strides, f"conv{stage}_block{block}", reg)
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


def ViTTiny(input_shape=(224, 224, 3), include_top=True, weights=None, pooling=None, classes=3,
            classifier_activation="softmax", dropout=0.0, l2=0.0, patch_size=16, width=192, depth=12,
            num_heads=3, mlp_dim=768, name=None):
    """A DeiT-tiny-sized ViT (Touvron et al. 2021): patch embedding, ``depth`` pre-norm encoders, GAP head."""
    shape = validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=patch_size)
    if shape[0] % patch_size or shape[1] % patch_size:
        raise ValueError(f"ViTTiny needs height and width divisible by the patch size {patch_size}, got {shape[:2]}")
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
    return finish(inputs, x, name or "vit_tiny", weights)
