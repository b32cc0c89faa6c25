"""LAM, the lightweight attention module of paper 002 (Hao, Zhu, Zhang et al., Multimed. Tools Appl. 83, 2024).

Only the paper's abstract is available. What it says:

- LAM "calculate[s] the correlation between the feature maps (channel dimension) and the correlation
  within the feature maps (spatial dimension)": a channel branch and a spatial branch;
- it is built "without adding obvious parameters" (light);
- it is "cooperated with residual block at various scales in Resnet" (placement: see ``lam_resnet``).

What we inferred (every item is an argument of ``LAM``, defaults in brackets):

- channel branch [``"mlp"``]: a shared two-layer MLP with reduction ``reduction`` [16] over the pooled
  channel descriptors, as SE / CBAM: it relates every channel to every other one. ``"eca"`` is the
  near-parameter-free alternative (ECA-Net, Wang et al. 2020: a 1-D convolution across neighbouring
  channels, kernel from ECA's rule when ``channel_kernel_size`` is None);
- spatial branch [``"conv"``]: channel-wise mean and max maps, one ``spatial_kernel_size`` x
  ``spatial_kernel_size`` [7] convolution, as CBAM's spatial attention;
- descriptors [``pooling="avg_max"``]: average and max pooling (CBAM); ``"avg"`` uses the mean only;
- combination [``arrangement="sequential"``]: channel gate, then the spatial gate computed on the
  channel-refined map (CBAM's order). ``"parallel"`` computes both logits from the input and gates it
  with ``sigmoid(channel + spatial)`` (BAM's sum of branches, without BAM's identity term).

With the defaults LAM computes what CBAM (``layers.cbam``) computes, with r = 16; it is a separate
layer because the paper's module is its own and every choice above must stay switchable.
"""
from __future__ import annotations

import math

import keras
from keras import ops

CHANNEL_BRANCHES = ("mlp", "eca")
SPATIAL_BRANCHES = ("conv",)
POOLINGS = ("avg_max", "avg")
ARRANGEMENTS = ("sequential", "parallel")


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """ECA-Net's adaptive kernel as its code computes it: ``t = int(|(log2 C + b) / gamma|)``, made odd by + 1."""
    k = int(abs(math.log2(channels) / gamma + b / gamma))
    return k if k % 2 else k + 1


@keras.saving.register_keras_serializable(package="mer_keras")
class LAM(keras.layers.Layer):
    """Channel + spatial attention gate; output shape = input shape (see the module docstring).

    Args:
        channel: "mlp", "eca" or None (no channel branch).
        reduction: hidden width C // reduction of the "mlp" branch (at least 1).
        channel_kernel_size: kernel of the "eca" branch; None = ECA's adaptive rule (3 for 64 channels,
            5 for 512).
        spatial: "conv" or None (no spatial branch).
        spatial_kernel_size: kernel of the spatial convolution.
        pooling: "avg_max" (mean and max descriptors) or "avg".
        arrangement: "sequential" (channel then spatial) or "parallel" (one gate from both logits).
        kernel_regularizer: optional regulariser of every kernel of the module.
    """

    def __init__(self, channel="mlp", reduction=16, channel_kernel_size=None, spatial="conv",
                 spatial_kernel_size=7, pooling="avg_max", arrangement="sequential", kernel_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        if channel not in CHANNEL_BRANCHES + (None,):
            raise ValueError(f"channel must be one of {CHANNEL_BRANCHES} or None, got {channel!r}")
        if spatial not in SPATIAL_BRANCHES + (None,):
            raise ValueError(f"spatial must be one of {SPATIAL_BRANCHES} or None, got {spatial!r}")
        if channel is None and spatial is None:
            raise ValueError("LAM needs at least one branch: channel and spatial are both None")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if arrangement not in ARRANGEMENTS:
            raise ValueError(f"arrangement must be one of {ARRANGEMENTS}, got {arrangement!r}")
        if int(reduction) < 1 or int(spatial_kernel_size) < 1:
            raise ValueError(f"reduction and spatial_kernel_size must be >= 1, got {reduction}, {spatial_kernel_size}")
        if channel_kernel_size is not None and (int(channel_kernel_size) < 1 or int(channel_kernel_size) % 2 == 0):
            raise ValueError(f"channel_kernel_size must be None or an odd int >= 1, got {channel_kernel_size}")
        self.channel = channel
        self.reduction = int(reduction)
        self.channel_kernel_size = None if channel_kernel_size is None else int(channel_kernel_size)
        self.spatial = spatial
        self.spatial_kernel_size = int(spatial_kernel_size)
        self.pooling = pooling
        self.arrangement = arrangement
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{self.name}: the channel dimension must be known")
        reg = self.kernel_regularizer
        if self.channel == "mlp":
            hidden = max(1, channels // self.reduction)
            self.mlp_hidden = keras.layers.Dense(hidden, activation="relu", kernel_initializer="he_normal",
                                                 kernel_regularizer=reg, name=f"{self.name}_mlp_hidden")
            self.mlp_out = keras.layers.Dense(channels, kernel_initializer="he_normal", kernel_regularizer=reg,
                                              name=f"{self.name}_mlp_out")
            self.mlp_hidden.build((None, channels))
            self.mlp_out.build((None, hidden))
        elif self.channel == "eca":
            k = self.channel_kernel_size or eca_kernel_size(channels)
            self.eca_conv = keras.layers.Conv1D(1, k, padding="same", use_bias=False, kernel_regularizer=reg,
                                                name=f"{self.name}_eca_conv")
            self.eca_conv.build((None, channels, 1))
        if self.spatial == "conv":
            descriptors = 2 if self.pooling == "avg_max" else 1
            self.spatial_conv = keras.layers.Conv2D(1, self.spatial_kernel_size, padding="same",
                                                    kernel_initializer="he_normal", kernel_regularizer=reg,
                                                    name=f"{self.name}_spatial_conv")
            self.spatial_conv.build(tuple(input_shape[:-1]) + (descriptors,))
        super().build(input_shape)

    def _channel_logits(self, x):
        """(batch, 1, 1, C) pre-sigmoid channel attention."""
        pooled = [ops.mean(x, axis=(1, 2))]
        if self.pooling == "avg_max":
            pooled.append(ops.max(x, axis=(1, 2)))
        if self.channel == "mlp":
            logits = sum(self.mlp_out(self.mlp_hidden(p)) for p in pooled)
        else:
            logits = sum(ops.squeeze(self.eca_conv(ops.expand_dims(p, -1)), -1) for p in pooled)
        return logits[:, None, None, :]

    def _spatial_logits(self, x):
        """(batch, H, W, 1) pre-sigmoid spatial attention."""
        maps = [ops.mean(x, axis=-1, keepdims=True)]
        if self.pooling == "avg_max":
            maps.append(ops.max(x, axis=-1, keepdims=True))
        return self.spatial_conv(ops.concatenate(maps, axis=-1) if len(maps) > 1 else maps[0])

    def call(self, inputs):
        if self.arrangement == "parallel" and self.channel and self.spatial:
            return inputs * ops.sigmoid(self._channel_logits(inputs) + self._spatial_logits(inputs))
        x = inputs
        if self.channel:
            x = x * ops.sigmoid(self._channel_logits(x))
        if self.spatial:
            x = x * ops.sigmoid(self._spatial_logits(x))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channel": self.channel, "reduction": self.reduction,
                "channel_kernel_size": self.channel_kernel_size, "spatial": self.spatial,
                "spatial_kernel_size": self.spatial_kernel_size, "pooling": self.pooling,
                "arrangement": self.arrangement,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}
