"""LBP-TOP (Zhao & Pietikainen 2007) as one registered, weight-free layer: the MEGC 2019 organisers' baseline.

Local binary patterns on three orthogonal planes of a grey clip: XY (each frame), XT (each row over time) and
YT (each column over time). With P = 4 neighbours on an (elliptic) circle the sampling points are axis-aligned,
so no interpolation is needed: in XY the neighbours sit at (x +- R_X, y) and (x, y +- R_Y), in XT at
(x +- R_X, t) and (x, t +- R_T), in YT at (y +- R_Y, t) and (y, t +- R_T). Each code is 4 bits (a neighbour
>= the centre sets its bit), so every plane gives a 16-bin histogram; the valid region (centres whose
neighbours all exist) is cut into ``blocks`` x ``blocks`` non-overlapping blocks, and each block's histogram of
each plane is normalised to sum 1 (as the reference Matlab implementation does). Output: blocks x blocks x 3
x 16 values, flattened.
"""
from __future__ import annotations

import keras
from keras import ops

BINS = 16  # 2 ** P with P = 4


@keras.saving.register_keras_serializable(package="mer_keras")
class LBPTOP(keras.layers.Layer):
    """LBP-TOP histograms of a (batch, T, H, W, 1) clip; ``radii`` = (R_X, R_Y, R_T), P = 4 on every plane."""

    def __init__(self, radii=(1, 1, 4), blocks: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.radii = tuple(int(r) for r in radii)
        if len(self.radii) != 3 or min(self.radii) < 1 or int(blocks) < 1:
            raise ValueError(f"radii (R_X, R_Y, R_T) >= 1 and blocks >= 1 expected, got {radii}, {blocks}")
        self.blocks = int(blocks)

    def _check(self, shape):
        if len(shape) != 5 or shape[-1] != 1:
            raise ValueError(f"{self.name}: a (batch, T, H, W, 1) grey clip expected, got {shape}")
        rx, ry, rt = self.radii
        t, h, w = shape[1], shape[2], shape[3]
        if t <= 2 * rt or h - 2 * ry < self.blocks or w - 2 * rx < self.blocks:
            raise ValueError(f"{self.name}: a clip of {t} frames of {h}x{w} px is too small for radii "
                             f"{self.radii} and {self.blocks}x{self.blocks} blocks")

    def build(self, input_shape):
        self._check(tuple(input_shape))
        super().build(input_shape)

    def _code(self, video, offsets):
        """4-bit codes of the centres of the valid region of every plane (T - 2 R_T, H - 2 R_Y, W - 2 R_X)."""
        rx, ry, rt = self.radii
        shape = ops.shape(video)
        t, h, w = shape[1], shape[2], shape[3]

        def at(dt, dy, dx):
            return video[:, rt + dt:t - rt + dt, ry + dy:h - ry + dy, rx + dx:w - rx + dx]

        centre = at(0, 0, 0)
        code = 0
        for bit, (dt, dy, dx) in enumerate(offsets):
            code = code + ops.cast(at(dt, dy, dx) >= centre, "int32") * (2 ** bit)
        return code

    def _histograms(self, code):
        """Normalised 16-bin histograms of each of the blocks x blocks blocks: (batch, blocks, blocks, 16)."""
        onehot = ops.one_hot(code, BINS)  # (batch, T', H', W', 16)
        counts = ops.sum(onehot, axis=1)  # over time
        height, width = counts.shape[1], counts.shape[2]
        rows = [round(i * height / self.blocks) for i in range(self.blocks + 1)]
        cols = [round(j * width / self.blocks) for j in range(self.blocks + 1)]
        cells = []
        for i in range(self.blocks):
            for j in range(self.blocks):
                cell = ops.sum(counts[:, rows[i]:rows[i + 1], cols[j]:cols[j + 1]], axis=(1, 2))
                cells.append(cell / ops.maximum(ops.sum(cell, axis=-1, keepdims=True), 1.0))
        return ops.stack(cells, axis=1)  # (batch, blocks * blocks, 16)

    def call(self, inputs):
        rx, ry, rt = self.radii
        video = inputs[..., 0]
        planes = {
            "xy": ((0, 0, rx), (0, -ry, 0), (0, 0, -rx), (0, ry, 0)),
            "xt": ((0, 0, rx), (-rt, 0, 0), (0, 0, -rx), (rt, 0, 0)),
            "yt": ((0, ry, 0), (-rt, 0, 0), (0, -ry, 0), (rt, 0, 0)),
        }
        hists = [self._histograms(self._code(video, offsets)) for offsets in planes.values()]
        return ops.reshape(ops.stack(hists, axis=2), (-1, self.blocks * self.blocks * 3 * BINS))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.blocks * self.blocks * 3 * BINS)

    def get_config(self):
        return {**super().get_config(), "radii": list(self.radii), "blocks": self.blocks}
