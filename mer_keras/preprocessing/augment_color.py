"""Paper 003's image augmentation (Zhao, Chen, Luo 2021, Sec. 3.2.1, Fig. 2), for a training fold only.

The paper applies, "in turn": (1) brightness, contrast and saturation each scaled to a random 20-180 %
of the original and the hue offset by a random [-0.5, 0.5]; (2) grayscale with probability 20 %;
(3) a horizontal flip with probability 50 %; (4) a rotation by a random angle in [-15, 15] degrees.

Those are torchvision's ``ColorJitter(0.8, 0.8, 0.8, 0.5)``, ``RandomGrayscale(0.2)``,
``RandomHorizontalFlip()`` and ``RandomRotation(15)`` (the paper used PyTorch 1.6), and where the text
says nothing we follow their definitions, which is our choice, not the paper's: the four jitter
operations run in a random order with independent factors; contrast blends with the mean of the
grayscale image, saturation with the grayscale image (ITU-R 601-2 luma); hue shifts by that fraction
of the colour circle; results are clipped to the value range after each step; the rotation turns
about the image centre, nearest-neighbour, with zeros outside. Saturation, hue and grayscale need RGB
and are skipped for other channel counts.
"""
from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _gray(t):
    return (t @ LUMA)[..., None]


def _brightness(t, f):
    return np.clip(t * f, 0.0, 1.0)


def _contrast(t, f):
    mean = float(_gray(t).mean()) if t.shape[-1] == 3 else float(t.mean())
    return np.clip(f * t + (1.0 - f) * mean, 0.0, 1.0)


def _saturation(t, f):
    return np.clip(f * t + (1.0 - f) * _gray(t), 0.0, 1.0)


def _hue(t, shift):
    hsv = cv2.cvtColor(np.ascontiguousarray(t, np.float32), cv2.COLOR_RGB2HSV)  # float: H in [0, 360)
    hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * shift, 360.0)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0.0, 1.0)


def _rotate(t, degrees):
    height, width = t.shape[:2]
    # torchvision turns counter-clockwise for a positive angle, as OpenCV does; the range is symmetric
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), degrees, 1.0)

    def warp(channels):
        return cv2.warpAffine(channels, matrix, (width, height), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0).reshape(channels.shape)

    if t.shape[-1] <= 4:
        return warp(t)
    return np.stack([warp(np.ascontiguousarray(t[..., c])) for c in range(t.shape[-1])], axis=-1)


def augment_color(x_batch, rng: np.random.Generator, *, value_range=(0.0, 1.0), jitter=(0.2, 1.8), hue=0.5,
                  p_grayscale=0.2, p_flip=0.5, max_degrees=15.0):
    """Paper 003's four augmentations on a float batch (N, H, W, C) -> a new float32 batch of the same shape.

    ``rng`` is the only source of randomness (same generator state, same output). ``value_range`` is the
    range the images live in (the package's ARS / RRS are in [0, 1]); ``jitter`` the brightness /
    contrast / saturation factor range, ``hue`` the largest hue offset (fraction of the circle).
    """
    x = np.asarray(x_batch)
    if x.ndim != 4:
        raise ValueError(f"augment_color expects a batch (N, H, W, C), got shape {x.shape}")
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    t_batch = (x.astype(np.float32) - lo) / (hi - lo)
    out = np.empty_like(t_batch)
    rgb = x.shape[-1] == 3
    for i, t in enumerate(t_batch):
        t = np.clip(t, 0.0, 1.0)
        # (1) colour jitter, random order, independent factors
        jitters = [(_brightness, rng.uniform(*jitter)), (_contrast, rng.uniform(*jitter))]
        if rgb:
            jitters += [(_saturation, rng.uniform(*jitter)), (_hue, rng.uniform(-hue, hue))]
        for k in rng.permutation(len(jitters)):
            step, factor = jitters[k]
            t = step(t, factor)
        # (2) grayscale, kept three-channel
        if rng.random() < p_grayscale and rgb:
            t = np.repeat(_gray(t), 3, axis=-1)
        # (3) horizontal flip
        if rng.random() < p_flip:
            t = t[:, ::-1]
        # (4) rotation
        t = _rotate(np.ascontiguousarray(t), rng.uniform(-max_degrees, max_degrees))
        out[i] = t
    return out * (hi - lo) + lo
