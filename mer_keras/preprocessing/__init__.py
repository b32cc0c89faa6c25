"""Preprocessing: aligned faces -> optical flow, apex frames, ARS/RRS, EVM and frame/flow stacks, cached.

Only light modules are imported here; dlib loads on the first face detection.
"""
from .augment import (
    balance_by_flipping,
    balance_by_random_transforms,
    hflip,
    random_shift_flip,
    shift,
    vflip,
)
from .face import (
    FaceAligner,
    NoFaceError,
    default_predictor_path,
    detect_landmarks,
    draw_masks,
    eye_line_angle,
)
from .flow import encode_flow, flow_to_hsv, optical_flow, optical_strain, resize_flow
from .keyframes import slice_positions, uniform_positions
from .magnify import magnify
from .prepare import Prepared, PreprocessingError, prepare
from .representations import REPRESENTATIONS, FrameError, normalize_params
from .residual import clip_bounds, key_frame_positions, residual_sum

__all__ = [
    "REPRESENTATIONS",
    "FaceAligner",
    "FrameError",
    "NoFaceError",
    "Prepared",
    "PreprocessingError",
    "balance_by_flipping",
    "balance_by_random_transforms",
    "clip_bounds",
    "default_predictor_path",
    "detect_landmarks",
    "draw_masks",
    "encode_flow",
    "eye_line_angle",
    "flow_to_hsv",
    "hflip",
    "key_frame_positions",
    "magnify",
    "normalize_params",
    "optical_flow",
    "optical_strain",
    "prepare",
    "random_shift_flip",
    "residual_sum",
    "resize_flow",
    "shift",
    "slice_positions",
    "uniform_positions",
    "vflip",
]
