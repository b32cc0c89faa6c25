"""Preprocessing: aligned faces -> optical flow, apex frames, ARS/RRS, EVM and frame/flow stacks, cached.

Names load on first use (``mer_keras.lazy``); dlib loads on the first face detection.
"""
from ..lazy import lazy_exports

_EXPORTS = {
    "balance_by_flipping": ".augment", "balance_by_random_transforms": ".augment", "hflip": ".augment",
    "random_shift_flip": ".augment", "shift": ".augment", "vflip": ".augment", "FaceAligner": ".face",
    "NoFaceError": ".face", "default_predictor_path": ".face", "detect_landmarks": ".face", "draw_masks": ".face",
    "eye_line_angle": ".face", "encode_flow": ".flow", "flow_to_hsv": ".flow", "optical_flow": ".flow",
    "optical_strain": ".flow", "resize_flow": ".flow", "slice_positions": ".keyframes",
    "uniform_positions": ".keyframes", "magnify": ".magnify", "Prepared": ".prepare",
    "PreprocessingError": ".prepare", "prepare": ".prepare", "REPRESENTATIONS": ".representations",
    "FrameError": ".representations", "normalize_params": ".representations", "clip_bounds": ".residual",
    "key_frame_positions": ".residual", "residual_sum": ".residual",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
