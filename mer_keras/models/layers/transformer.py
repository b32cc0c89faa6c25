"""Pre-norm transformer encoder layer from Keras' own layers, every sub-layer named from ``name``.

Shared by MobileViT (FFN 2d, Swish) and the DeiT-tiny-sized ViT (FFN 4d, GELU).
"""
from __future__ import annotations

import keras


def transformer_encoder(x, num_heads, mlp_dim, name, activation="swish", dropout=0.0,
                        attention_dropout=0.0, norm_epsilon=1e-5, kernel_regularizer=None):
    """x (B, N, d) -> (B, N, d): LN -> MHA -> add, LN -> Dense(mlp_dim) -> Dense(d) -> add."""
    dim = x.shape[-1]
    if dim % num_heads:
        raise ValueError(f"{name}: width {dim} is not divisible by {num_heads} heads")
    y = keras.layers.LayerNormalization(epsilon=norm_epsilon, name=f"{name}_ln1")(x)
    y = keras.layers.MultiHeadAttention(num_heads, dim // num_heads, dropout=attention_dropout,
                                        kernel_regularizer=kernel_regularizer, name=f"{name}_attn")(y, y)
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_attn_dropout")(y)
    x = keras.layers.Add(name=f"{name}_add1")([x, y])
    y = keras.layers.LayerNormalization(epsilon=norm_epsilon, name=f"{name}_ln2")(x)
    y = keras.layers.Dense(mlp_dim, activation=activation, kernel_regularizer=kernel_regularizer,
                           name=f"{name}_mlp1")(y)
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_mlp_dropout")(y)
    y = keras.layers.Dense(dim, kernel_regularizer=kernel_regularizer, name=f"{name}_mlp2")(y)
    return keras.layers.Add(name=f"{name}_add2")([x, y])
