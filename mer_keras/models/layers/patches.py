"""MobileViT-style unfold / fold of a feature map into non-overlapping patches (weight-free layers).

``PatchUnfold`` turns (B, H, W, C) into (B * P, H / h, W / w, C) with P = h * w: the batch holds
one grid per in-patch position, so a transformer over the grid's tokens relates the *same pixel*
of every patch (MobileViT, paper 000 Fig. 4) and never loses the pixels' spatial order.
``PatchFold`` is its exact inverse. Sizes must divide; callers resize or raise before.
"""
from __future__ import annotations

import keras
from keras import ops


def _check_patch(patch_size):
    patch = tuple(int(p) for p in (patch_size if isinstance(patch_size, (tuple, list)) else (patch_size,) * 2))
    if len(patch) != 2 or min(patch) < 1:
        raise ValueError(f"patch_size must be a positive int or pair, got {patch_size}")
    return patch


@keras.saving.register_keras_serializable(package="mer_keras")
class PatchUnfold(keras.layers.Layer):
    """(B, H, W, C) -> (B * ph * pw, H // ph, W // pw, C)."""

    def __init__(self, patch_size=2, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = _check_patch(patch_size)

    def _grid(self, input_shape):
        (ph, pw), (height, width) = self.patch_size, input_shape[1:3]
        if height is None or width is None or height % ph or width % pw:
            raise ValueError(f"{self.name}: feature map {height}x{width} is not divisible by patch {ph}x{pw}")
        return height // ph, width // pw

    def call(self, inputs):
        (ph, pw), (gh, gw), channels = self.patch_size, self._grid(inputs.shape), inputs.shape[-1]
        x = ops.reshape(inputs, (-1, gh, ph, gw, pw, channels))
        x = ops.transpose(x, (0, 2, 4, 1, 3, 5))
        return ops.reshape(x, (-1, gh, gw, channels))

    def compute_output_shape(self, input_shape):
        gh, gw = self._grid(input_shape)
        batch = None if input_shape[0] is None else input_shape[0] * self.patch_size[0] * self.patch_size[1]
        return (batch, gh, gw, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "patch_size": list(self.patch_size)}


@keras.saving.register_keras_serializable(package="mer_keras")
class PatchFold(keras.layers.Layer):
    """(B * ph * pw, gh, gw, C) or (B * ph * pw, gh * gw, C) -> (B, gh * ph, gw * pw, C)."""

    def __init__(self, patch_size=2, grid_size=None, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = _check_patch(patch_size)
        if grid_size is None or len(grid_size) != 2:
            raise ValueError(f"grid_size (gh, gw) is required, got {grid_size}")
        self.grid_size = tuple(int(g) for g in grid_size)

    def call(self, inputs):
        (ph, pw), (gh, gw), channels = self.patch_size, self.grid_size, inputs.shape[-1]
        x = ops.reshape(inputs, (-1, ph, pw, gh, gw, channels))
        x = ops.transpose(x, (0, 3, 1, 4, 2, 5))
        return ops.reshape(x, (-1, gh * ph, gw * pw, channels))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if batch is not None:
            batch //= self.patch_size[0] * self.patch_size[1]
        return (batch, self.grid_size[0] * self.patch_size[0], self.grid_size[1] * self.patch_size[1],
                input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "patch_size": list(self.patch_size), "grid_size": list(self.grid_size)}
