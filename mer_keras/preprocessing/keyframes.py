"""Fixed-length frame selection for 3D networks: uniform sampling or spatio-temporal slices (paper 001).

Paper 001 stacks, for each frame, one pixel row at fixed heights (a horizontal spatio-temporal
slice, its Eq. 3.1) and keeps the frames where adjacent slices differ most ("pixel proximity of
adjacent slices"). It gives no formula for the selection; here the distance between adjacent
slice rows (mean absolute difference over the chosen rows) is accumulated along the clip and
``n`` frames are taken at equal steps of that cumulative change, so frames crowd where the face
moves and thin out where it is still. The first and last frame of the range are always kept.
"""
from __future__ import annotations

import numpy as np


def uniform_positions(start: int, end: int, n: int = 16) -> list[int]:
    """``n`` positions evenly spread over start..end inclusive (repeats when the range is shorter)."""
    if end < start or n < 1:
        raise ValueError(f"need end >= start and n >= 1, got start={start}, end={end}, n={n}")
    return [round(float(p)) for p in np.linspace(start, end, n)]


def slice_rows(height: int, rows=(0.35, 0.5, 0.7, 0.8)) -> list[int]:
    """Pixel rows for the slices, as fractions of an aligned face's height (eyes, nose, mouth)."""
    return [min(height - 1, round(r * (height - 1))) for r in rows]


def slice_change(frames, rows=(0.35, 0.5, 0.7, 0.8)) -> np.ndarray:
    """Distance between adjacent spatio-temporal slice rows: (T - 1,) mean |h_i - h_{i-1}|."""
    stack = np.asarray(frames, dtype=np.float32)
    if stack.ndim < 3 or len(stack) < 2:
        raise ValueError(f"need at least two frames (T, H, W[, C]), got shape {stack.shape}")
    slices = stack[:, slice_rows(stack.shape[1], rows)]  # (T, R, W[, C])
    diffs = np.abs(np.diff(slices, axis=0))
    return diffs.reshape(len(diffs), -1).mean(axis=1)


def slice_positions(frames, n: int = 16, rows=(0.35, 0.5, 0.7, 0.8)) -> list[int]:
    """``n`` positions (into ``frames``) at equal steps of cumulative slice change (module doc)."""
    if len(frames) == 1:
        return [0] * n
    change = slice_change(frames, rows)
    cumulative = np.concatenate([[0.0], np.cumsum(change)])
    if cumulative[-1] <= 0:  # a still clip: nothing to prefer, sample uniformly
        return uniform_positions(0, len(frames) - 1, n)
    targets = np.linspace(0.0, cumulative[-1], n)
    picks = np.searchsorted(cumulative, targets, side="left")
    picks[0], picks[-1] = 0, len(frames) - 1
    return [int(p) for p in picks]
