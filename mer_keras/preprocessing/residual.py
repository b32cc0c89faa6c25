"""Absolute and Relative Residual Sums (paper 003, Eqs. 1-7): a clip's motion summed into one image.

Eq. 1-2 choose the clip: start = onset; end = min(onset + 10, offset) when the apex is fewer than
10 frames after the onset, else min(apex, offset). Eq. 3-4 choose ``n_key`` key frames: with
gap = ceil((end - start) / (n_key + 1)), F = {min(start + k * gap, end) : k = 1 .. n_key - 1} and
end (the equation's last element). Short clips repeat frames, as Eq. 4 does.
Eq. 5: ARS = (sum_f |Q_f - Q_start|) mod 256. Eq. 6-7: RRS = the same sum rescaled linearly
from [min, max] over the image to [g_min, g_max] = [0, 255].
"""
from __future__ import annotations

import math

import numpy as np

N_KEY = 5


def clip_bounds(onset_idx: int, apex_idx: int, offset_idx: int, span: int = 10):
    """(start, end) positions of Eqs. 1-2."""
    start = int(onset_idx)
    if int(apex_idx) - start < span:
        end = min(start + span, int(offset_idx))
    else:
        end = min(int(apex_idx), int(offset_idx))
    return start, end


def key_frame_positions(start: int, end: int, n_key: int = N_KEY) -> list[int]:
    """Positions of the key frames of Eqs. 3-4 (the start frame itself is not among them)."""
    if end < start or n_key < 1:
        raise ValueError(f"need end >= start and n_key >= 1, got start={start}, end={end}, n_key={n_key}")
    gap = math.ceil((end - start) / (n_key + 1))
    return [min(start + k * gap, end) for k in range(1, n_key)] + [end]


def residual_sum(frames, mode: str = "absolute", g_min: float = 0.0, g_max: float = 255.0) -> np.ndarray:
    """ARS or RRS of ``frames`` = [Q_start, Q_f1, ..., Q_fn] (uint8-valued arrays) -> float32 in [0, 255].

    ``mode="absolute"``: Eq. 5, integer sum of absolute residuals modulo 256.
    ``mode="relative"``: Eqs. 6-7, the sum rescaled to [g_min, g_max]; a clip without any change
    (max == min) gives g_min everywhere rather than dividing by zero.
    """
    if mode not in ("absolute", "relative"):
        raise ValueError(f"mode must be 'absolute' or 'relative', got {mode!r}")
    if len(frames) < 2:
        raise ValueError(f"residual_sum needs the start frame and at least one key frame, got {len(frames)}")
    start = np.asarray(frames[0], dtype=np.int64)
    total = np.zeros_like(start)
    for f in frames[1:]:
        f = np.asarray(f, dtype=np.int64)
        if f.shape != start.shape:
            raise ValueError(f"key frame shape {f.shape} differs from the start frame's {start.shape}")
        total += np.abs(f - start)
    if mode == "absolute":
        return np.mod(total, 256).astype(np.float32)
    lo, hi = total.min(), total.max()
    if hi == lo:
        return np.full(total.shape, g_min, np.float32)
    return ((total - lo) / (hi - lo) * (g_max - g_min) + g_min).astype(np.float32)
