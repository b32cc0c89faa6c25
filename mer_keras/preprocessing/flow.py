"""Optical flow between two aligned frames, optical strain, and the fixed-scale encodings fed to networks.

TV-L1 is OpenCV's dual TV-L1 (``cv2.optflow.DualTVL1OpticalFlow``); its defaults are OpenCV's
(tau 0.25, lambda 0.15, theta 0.3, 5 scales, 5 warps, epsilon 0.01). Flow is in pixels,
u = +x (content moving right), v = +y (down).

Encodings use fixed, documented scales (never statistics over a data set, which would leak the
test subject's data into training):

* ``encode_flow``: channels (u, v, third) with u, v clipped to +-``flow_bound`` px and divided by
  it -> [-1, 1]; third = strain clipped to [0, ``strain_bound``] / ``strain_bound`` or magnitude
  clipped to [0, ``flow_bound``] / ``flow_bound`` -> [0, 1].
* ``flow_to_hsv``: hue = direction (0 deg = right, as OpenCV's HSV convention), saturation 1,
  value = magnitude clipped to ``flow_bound`` / ``flow_bound``; returned as RGB in [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np

from .defaults import (
    FARNEBACK_DEFAULTS,
    FLOW_CENTRING,
    FLOW_METHODS,
    METHOD_DEFAULTS,
    THIRD_CHANNELS,
    TVL1_DEFAULTS,
)
from .face import to_gray


def _tvl1(params: dict):
    p = {**TVL1_DEFAULTS, **params}
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p["tau"],
        lambda_=p["lambda_"],
        theta=p["theta"],
        nscales=int(p["nscales"]),
        warps=int(p["warps"]),
        epsilon=p["epsilon"],
        innnerIterations=int(p["inner_iterations"]),
        outerIterations=int(p["outer_iterations"]),
        scaleStep=p["scale_step"],
        gamma=p["gamma"],
        medianFiltering=int(p["median_filtering"]),
    )


def optical_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "tvl1", where: str = "", **params) -> np.ndarray:
    """Dense flow from ``prev`` to ``nxt`` (uint8 gray or RGB, same shape) -> float32 (H, W, 2).

    ``params`` are the method's (see ``TVL1_DEFAULTS`` / ``FARNEBACK_DEFAULTS``); an unknown
    one is an error. A flow containing NaN or inf raises ``ValueError`` naming ``where``.
    """
    defaults = METHOD_DEFAULTS.get(method)
    if defaults is None:
        raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {method} parameter(s) {unknown}; accepted: {sorted(defaults)}")
    if prev.shape[:2] != nxt.shape[:2]:
        raise ValueError(f"flow frames differ in size {prev.shape} vs {nxt.shape} {where}".strip())
    a, b = to_gray(_as_uint8(prev)), to_gray(_as_uint8(nxt))
    if method == "tvl1":
        flow = _tvl1(params).calc(a, b, None)
    else:
        p = {**FARNEBACK_DEFAULTS, **params}
        flow = cv2.calcOpticalFlowFarneback(
            a, b, None, p["pyr_scale"], int(p["levels"]), int(p["winsize"]), int(p["iterations"]),
            int(p["poly_n"]), p["poly_sigma"], 0,
        )
    flow = np.asarray(flow, dtype=np.float32)
    if not np.isfinite(flow).all():
        raise ValueError(f"{method} flow contains NaN/inf {where}".strip())
    return flow


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor, sqrt(exx^2 + eyy^2 + 2 exy^2), float32 (H, W).

    exx = du/dx, eyy = dv/dy, exy = (du/dy + dv/dx) / 2, by central differences (np.gradient).
    Dimensionless, so it does not change when the flow is computed at another resolution.
    """
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    exy = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2.0 * exy**2).astype(np.float32)


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """Flow resampled to size x size with its vectors rescaled to the new pixel units."""
    h, w = flow.shape[:2]
    if (h, w) == (size, size):
        return flow
    out = cv2.resize(flow, (size, size), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size / w
    out[..., 1] *= size / h
    return out


def encode_flow(flow: np.ndarray, third: str = "strain", flow_bound: float = 4.0, strain_bound: float = 0.2):
    """(H, W, 3) float32: u, v in [-1, 1] and strain or magnitude in [0, 1] (see module doc)."""
    if third not in THIRD_CHANNELS:
        raise ValueError(f"third channel must be 'strain' or 'magnitude', got {third!r}")
    uv = np.clip(flow / flow_bound, -1.0, 1.0)
    if third == "strain":
        extra = np.clip(optical_strain(flow) / strain_bound, 0.0, 1.0)
    else:
        extra = np.clip(np.linalg.norm(flow, axis=-1) / flow_bound, 0.0, 1.0)
    return np.dstack([uv, extra]).astype(np.float32)


def flow_to_hsv(flow: np.ndarray, flow_bound: float = 4.0) -> np.ndarray:
    """The usual HSV flow picture as RGB float32 (H, W, 3) in [0, 1] (see module doc)."""
    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32), angleInDegrees=True)
    hsv = np.dstack([ang, np.ones_like(mag), np.clip(mag / flow_bound, 0.0, 1.0)]).astype(np.float32)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def hflip_hsv_picture(image: np.ndarray) -> np.ndarray:
    """Mirror an HSV flow picture: flip the pixels and reflect the direction (hue h -> 180 - h)."""
    hsv = cv2.cvtColor(np.ascontiguousarray(image[:, ::-1], dtype=np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(180.0 - hsv[..., 0], 360.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def centre_flow(x: np.ndarray, rule: str = "median") -> np.ndarray:
    """``x`` (..., H, W, C >= 2: flow images or stacks of them) with each image's own median u and v subtracted.

    Why: flow images published per-image min-max normalised (MEGC 2019's ``norm_u_v_os``) put zero motion at a
    different grey level in every image, and a residual head translation shifts all of a face's vectors; most of
    a face does not move in a micro-expression, so its median vector is that offset. Each image's statistic is
    its own (nothing crosses clips, so nothing of a test subject reaches training). ``rule = "none"`` returns
    ``x`` unchanged. Our choice, no paper's: measured in ``docs/experiments/reference_systems.md``.
    """
    if rule not in FLOW_CENTRING:
        raise ValueError(f"flow centring must be one of {list(FLOW_CENTRING)}, got {rule!r}")
    if rule == "none":
        return x
    x = np.asarray(x)
    if x.ndim < 3 or x.shape[-1] < 2:
        raise ValueError(f"flow centring needs (..., H, W, C >= 2) flow images, got shape {x.shape}")
    out = np.array(x, dtype=np.float32, copy=True)
    out[..., :2] -= np.median(out[..., :2], axis=(-3, -2), keepdims=True)
    return out
