"""CGPO, the Cropped Gaussian Pyramid with Overlapping of paper 003 (Zhao, Chen, Luo, Front. Neurorobot.
15:746985, 2021, Sec. 3.2.2), and the two pieces CropNet adds around it (Sec. 3.2.4): folding the crops
into the batch so one shared extractor sees them all, and the trainable position embeddings of Eq. 8.

The paper: a 320x320 input and its 160x160 down-sample are divided into 160x160 images with an overlap
factor alpha = 0.3, ten in all (z0..z9). It does not give the crop grid. Our grid (``cgpo_boxes``):

- z0 is the whole image, one Gaussian-pyramid level down (``cv2.pyrDown``: 5x5 binomial blur, reflect-101
  border, every second pixel), i.e. the "160x160 down-sample";
- z1..z9 are a 3x3 grid of ``crop`` = size / 2 boxes, row-major from the top left, with stride
  ``round((1 - alpha) * crop)``, so neighbours overlap by ``alpha * crop`` (48 px at 320 / 160 / 0.3), centred
  on the image. Three such crops span ``crop + 2 * stride`` = 384 px > 320, so the outer boxes reach 32 px
  beyond the image, where the input is zero-padded. At 320 px the boxes (top, left, bottom, right) are, per
  axis, [-32, 128], [80, 240], [192, 352].

The alternatives we rejected: the tiling 0 / 80 / 160 covers the image without padding but overlaps by
0.5, not alpha; boxes of 320 / (3 - 2 alpha) = 133 px resized to 160 honour alpha but are not 160 px crops.
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

GRID = 3
"""Crops per axis: nine crops of the full-resolution image plus z0 makes the paper's ten."""
_PYR_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # cv2.pyrDown's separable Gaussian


def cgpo_boxes(size=320, crop=160, alpha=0.3, grid=GRID):
    """The ten CGPO boxes ``(top, left, bottom, right)`` in input pixels (ends exclusive): z0 = the whole
    image (fed down-sampled to ``crop``), then z1..z9 row-major. Coordinates may lie outside [0, size]
    (zero padding); see the module docstring for the grid."""
    size, crop, grid = int(size), int(crop), int(grid)
    if not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    if crop < 1 or crop > size or grid < 1:
        raise ValueError(f"need 1 <= crop <= size and grid >= 1, got size={size}, crop={crop}, grid={grid}")
    stride = round((1.0 - float(alpha)) * crop)
    if stride < 1:
        raise ValueError(f"alpha={alpha} leaves a stride < 1 px at crop {crop}")
    start = (size - (crop + (grid - 1) * stride)) // 2  # negative: the grid overhangs the image
    boxes = [(0, 0, size, size)]
    for row in range(grid):
        for col in range(grid):
            top, left = start + row * stride, start + col * stride
            boxes.append((top, left, top + crop, left + crop))
    return boxes


@keras.saving.register_keras_serializable(package="mer_keras")
class CGPO(keras.layers.Layer):
    """(B, S, S, C) -> (B, 10, S/2, S/2, C): z0 = ``pyrDown`` of the image, z1..z9 = the ``cgpo_boxes`` crops
    (zero outside the image). The crop is half the input side, as 160 is of 320, so the layer scales to any
    even input size; ``alpha`` is the overlap factor (paper: 0.3). Weight-free."""

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        cgpo_boxes(4, 2, self.alpha)  # argument errors now

    def _geometry(self, input_shape):
        height, width = input_shape[1:3]
        if height is None or height != width or height % 2:
            raise ValueError(f"{self.name}: CGPO needs a square input with an even side, got {height}x{width}")
        size = int(height)
        return size, size // 2, cgpo_boxes(size, size // 2, self.alpha)

    def call(self, inputs):
        size, _, boxes = self._geometry(inputs.shape)
        channels = inputs.shape[-1]
        # z0: Gaussian pyramid level 1 (same result as cv2.pyrDown on each channel)
        kernel = np.outer(_PYR_KERNEL, _PYR_KERNEL).astype("float32")
        kernel = np.tile(kernel[:, :, None, None], (1, 1, channels, 1))
        padded = ops.pad(inputs, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="reflect")
        z0 = ops.depthwise_conv(padded, ops.cast(kernel, inputs.dtype), strides=2, padding="valid")
        # z1..z9: zero-pad so every box lies inside, then slice
        lo = max(0, -min(min(b[0], b[1]) for b in boxes[1:]))
        hi = max(0, max(max(b[2], b[3]) for b in boxes[1:]) - size)
        x = ops.pad(inputs, [[0, 0], [lo, hi], [lo, hi], [0, 0]]) if lo or hi else inputs
        crops = [z0] + [x[:, top + lo:bottom + lo, left + lo:right + lo, :] for top, left, bottom, right in boxes[1:]]
        return ops.stack(crops, axis=1)

    def compute_output_shape(self, input_shape):
        _, crop, boxes = self._geometry(input_shape)
        return (input_shape[0], len(boxes), crop, crop, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="mer_keras")
class CropsToBatch(keras.layers.Layer):
    """(B, N, ...) -> (B * N, ...), sample-major, so one shared extractor runs once over every crop."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * input_shape[1]
        return (batch,) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="mer_keras")
class BatchToCrops(keras.layers.Layer):
    """(B * N, ...) -> (B, N, ...), the inverse of ``CropsToBatch``."""

    def __init__(self, crops=10, **kwargs):
        super().__init__(**kwargs)
        self.crops = int(crops)

    def call(self, inputs):
        return ops.reshape(inputs, (-1, self.crops) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.crops
        return (batch, self.crops) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "crops": self.crops}


@keras.saving.register_keras_serializable(package="mer_keras")
class CropPositionEmbedding(keras.layers.Layer):
    """(B, N, D) -> (B, N, D) with trainable p_i (D values each) added to z_i for i >= ``first`` (Eq. 8).

    Paper 003: p1..p9, one per crop of the full-resolution image, "initialized to random values that follow a
    normal distribution" with mean 0 and variance 0.2 (so the standard deviation is sqrt(0.2)); z0, the
    whole down-sampled image, gets none. The operator of Eq. 8 is lost in the text ("zi=zipi"); we add, as
    ViT's position embeddings do and as "pi has the same dimension as zi" allows.
    """

    def __init__(self, first=1, variance=0.2, **kwargs):
        super().__init__(**kwargs)
        self.first = int(first)
        self.variance = float(variance)
        if self.first < 0 or self.variance < 0:
            raise ValueError(f"first and variance must be >= 0, got {first}, {variance}")

    def build(self, input_shape):
        crops, dim = int(input_shape[1]), int(input_shape[2])
        if not 0 <= self.first < crops:
            raise ValueError(f"{self.name}: first={self.first} is not one of the {crops} crops")
        self.embeddings = self.add_weight(
            shape=(crops - self.first, dim), name="embeddings",
            initializer=keras.initializers.RandomNormal(mean=0.0, stddev=math.sqrt(self.variance)))

    def call(self, inputs):
        p = ops.cast(self.embeddings, inputs.dtype)
        if self.first:
            p = ops.concatenate([ops.zeros((self.first, p.shape[-1]), dtype=p.dtype), p], axis=0)
        return inputs + p[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "first": self.first, "variance": self.variance}
