"""SynthME identities: distinct synthetic subjects built from real face photographs that ship offline.

Why: the corpus must exercise the real preprocessing (dlib detection, 68 landmarks, alignment) without
any licensed data and without downloading anything. The photographs are scikit-image's astronaut,
matplotlib's Grace Hopper and scikit-image's LFW subset (100 different people, 25x25 crops). Each
subject is one of those people, re-rendered with its own geometry (scale, aspect, shear, small roll),
skin tone, directional illumination, background and a static fine skin texture (the LFW crops are tiny,
so the texture gives optical flow something to track). The 68 landmarks are found once per identity,
on the rendered neutral face, with dlib's frontal detector and the 68-point model of
face-recognition-models (trained on iBUG 300-W, non-commercial licence).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SKIN_TONES = np.array(
    [  # RGB, light to dark; multiplicative tints for grey photographs
        (1.00, 0.86, 0.76),
        (0.98, 0.80, 0.66),
        (0.92, 0.72, 0.58),
        (0.82, 0.62, 0.48),
        (0.68, 0.50, 0.38),
        (0.52, 0.38, 0.29),
    ]
)
JAW, BROWS, NOSE, EYES, MOUTH = range(17), range(17, 27), range(27, 36), range(36, 48), range(48, 68)


def shape_predictor_path() -> Path:
    """The 68-point model shipped by face-recognition-models, found without importing that package.

    Importing it pulls ``pkg_resources``, which breaks with recent setuptools.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("face-recognition-models is not installed (pip install face-recognition-models)")
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise FileNotFoundError(f"68-point landmark model missing: {path}")
    return path


@functools.lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(os.fspath(shape_predictor_path()))


def find_landmarks(image: np.ndarray, upsample: int = 0) -> np.ndarray | None:
    """68 (x, y) landmarks of the highest-scoring frontal face in ``image``, or None when none is found."""
    detector, predictor = _dlib_models()
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    boxes, scores, _ = detector.run(gray, upsample, 0.0)
    if not boxes:
        return None
    box = boxes[int(np.argmax(scores))]
    shape = predictor(gray, box)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


@dataclass(frozen=True)
class Photo:
    """A source photograph (grey or RGB floats in [0, 1]) and its 68 landmarks."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray


@functools.lru_cache(maxsize=1)
def photo_names() -> tuple[str, ...]:
    """Names of every source photograph, in a fixed order (the identity pool before shuffling)."""
    return ("astronaut", "grace_hopper") + tuple(f"lfw{i:03d}" for i in range(100))


@functools.cache
def load_photo(name: str) -> Photo | None:
    """The photograph ``name`` with its landmarks, or None when dlib finds no face in it."""
    import skimage.data

    if name == "astronaut":
        image = skimage.data.astronaut()
    elif name == "grace_hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        image = cv2.cvtColor(cv2.imread(os.fspath(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    elif name.startswith("lfw") and name[3:].isdigit() and int(name[3:]) < 100:
        image = (_lfw_faces()[int(name[3:])] * 255).round().astype(np.uint8)
    else:
        raise ValueError(f"unknown SynthME photograph {name!r}; expected one of {photo_names()[:3]}...")
    # small photographs are enlarged before detection (dlib needs faces of about 80 px)
    factor = max(1, int(np.ceil(160 / min(image.shape[:2]))))
    big = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    marks = find_landmarks(big)
    if marks is None:
        return None
    marks = (marks + 0.5) / factor - 0.5
    return Photo(name, image.astype(np.float32) / 255.0, marks)


@functools.lru_cache(maxsize=1)
def _lfw_faces() -> np.ndarray:
    import skimage.data

    return skimage.data.lfw_subset()[:100]  # the first 100 are faces, the rest are not


@dataclass
class Identity:
    """One SynthME subject: its neutral face, the 68 landmarks found on it and how it was made."""

    name: str
    image: np.ndarray  # uint8 RGB, size x size
    landmarks: np.ndarray  # (68, 2) float, x then y
    params: dict = field(default_factory=dict)

    @property
    def interocular(self) -> float:
        """Distance between the eye centres, the face's length unit for the motion fields."""
        left, right = self.landmarks[36:42].mean(0), self.landmarks[42:48].mean(0)
        return float(np.linalg.norm(right - left))


def identity_pool(seed: int, part: str) -> list[str]:
    """Photographs available to ``part`` ('micro' or 'macro') for ``seed``.

    The pool is shuffled by the seed and cut in two halves: micro subjects come from the first,
    macro subjects from the second, so the two corpora of a seed never share a person.
    """
    if part not in ("micro", "macro"):
        raise ValueError(f"part must be 'micro' or 'macro', got {part!r}")
    names = list(photo_names())
    order = np.random.default_rng([seed, 7919]).permutation(len(names))
    half = len(names) // 2
    chosen = order[:half] if part == "micro" else order[half:]
    return [names[i] for i in chosen]


def make_identities(n: int, seed: int, size: int, part: str = "micro") -> list[Identity]:
    """``n`` distinct identities for ``part``; photographs whose rendering dlib misses are skipped."""
    out: list[Identity] = []
    pool = identity_pool(seed, part)
    for k, name in enumerate(pool):
        if len(out) == n:
            break
        photo = load_photo(name)
        if photo is None:
            continue
        rng = np.random.default_rng([seed, 104729, k, 0 if part == "micro" else 1])
        ident = render_identity(photo, rng, size)
        if ident is not None:
            out.append(ident)
    if len(out) < n:
        raise ValueError(
            f"only {len(out)} usable identities for the {part} corpus (asked for {n}); "
            f"each corpus draws from half of the {len(photo_names())} shipped photographs"
        )
    return out


def render_identity(photo: Photo, rng: np.random.Generator, size: int) -> Identity | None:
    """Render ``photo`` as a new subject on a ``size`` x ``size`` canvas; None if dlib then misses it."""
    p = {
        "photo": photo.name,
        "face_width_frac": float(rng.uniform(0.62, 0.72)),  # jaw width / image width
        "aspect": float(rng.uniform(0.92, 1.08)),
        "shear": float(rng.uniform(-0.05, 0.05)),
        "roll_deg": float(rng.uniform(-4, 4)),
        "offset_px": [float(v) for v in rng.uniform(-0.03, 0.03, 2) * size],
        "tone": int(rng.integers(len(SKIN_TONES))),
        "light_dir_deg": float(rng.uniform(0, 360)),
        "light_strength": float(rng.uniform(0.0, 0.3)),
        "brightness": float(rng.uniform(0.85, 1.1)),
        "background_rgb": [float(v) for v in rng.uniform(0.1, 0.9, 3)],
        "texture": float(rng.uniform(0.012, 0.025)),
    }
    marks = photo.landmarks
    face_w = np.linalg.norm(marks[16] - marks[0])
    scale = p["face_width_frac"] * size / face_w
    t = np.deg2rad(p["roll_deg"])
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    lin = rot @ np.array([[1.0, p["shear"]], [0.0, p["aspect"]]]) * scale
    centre = marks[list(JAW) + list(BROWS)].mean(0)
    shift = np.array([size / 2, size / 2 + 0.04 * size]) + p["offset_px"] - lin @ centre
    affine = np.hstack([lin, shift[:, None]])
    face = cv2.warpAffine(photo.image, affine, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    face = np.clip(face, 0, 1)
    face = _colourise(face, SKIN_TONES[p["tone"]], photo.image.ndim == 2)
    new_marks = marks @ lin.T + shift

    noise_rng = np.random.default_rng(rng.integers(2**63))
    texture = cv2.GaussianBlur(noise_rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.8)
    face = face * (1 + p["texture"] * texture / texture.std())[..., None]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    a = np.deg2rad(p["light_dir_deg"])
    light = p["brightness"] * (1 + p["light_strength"] * (np.cos(a) * xx + np.sin(a) * yy))
    face = face * light[..., None]

    mask = _face_mask(new_marks, size)
    background = _background(p["background_rgb"], noise_rng, size)
    image = mask[..., None] * face + (1 - mask[..., None]) * background
    image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    found = find_landmarks(image)
    if found is None:
        return None
    return Identity(f"{photo.name}", image, found, p)


def _colourise(face: np.ndarray, tone: np.ndarray, grey: bool) -> np.ndarray:
    if grey:
        return face[..., None] * tone.astype(np.float32)
    # colour photographs: pull the mean colour toward the tone, keep the shading
    mean = face.reshape(-1, 3).mean(0)
    return face * (0.5 + 0.5 * tone / (mean / mean.mean() + 1e-6) / tone.mean()).astype(np.float32)


def _face_mask(marks: np.ndarray, size: int) -> np.ndarray:
    """Soft oval around the jaw line and a forehead above the brows."""
    brows = marks[list(BROWS)]
    chin = marks[8]
    lift = 0.45 * (chin - marks[27:31].mean(0))  # forehead height above the brows
    forehead = brows - lift
    hull = cv2.convexHull(np.vstack([marks[list(JAW)], forehead]).astype(np.float32))
    ellipse = cv2.fitEllipse(hull)
    (cx, cy), (w, h), angle = ellipse
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, ((cx, cy), (w * 1.08, h * 1.05), angle), 1.0, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), size / 60)


def _background(rgb, rng: np.random.Generator, size: int) -> np.ndarray:
    """A plain coloured wall with a soft random shading, different for every subject."""
    low = rng.standard_normal((4, 4)).astype(np.float32)
    shade = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC) * 0.08
    return np.clip(np.asarray(rgb, np.float32)[None, None, :] * (1 + shade[..., None]), 0, 1)
