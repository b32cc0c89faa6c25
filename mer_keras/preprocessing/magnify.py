"""Eulerian video magnification (paper 001, after Wu et al. 2012): amplify a band of temporal change.

Steps as paper 001 lists them: spatial decomposition of every frame (Laplacian or Gaussian
pyramid), temporal ideal band-pass of every pixel of every level (FFT along time, bins outside
[low_hz, high_hz] set to 0), amplification by ``alpha`` and reconstruction (the amplified band is
added back to the frames). Laplacian levels whose spatial wavelength is short get a smaller
factor, Wu et al.'s bound alpha_l = min(alpha, lambda_l / (8 * delta) - 1) with
delta = lambda_c / (8 * (1 + alpha)); the finest level is not amplified (noise). lambda_l is the
level's representative wavelength as in Wu et al.'s code: a third of the frame diagonal at the coarsest
level (the low-pass residual), halved at every finer level, so only the fine levels are attenuated and
levels whose lambda_l >= lambda_c get the full alpha. (Wu et al.'s code also leaves the residual out;
we amplify it, since paper 001 magnifies brightness change, which lives there.)

Paper 001 gives no band or alpha. Defaults: alpha 10, lambda_c 16, 4 levels, and a band of the
1st to 4th harmonic of the clip's duration (low = fps / T, high = 4 fps / T), i.e. motion that
rises and falls one to four times within the clip, which is where a micro-expression lives.
"""
from __future__ import annotations

import cv2
import numpy as np

from .defaults import PYRAMIDS


def temporal_bandpass(signal: np.ndarray, fps: float, low_hz: float, high_hz: float) -> np.ndarray:
    """Ideal band-pass along axis 0 (time) keeping frequencies in [low_hz, high_hz]."""
    spectrum = np.fft.rfft(signal, axis=0)
    freqs = np.fft.rfftfreq(signal.shape[0], d=1.0 / fps)
    keep = (freqs >= low_hz) & (freqs <= high_hz)
    spectrum[~keep] = 0
    return np.fft.irfft(spectrum, n=signal.shape[0], axis=0).astype(np.float32)


def default_band(n_frames: int, fps: float):
    """(low_hz, high_hz) = 1st to 4th harmonic of the clip's duration (see module doc)."""
    base = fps / max(n_frames, 1)
    return base, 4.0 * base


def _gaussian_pyramid(image, levels):
    pyr = [image]
    for _ in range(levels - 1):
        pyr.append(cv2.pyrDown(pyr[-1]))
    return pyr


def _laplacian_pyramid(image, levels):
    gauss = _gaussian_pyramid(image, levels)
    lap = [g - cv2.pyrUp(gauss[i + 1], dstsize=g.shape[1::-1]) for i, g in enumerate(gauss[:-1])]
    return lap + [gauss[-1]]


def _collapse(pyr):
    image = pyr[-1]
    for level in reversed(pyr[:-1]):
        image = level + cv2.pyrUp(image, dstsize=level.shape[1::-1])
    return image


def magnify(frames, fps: float, alpha: float = 10.0, low_hz=None, high_hz=None, levels: int = 4,
            pyramid: str = "laplacian", lambda_c: float = 16.0) -> np.ndarray:
    """Magnified clip, float32 (T, H, W[, C]) in the frames' 0..255 range (clipped).

    ``frames``: uint8 or float array (T, H, W[, C]); ``pyramid``: "laplacian" (all levels but the
    finest amplified, attenuated per level) or "gaussian" (only the coarsest level, amplified by
    alpha, upsampled and added: colour/intensity magnification).
    """
    if pyramid not in PYRAMIDS:
        raise ValueError(f"pyramid must be 'laplacian' or 'gaussian', got {pyramid!r}")
    video = np.asarray(frames, dtype=np.float32)
    if video.ndim not in (3, 4) or len(video) < 2:
        raise ValueError(f"magnify needs a clip (T >= 2, H, W[, C]), got shape {video.shape}")
    band = default_band(len(video), fps)
    low = band[0] if low_hz is None else float(low_hz)
    high = band[1] if high_hz is None else float(high_hz)
    h, w = video.shape[1:3]
    if pyramid == "gaussian":
        coarse = np.stack([_gaussian_pyramid(f, levels)[-1] for f in video])
        boost = alpha * temporal_bandpass(coarse, fps, low, high)
        up = np.stack([cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR) for b in boost])
        return np.clip(video + up.reshape(video.shape), 0, 255)
    pyrs = [_laplacian_pyramid(f, levels) for f in video]
    delta = lambda_c / (8.0 * (1.0 + alpha))
    wavelength = np.sqrt(h * h + w * w) / 3.0
    out_levels = []
    for lvl in range(levels):
        stack = np.stack([p[lvl] for p in pyrs])
        lam = wavelength / (2 ** (levels - 1 - lvl))  # level 0 is the finest: shortest wavelength
        factor = 0.0 if lvl == 0 else min(alpha, lam / (8.0 * delta) - 1.0)
        if factor > 0:
            stack = stack + factor * temporal_bandpass(stack, fps, low, high)
        out_levels.append(stack)
    result = np.stack([_collapse([lv[t] for lv in out_levels]) for t in range(len(video))])
    return np.clip(result.reshape(video.shape), 0, 255)
