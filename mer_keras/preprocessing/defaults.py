"""The representation names, each parameter's default and the values a choice allows, in one place.

``representations`` pairs these defaults with the functions that compute each input; experiments
(``training.config``) and the ``prepare`` command offer the same names, choices and defaults from here.
"""
from __future__ import annotations

from .residual import N_KEY

TVL1_DEFAULTS = {
    "tau": 0.25,
    "lambda_": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "gamma": 0.0,
    "median_filtering": 5,
}
FARNEBACK_DEFAULTS = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
}
METHOD_DEFAULTS = {"tvl1": TVL1_DEFAULTS, "farneback": FARNEBACK_DEFAULTS}
"""Each optical-flow method's own parameters (OpenCV's names and defaults)."""
FLOW_METHODS = tuple(METHOD_DEFAULTS)
THIRD_CHANNELS = ("strain", "magnitude")
"""The third flow channel: optical strain or flow magnitude (``flow.encode_flow``)."""
ON_NO_FACE = ("error", "previous", "center")
FLOW_VECTOR_REPRESENTATIONS = ("flow", "flow_stack")
"""The representations whose channels 0 and 1 are the flow's u and v (mirrored with u negated, read from images
as 2 x - 1, centred by ``flow.centre_flow``)."""
FLOW_CENTRING = ("none", "median")
"""What is subtracted from each flow image's u and v (``flow.centre_flow``): nothing, or the image's own
median (the zero-motion level that per-image min-max images move, and a global head drift)."""
KEYFRAME_RULES = ("uniform", "slices")
"""A stack's key frames: evenly spaced, or by spatio-temporal slice change (``keyframes``)."""
PYRAMIDS = ("laplacian", "gaussian")
"""EVM pyramids: Laplacian (motion magnification) or Gaussian (colour / intensity magnification)."""
FRAME_RULES = ("apex", "sequence")
"""Representation ``apex``: the apex frame, or a sequence of face frames onset..apex (``rep_apex``)."""
EVM_ORDERS = ("keyframes_first", "clip_first")
"""With ``magnify``: pick the key frames, then magnify them (paper 001's steps 3 then 4), or magnify the whole
onset..offset clip and pick the key frames from it (the order before issue 24)."""

COMMON = {
    "size": 224,
    "grayscale": False,
    "masks": (),
    "margin": 0.1,
    "on_no_face": "error",
    "redetect": False,
    "predictor_path": None,
    "upsample": None,
}
FLOW = {
    "flow_method": "tvl1",
    "flow_size": None,
    "flow_params": {},
    "third": "strain",
    "flow_bound": None,
    "strain_bound": 0.2,
}
STACK = {"size": 134, "n_frames": 16, "keyframes": "uniform", "magnify": False, "evm_order": "keyframes_first",
         "alpha": 10.0, "low_hz": None, "high_hz": None, "levels": 4, "pyramid": "laplacian", "lambda_c": 16.0}
APEX = {"align_on": "apex", "frames": "apex", "sequence_frames": 8}
RESIDUAL = {"n_key": N_KEY}  # Nkey key frames (paper 003, Fig. 5 sweeps it)

DEFAULTS = {
    "flow": {**COMMON, **FLOW},
    "flow_hsv": {**COMMON, **FLOW},
    "apex": {**COMMON, **APEX},
    "ars": {**COMMON, **RESIDUAL},
    "rrs": {**COMMON, **RESIDUAL},
    "frame_stack": {**COMMON, **STACK},
    "evm_stack": {**COMMON, **STACK, "magnify": True},
    "flow_stack": {**COMMON, **FLOW, **STACK, "magnify": True},
}
"""Every parameter of each representation with its default."""
REPRESENTATION_NAMES = tuple(DEFAULTS)
