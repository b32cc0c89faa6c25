"""SynthME motion: smooth displacement fields anchored on the 68 landmarks, and the warp that applies them.

Why: a micro-expression is a small, local, smooth deformation of the face. Each facial action unit
(AU) is modelled as displacement vectors attached to a few landmarks (lip corners, brows, eyelids,
nose wings, chin), spread to the surrounding skin with Gaussian weights whose width scales with the
inter-ocular distance. Directions are given in the face's own frame (x along the eye line, y toward
the chin; "outward" flips sign with the side of the face), so they follow each identity's geometry
and roll. This is a kinematic caricature of FACS, not a muscle or 3-D model.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

# AU -> list of (anchor landmarks (their mean is the anchor), (outward dx, dy) in the face frame, weight)
AU_ANCHORS: dict[str, list[tuple[tuple[int, ...], tuple[float, float], float]]] = {
    "1": [((20,), (0.0, -1.0), 0.8), ((21,), (0.0, -1.0), 1.0), ((22,), (0.0, -1.0), 1.0), ((23,), (0.0, -1.0), 0.8)],
    "2": [((17,), (0.0, -1.0), 0.8), ((18,), (0.0, -1.0), 1.0), ((25,), (0.0, -1.0), 1.0), ((26,), (0.0, -1.0), 0.8)],
    "4": [((17,), (0.0, 1.0), 0.6), ((19,), (-0.2, 1.0), 0.9), ((21,), (-0.5, 0.9), 1.0),
          ((22,), (-0.5, 0.9), 1.0), ((24,), (-0.2, 1.0), 0.9), ((26,), (0.0, 1.0), 0.6)],
    "5": [((37, 38), (0.0, -1.0), 1.0), ((43, 44), (0.0, -1.0), 1.0)],
    "6": [((41, 31), (0.0, -1.0), 1.0), ((46, 35), (0.0, -1.0), 1.0)],
    "7": [((40, 41), (0.0, -1.0), 1.0), ((46, 47), (0.0, -1.0), 1.0)],
    "9": [((31,), (0.0, -1.0), 1.0), ((35,), (0.0, -1.0), 1.0), ((28,), (0.0, 0.6), 0.6)],
    "10": [((50,), (0.0, -1.0), 1.0), ((51,), (0.0, -1.0), 0.8), ((52,), (0.0, -1.0), 1.0)],
    "12": [((48,), (0.8, -0.6), 1.0), ((54,), (0.8, -0.6), 1.0)],
    "14": [((48,), (-0.8, 0.0), 1.0), ((54,), (-0.8, 0.0), 1.0)],
    "15": [((48,), (0.1, 1.0), 1.0), ((54,), (0.1, 1.0), 1.0)],
    "17": [((57,), (0.0, -1.0), 0.8), ((8,), (0.0, -1.0), 1.0)],
    "20": [((48,), (1.0, 0.2), 1.0), ((54,), (1.0, 0.2), 1.0)],
    "24": [((62,), (0.0, 1.0), 1.0), ((66,), (0.0, -1.0), 1.0)],
    "26": [((57,), (0.0, 1.0), 1.0), ((8,), (0.0, 1.0), 1.0), ((7,), (0.0, 1.0), 0.7), ((9,), (0.0, 1.0), 0.7)],
    "43": [((37, 38), (0.0, 1.0), 1.0), ((43, 44), (0.0, 1.0), 1.0)],  # eye closure (blinks)
}
SIGMA_IOD = {"default": 0.22, "5": 0.12, "7": 0.12, "43": 0.10}
"""Gaussian width of each AU's spread, as a fraction of the inter-ocular distance."""


@functools.lru_cache(maxsize=4)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``(yy, xx)`` float32 pixel coordinates of an ``h`` x ``w`` image, read-only, made once per shape
    (every frame of every clip warps with them)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def face_frame(landmarks: np.ndarray):
    """Unit vectors of the face frame (x along the eye line, y toward the chin), centre and inter-ocular distance."""
    left, right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    ex = (right - left) / np.linalg.norm(right - left)
    ey = np.array([-ex[1], ex[0]])
    centre = landmarks[27:36].mean(0)
    return ex, ey, centre, float(np.linalg.norm(right - left))


def au_field(landmarks: np.ndarray, au: str, shape: tuple[int, int], side_gain=(1.0, 1.0)) -> np.ndarray:
    """Displacement field (H, W, 2) of one AU, about 1 px at its strongest anchor.

    ``side_gain`` scales the image-left and image-right halves of the face (asymmetric AUs such as
    CASME II's ``R12``). Overlapping anchors are averaged, not summed, so a cluster of landmarks moves
    like one patch of skin.
    """
    if au not in AU_ANCHORS:
        raise ValueError(f"unknown action unit {au!r}; modelled AUs are {sorted(AU_ANCHORS, key=int)}")
    ex, ey, centre, iod = face_frame(landmarks)
    sigma = SIGMA_IOD.get(au, SIGMA_IOD["default"]) * iod
    h, w = shape
    yy, xx = pixel_grid(h, w)
    weight_sum = np.zeros((h, w), np.float32)
    field = np.zeros((h, w, 2), np.float32)
    for idx, (dx_out, dy), gain in AU_ANCHORS[au]:
        anchor = landmarks[list(idx)].mean(0)
        side = 1.0 if (anchor - centre) @ ex >= 0 else -1.0
        vec = (dx_out * side * ex + dy * ey) * gain * side_gain[0 if side < 0 else 1]
        g = np.exp(-((xx - anchor[0]) ** 2 + (yy - anchor[1]) ** 2) / (2 * sigma**2)).astype(np.float32)
        weight_sum += g
        field += g[..., None] * vec.astype(np.float32)
    return field / np.maximum(weight_sum, 1.0)[..., None]


def expression_field(landmarks, aus: dict[str, float], shape, side_gain=(1.0, 1.0)) -> np.ndarray:
    """Weighted sum of AU fields, scaled so its largest displacement is exactly 1 px."""
    total = np.zeros((*shape, 2), np.float32)
    for au, weight in aus.items():
        total += weight * au_field(landmarks, au, shape, side_gain)
    peak = float(np.sqrt((total**2).sum(-1)).max())
    if peak == 0:
        raise ValueError(f"action units {aus} produce no motion")
    return total / peak


def rigid_field(shape, centre, dx: float, dy: float, roll_deg: float) -> np.ndarray:
    """Displacement of a small in-plane head motion (translation plus roll about ``centre``)."""
    h, w = shape
    yy, xx = pixel_grid(h, w)
    t = np.deg2rad(roll_deg)
    px, py = xx - centre[0], yy - centre[1]
    ux = (np.cos(t) - 1) * px - np.sin(t) * py + dx
    uy = np.sin(t) * px + (np.cos(t) - 1) * py + dy
    return np.stack([ux, uy], -1).astype(np.float32)


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Move the content of ``image`` by ``field`` (pixels), with bicubic sampling.

    Uses the backward map out(x) = in(x - d(x)), exact to first order for the smooth, small fields used here.
    """
    h, w = field.shape[:2]
    yy, xx = pixel_grid(h, w)
    field = field.astype(np.float32, copy=False)
    return cv2.remap(image, xx - field[..., 0], yy - field[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def random_walk_fields(rng: np.random.Generator, shape, n_frames: int, grid: int = 5, knots: int = 2,
                       rms: float = 1.0) -> np.ndarray:
    """``(n_frames, H, W, 2)`` float32 smooth non-rigid displacements of RMS about ``rms`` px, 0 at the first frame.

    ``knots`` random fields (each a ``grid`` x ``grid`` coarse field of normal vectors, bicubically enlarged)
    are passed through at evenly spaced frames, linearly in between: a slow, class-unrelated drift of the skin.
    """
    h, w = shape
    fields = [np.zeros((h, w, 2), np.float32)]
    for _ in range(knots):
        coarse = rng.standard_normal((grid, grid, 2)).astype(np.float32)
        f = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        fields.append(f / max(float(np.sqrt((f**2).sum(-1).mean())), 1e-6))
    pos = np.linspace(0, knots, n_frames)
    k = np.minimum(pos.astype(int), knots - 1)
    weights = np.zeros((n_frames, knots + 1), np.float32)  # frame t = weights[t] @ fields: one matrix product
    weights[np.arange(n_frames), k] = 1 - (pos - k)
    weights[np.arange(n_frames), k + 1] = pos - k
    return (weights * np.float32(rms) @ np.stack(fields).reshape(knots + 1, -1)).reshape(n_frames, h, w, 2)


def rise_and_decay(n_frames: int, apex: int) -> np.ndarray:
    """Expression intensity per frame: 0 at the first frame, 1 at ``apex``, back near 0 at the last.

    Raised-cosine rise and decay, the smooth onset-apex-offset shape of the datasets' annotations.
    """
    if not 0 < apex < n_frames - 1:
        raise ValueError(f"apex {apex} must lie strictly inside a clip of {n_frames} frames")
    t = np.arange(n_frames, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * t / apex)
    decay = 0.5 + 0.5 * np.cos(np.pi * (t - apex) / (n_frames - 1 - apex))
    return np.where(t <= apex, rise, decay)


def blink_profile(n_frames: int, start: int, length: int) -> np.ndarray:
    """Eyelid closure per frame for a blink of ``length`` frames starting at ``start`` (0 when none)."""
    i = np.arange(n_frames) - start
    inside = (i >= 0) & (i < length)
    return np.where(inside, np.sin(np.pi * (i + 0.5) / max(length, 1)), 0.0)
