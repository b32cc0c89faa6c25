"""Face alignment as papers 000 and 004 describe it: dlib 68 landmarks, eye line to horizontal, crop.

The rotation about the centre of the two eyes (the papers' Eq. 1, gamma = arctan(dy / dx) of
the eye centres), the square crop of the face box and the resize are folded into one affine
matrix, so every frame is interpolated once. ``FaceAligner.fit`` finds the face on one frame
(the clip's onset); ``transform`` applies the same matrix to every frame, so alignment jitter
never shows up as motion in the flow.

Masks (boolean, True = pixel set to 0), drawn from the fitted landmarks in output coordinates:

``"eyes"``
    both eyes, each the hull of its six landmarks grown 1.8x about the eye centre so lids and
    lashes are covered (blinks are the largest non-expressive motion; papers 000 and 004).
``"static"``
    everything outside the face: background, hair, ears and neck, i.e. outside the hull of the
    jaw line and the brows lifted by 0.3 eye-to-mouth distance (paper 000's "regions that produce
    little or no movement").
``"nose"``
    the nose bridge and tip (landmarks 27-35), which barely move in micro-expressions.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, InputError, InputNotFoundError

MASK_NAMES = ("eyes", "static", "nose")
RIGHT_EYE = slice(36, 42)  # the subject's right eye: left in the image
LEFT_EYE = slice(42, 48)
JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
MOUTH = slice(48, 68)


class NoFaceError(InputError):
    """No frontal face found where one was required (the message names the frame)."""


def default_predictor_path() -> Path:
    """The 68-point model shipped by ``face-recognition-models``, found without importing it.

    Importing the package runs ``pkg_resources``, which breaks with recent setuptools.
    The model is trained on iBUG 300-W (non-commercial licence).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise InputNotFoundError(
            "face-recognition-models is not installed; install it or pass predictor_path= "
            "to a shape_predictor_68_face_landmarks.dat"
        )
    return Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"


@lru_cache(maxsize=4)
def _dlib_models(predictor_path: str):
    """One detector and predictor per process (they are not picklable, and loading costs ~0.5 s)."""
    import dlib

    if not Path(predictor_path).is_file():
        raise InputNotFoundError(f"68-point landmark model not found at {predictor_path}")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale of an RGB or already gray image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def detect_landmarks(image: np.ndarray, predictor_path=None, upsample=None, where: str = "frame"):
    """68 landmarks (x, y) of the highest-scoring frontal face, float64 (68, 2).

    ``upsample=None`` tries 0 then 1 upsampling (small faces need it; it is 4x slower).
    Raises ``NoFaceError`` naming ``where`` when no face is found.
    """
    import dlib

    detector, predictor = _dlib_models(str(predictor_path or default_predictor_path()))
    gray = np.ascontiguousarray(to_gray(image))
    for up in (0, 1) if upsample is None else (int(upsample),):
        rects, scores, _ = detector.run(gray, up, 0.0)
        if rects:
            best = rects[int(np.argmax(scores))]
            shape = predictor(gray, dlib.rectangle(best.left(), best.top(), best.right(), best.bottom()))
            return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    raise NoFaceError(f"no frontal face found in {where} ({gray.shape[1]}x{gray.shape[0]} px)")


def eye_centres(landmarks: np.ndarray):
    """Centres of the eye in the image's left and right half (means of their six landmarks)."""
    return landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0)


def eye_line_angle(landmarks: np.ndarray) -> float:
    """Eq. 1 of papers 000/004: angle (degrees) of the line through the eye centres to horizontal."""
    (xl, yl), (xr, yr) = eye_centres(landmarks)
    return float(np.degrees(np.arctan2(yr - yl, xr - xl)))


def alignment_matrix(landmarks: np.ndarray, size: int, margin: float = 0.1) -> np.ndarray:
    """2x3 affine: rotate about the eye centre to level the eyes, crop the square face box, resize.

    The box is the bounding box of the rotated landmarks made square about its centre and grown
    by ``margin`` of its side on each side.
    """
    (xl, yl), (xr, yr) = eye_centres(landmarks)
    centre = ((xl + xr) / 2.0, (yl + yr) / 2.0)
    rot = np.vstack([cv2.getRotationMatrix2D(centre, eye_line_angle(landmarks), 1.0), [0, 0, 1]])
    pts = apply_affine(rot[:2], landmarks)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = float((hi - lo).max()) * (1.0 + 2.0 * margin)
    mid = (lo + hi) / 2.0
    scale = size / side
    crop = np.array([[scale, 0, size / 2.0 - scale * mid[0]], [0, scale, size / 2.0 - scale * mid[1]], [0, 0, 1]])
    return (crop @ rot)[:2]


def centre_crop_matrix(shape, size: int) -> np.ndarray:
    """2x3 affine taking the largest centred square of a frame of ``shape`` to size x size."""
    h, w = shape[:2]
    side = min(h, w)
    scale = size / side
    return np.array([[scale, 0, -scale * (w - side) / 2.0], [0, scale, -scale * (h - side) / 2.0]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2x3 affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def _grown_hull(points: np.ndarray, factor: float) -> np.ndarray:
    centre = points.mean(axis=0)
    return cv2.convexHull(((points - centre) * factor + centre).astype(np.int32))


def mask_names(masks) -> tuple[str, ...]:
    """Mask names from a list or a comma-separated string ("eyes,static"; a bare "eyes" is one name,
    not the letters e, y, e, s); ``ConfigError`` naming the unknown ones."""
    if isinstance(masks, str):
        masks = [m.strip() for m in masks.split(",")]
    masks = tuple(m for m in masks if m)
    unknown = [m for m in masks if m not in MASK_NAMES]
    if unknown:
        raise ConfigError(f"unknown mask(s) {unknown}; expected a comma-separated list of {', '.join(MASK_NAMES)}")
    return masks


def draw_masks(landmarks: np.ndarray, size: int, masks=()) -> np.ndarray:
    """Boolean (size, size) mask, True where a requested region (see module doc) is to be zeroed."""
    masks = mask_names(masks)
    canvas = np.zeros((size, size), np.uint8)
    if "static" in masks:
        face = np.zeros_like(canvas)
        brow_lift = 0.3 * np.linalg.norm(landmarks[MOUTH].mean(0) - np.mean(eye_centres(landmarks), 0))
        brows = landmarks[BROWS] - [0.0, brow_lift]
        cv2.fillConvexPoly(face, cv2.convexHull(np.vstack([landmarks[JAW], brows]).astype(np.int32)), 1)
        canvas |= 1 - face
    if "eyes" in masks:
        for eye in (RIGHT_EYE, LEFT_EYE):
            cv2.fillConvexPoly(canvas, _grown_hull(landmarks[eye], 1.8), 1)
    if "nose" in masks:
        cv2.fillConvexPoly(canvas, cv2.convexHull(landmarks[NOSE].astype(np.int32)), 1)
    return canvas.astype(bool)


class FaceAligner:
    """Fit on one frame, then apply the same rotation + crop to every frame of the clip.

    Attributes after ``fit``: ``matrix_`` (2x3, input -> output pixels), ``angle_`` (degrees of
    the eye line before alignment), ``landmarks_`` ((68, 2) in output coordinates, None after a
    centre-crop fallback), ``mask_`` (bool (size, size), True = zeroed), ``fallback_`` (None, or
    what was used instead of a detected face).
    """

    def __init__(self, size=224, grayscale=False, masks=(), margin=0.1, predictor_path=None, upsample=None):
        masks = mask_names(masks)
        self.size = int(size)
        self.grayscale = bool(grayscale)
        self.masks = tuple(masks)
        self.margin = float(margin)
        self.predictor_path = predictor_path
        self.upsample = upsample

    def fit(self, frame: np.ndarray, where: str = "frame"):
        """Find the face and landmarks on ``frame`` (RGB or gray uint8); raises ``NoFaceError``."""
        points = detect_landmarks(frame, self.predictor_path, self.upsample, where)
        return self.set_transform(alignment_matrix(points, self.size, self.margin), points)

    def fit_centre(self, frame: np.ndarray, reason: str = "no face"):
        """Explicit fallback: centre crop, no rotation, no landmarks and so no masks."""
        return self.set_transform(
            centre_crop_matrix(frame.shape, self.size), None, fallback=f"center crop ({reason}); masks not drawn"
        )

    def set_transform(self, matrix: np.ndarray, landmarks_in=None, fallback=None):
        """Use a given 2x3 matrix (e.g. another clip's) with the input-frame landmarks, if any."""
        self.matrix_ = np.asarray(matrix, dtype=np.float64)
        self.landmarks_ = None if landmarks_in is None else apply_affine(self.matrix_, landmarks_in)
        if self.landmarks_ is not None and self.masks:
            self.mask_ = draw_masks(self.landmarks_, self.size, self.masks)
        else:
            self.mask_ = np.zeros((self.size, self.size), bool)
        self.fallback_ = fallback
        self.angle_ = float(np.degrees(np.arctan2(self.matrix_[0, 1], self.matrix_[0, 0])))
        return self

    def transform(self, frame: np.ndarray, masked: bool = True) -> np.ndarray:
        """Aligned uint8 face, (size, size, 3) RGB or (size, size) gray; masked regions set to 0."""
        if not hasattr(self, "matrix_"):
            raise RuntimeError("FaceAligner.transform called before fit")
        image = to_gray(frame) if self.grayscale else frame
        out = cv2.warpAffine(
            image, self.matrix_, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if masked and self.mask_.any():
            out[self.mask_] = 0
        return out

    def fit_transform(self, frame: np.ndarray, where: str = "frame") -> np.ndarray:
        return self.fit(frame, where).transform(frame)
