"""Augmentations for a training fold only (never call them on test-subject rows).

Arrays are channel-last: images (N, H, W, C) or stacks (N, T, H, W, C); the spatial axes are
always -3 (rows) and -2 (columns). ``kind`` says what the channels hold, because mirroring a
flow image must also mirror its vectors: "image" (pixels only), "flow" (channel 0 is u, negated
on a horizontal flip; v and strain/magnitude unchanged), "flow_hsv" (hue reflected), "flow_scaled"
(flow images whose u, v, strain channels were each min-max scaled per image, as the shared STSTNet
``norm_u_v_os`` files are: scaling -u gives lo + hi - x, where lo, hi are the image's own u range).

* ``balance_by_flipping`` -- paper 000: minority classes grown by horizontal flips.
* ``random_shift_flip`` -- paper 001: shifts of up to ``max_shift`` px and flips.
* ``balance_by_random_transforms`` -- paper 004: minority classes grown by a random small shift
  or a horizontal flip of a random sample of that class.
"""
from __future__ import annotations

import numpy as np

from .flow import hflip_hsv_picture

KINDS = ("image", "flow", "flow_hsv", "flow_scaled")


def hflip(x: np.ndarray, kind: str = "image") -> np.ndarray:
    """Mirror one sample or a batch left-right, keeping flow vectors consistent (module doc)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "flow_hsv":
        flat = np.asarray(x).reshape((-1,) + x.shape[-3:])
        return np.stack([hflip_hsv_picture(img) for img in flat]).reshape(x.shape).astype(x.dtype)
    out = np.array(np.flip(x, axis=-2))
    if kind == "flow":
        out[..., 0] = -out[..., 0]
    elif kind == "flow_scaled":  # min-max scaling of -u reflects x within the image's own range of u
        u = out[..., 0]
        u[...] = u.min(axis=(-2, -1), keepdims=True) + u.max(axis=(-2, -1), keepdims=True) - u
    return out


def vflip(x: np.ndarray, kind: str = "image") -> np.ndarray:
    """Mirror upside down; for flow, v (channel 1) is negated (reflected in its range for "flow_scaled")."""
    if kind == "flow_hsv":
        raise ValueError("vertical flip of an HSV flow picture is not supported; flip the flow first")
    out = np.array(np.flip(x, axis=-3))
    if kind == "flow":
        out[..., 1] = -out[..., 1]
    elif kind == "flow_scaled":
        v = out[..., 1]
        v[...] = v.min(axis=(-2, -1), keepdims=True) + v.max(axis=(-2, -1), keepdims=True) - v
    return out


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate by (dy, dx) pixels, filling the uncovered border with 0 (no wrap-around)."""
    out = np.zeros_like(x)
    h, w = x.shape[-3], x.shape[-2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_r, dst_c, :] = x[..., src_r, src_c, :]
    return out


def _check(X, y=None):
    X = np.asarray(X)
    if X.ndim < 4:
        raise ValueError(f"expected a batch (N, H, W, C) or (N, T, H, W, C), got shape {X.shape}")
    if y is not None and len(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels")
    return X


def random_shift_flip(X, rng: np.random.Generator, max_shift: int = 15, p_flip: float = 0.5,
                      kind: str = "image", vertical: bool = False) -> np.ndarray:
    """Each sample shifted by a random (dy, dx) in [-max_shift, max_shift] and flipped with p_flip.

    Paper 001 used 15 px shifts and a *vertical* flip; ``vertical=True`` reproduces that, the
    default horizontal flip keeps faces upright.
    """
    X = _check(X)
    out = np.empty_like(X)
    for i, sample in enumerate(X):
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        s = shift(sample, int(dy), int(dx))
        if rng.random() < p_flip:
            s = vflip(s, kind) if vertical else hflip(s, kind)
        out[i] = s
    return out


def _grow_minorities(X, y, rng, make):
    X, y = _check(X, y), np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    target = counts.max()
    extra_X, extra_y = [], []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(y == c)
        for j in make(members, target - n):
            extra_X.append(j)
            extra_y.append(c)
    if not extra_X:
        return X.copy(), y.copy()
    return np.concatenate([X, np.stack(extra_X)]), np.concatenate([y, np.asarray(extra_y, dtype=y.dtype)])


def balance_by_flipping(X, y, rng: np.random.Generator, kind: str = "image"):
    """Paper 000: add mirrored copies of minority-class samples (each at most once) towards the
    majority count. Returns (X, y) with the originals first; a class can at most double."""
    def make(members, missing):
        chosen = rng.permutation(members)[: max(0, missing)]
        return [hflip(X[i], kind) for i in chosen]

    X = _check(X, y)
    return _grow_minorities(X, y, rng, make)


def balance_by_random_transforms(X, y, rng: np.random.Generator, max_shift: int = 10, kind: str = "image"):
    """Paper 004: add minority-class samples, each a random member shifted by up to ``max_shift``
    px horizontally or vertically, or mirrored, until every class matches the majority count."""
    def make(members, missing):
        made = []
        for _ in range(max(0, missing)):
            src = X[rng.choice(members)]
            op = rng.integers(3)
            if op == 0:
                made.append(hflip(src, kind))
            else:
                d = int(rng.integers(1, max_shift + 1)) * int(rng.choice([-1, 1]))
                made.append(shift(src, d, 0) if op == 1 else shift(src, 0, d))
        return made

    X = _check(X, y)
    return _grow_minorities(X, y, rng, make)
