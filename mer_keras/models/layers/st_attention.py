"""The spatio-temporal attention of paper 001 (Jin, He, Li, Yang, Math. Biosci. Eng. 21(4), 2024, §3.2).

The paper adds "the temporal and spatial attention mechanism ... after the 1st block ... to improve the
network's attention to the temporal dimension and spatial dimension of micro-expression movement" and
gives no formula or figure text. Our design (every size an argument), after CBAM's spatial attention
(Woo et al. 2018) carried to clips:

- temporal gate: each frame's mean and max over (H, W, C), a 1-D convolution over time
  (``temporal_kernel_size`` 3), sigmoid: one weight per frame, i.e. *when* the movement happens;
- spatial gate: at every position of every frame the mean and max over channels, a (1, k, k)
  convolution (``spatial_kernel_size`` 7, CBAM's), sigmoid: *where* on the face, frame by frame.

The clip is multiplied by the temporal gate, then by the spatial gate computed from that result.
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mer_keras")
class SpatioTemporalAttention(keras.layers.Layer):
    """Temporal then spatial sigmoid gates on a (batch, T, H, W, C) clip; output shape = input shape.

    Args:
        temporal_kernel_size: width of the convolution over frames.
        spatial_kernel_size: k of the (1, k, k) convolution over each frame.
        kernel_regularizer: optional regulariser of both kernels.
    """

    def __init__(self, temporal_kernel_size=3, spatial_kernel_size=7, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if int(temporal_kernel_size) < 1 or int(spatial_kernel_size) < 1:
            raise ValueError("temporal_kernel_size and spatial_kernel_size must be >= 1, "
                             f"got {temporal_kernel_size}, {spatial_kernel_size}")
        self.temporal_kernel_size = int(temporal_kernel_size)
        self.spatial_kernel_size = int(spatial_kernel_size)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        if len(input_shape) != 5:
            raise ValueError(f"{self.name}: expects (batch, T, H, W, C), got {input_shape}")
        self.temporal_conv = keras.layers.Conv1D(1, self.temporal_kernel_size, padding="same",
                                                 kernel_regularizer=self.kernel_regularizer,
                                                 name=f"{self.name}_temporal_conv")
        self.temporal_conv.build((None, input_shape[1], 2))
        k = self.spatial_kernel_size
        self.spatial_conv = keras.layers.Conv3D(1, (1, k, k), padding="same", kernel_initializer="he_normal",
                                                kernel_regularizer=self.kernel_regularizer,
                                                name=f"{self.name}_spatial_conv")
        self.spatial_conv.build(tuple(input_shape[:-1]) + (2,))
        super().build(input_shape)

    def call(self, inputs):
        frames = ops.stack([ops.mean(inputs, axis=(2, 3, 4)), ops.max(inputs, axis=(2, 3, 4))], axis=-1)
        temporal = ops.sigmoid(self.temporal_conv(frames))  # (batch, T, 1)
        x = inputs * temporal[:, :, None, None, :]
        maps = ops.concatenate([ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)
        return x * ops.sigmoid(self.spatial_conv(maps))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temporal_kernel_size": self.temporal_kernel_size,
                "spatial_kernel_size": self.spatial_kernel_size,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}
