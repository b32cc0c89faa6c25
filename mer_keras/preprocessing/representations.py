"""Representation name -> function of one manifest row and its parameters -> float32 array.

Every representation aligns the clip's faces the same way (``FaceAligner`` fitted once on the
onset frame unless ``redetect``; ``apex`` fits it on the apex frame itself, ``align_on``) and returns a
fixed, documented scale:

=============  ======================  ===================================================================
name           shape                   values
=============  ======================  ===================================================================
flow           (size, size, 3)         TV-L1/Farneback onset->apex; u, v / flow_bound clipped to [-1, 1];
                                       strain / strain_bound (or magnitude / flow_bound) in [0, 1]
flow_hsv       (size, size, 3)         HSV flow picture as RGB in [0, 1] (value = magnitude / flow_bound)
apex           (size, size, C)         aligned apex frame / 255 in [0, 1]; C = 1 (grayscale) or 3 (RGB)
ars, rrs       (size, size, C)         paper 003 residual sums / 255 in [0, 1]
frame_stack    (n_frames, size, size, C)  aligned key frames / 255 in [0, 1]; ``magnify`` applies EVM
evm_stack      (n_frames, size, size, C)  frame_stack with EVM on (paper 001)
flow_stack     (n_frames, size, size, 3)  flow onset key frame -> each later key frame, encoded as ``flow``
=============  ======================  ===================================================================

Masked pixels are 0 in every channel. Flow is computed on unmasked frames at ``flow_size`` and
masked afterwards (a mask edge would otherwise look like motion); vectors are rescaled to
``size`` pixels. ``flow_bound`` (px at ``size``) defaults to size / 56 (4 px at 224).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..datasets.manifest import different_size, frame_paths, read_image
from ..errors import ConfigError, InputError
from .defaults import (
    DEFAULTS,
    EVM_ORDERS,
    FLOW_METHODS,
    FRAME_RULES,
    KEYFRAME_RULES,
    METHOD_DEFAULTS,
    ON_NO_FACE,
    REPRESENTATION_NAMES,
)
from .face import MASK_NAMES, FaceAligner, NoFaceError
from .flow import encode_flow, flow_to_hsv, optical_flow, resize_flow
from .keyframes import slice_positions, uniform_positions
from .magnify import magnify
from .residual import clip_bounds, key_frame_positions, residual_sum

MOTION_END = {"flow": "apex", "flow_hsv": "apex", "ars": "offset", "rrs": "offset", "evm_stack": "offset",
              "flow_stack": "offset"}
"""Representations of motion and the frame their motion ends on: one equal to the onset shows none."""


class FrameError(InputError):
    """A frame that cannot be read, or a clip with fewer frames than its indices."""


def clip_name(row) -> str:
    return f"{row['subject']}/{row['clip']}"


def read_frame(path: Path, clip: str, position: int) -> np.ndarray:
    """RGB uint8 frame, or ``FrameError`` naming the clip, position and file and why (missing, truncated,
    a decoder warning: ``datasets.manifest.read_image`` checks every frame)."""
    try:
        image = read_image(path, cv2.IMREAD_COLOR)
    except (InputError, OSError) as e:
        raise FrameError(f"clip {clip}: frame {position} ({path}) cannot be read: {e}") from None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_frames(row, positions) -> dict[int, np.ndarray]:
    """The row's frames at ``positions`` (0-based), each read once."""
    paths = frame_paths(row)
    clip = clip_name(row)
    bad = [p for p in positions if not 0 <= p < len(paths)]
    if bad:
        raise FrameError(
            f"clip {clip}: has {len(paths)} frame(s) in {row['frames_dir']} but its indices ask for "
            f"position(s) {sorted(set(bad))}"
        )
    frames = {p: read_frame(paths[p], clip, p) for p in sorted(set(positions))}
    other = different_size({paths[p].name: f.shape for p, f in frames.items()})
    if other:
        raise FrameError(f"clip {clip}: {other}")
    return frames


def _positions(row):
    on, ap, off = int(row["onset_idx"]), int(row["apex_idx"]), int(row["offset_idx"])
    if not on <= ap <= off:
        raise FrameError(f"clip {clip_name(row)}: onset/apex/offset positions {on}/{ap}/{off} are not ordered")
    return on, ap, off


class Alignment:
    """The fitted aligner of one clip, plus how it was obtained (recorded in the cache entry)."""

    def __init__(self, row, frames: dict, p: dict, given=None, anchor=None):
        self.p, self.row = p, row
        # the position the aligner is fitted on: the onset, or ``anchor`` (the apex for ``rep_apex``)
        self.onset = _positions(row)[0] if anchor is None else int(anchor)
        self.aligner = FaceAligner(p["size"], False, p["masks"], p["margin"], p["predictor_path"], p["upsample"])
        self.notes: list[str] = []
        self.events: list[dict] = []  # every fallback: {"kind", "frame" (position), "detail"}
        where = f"clip {clip_name(row)}, {'onset' if anchor is None else 'apex'} frame {self.onset}"
        if given is not None:  # explicit 'previous' fallback, decided by prepare()
            self.aligner.set_transform(given["matrix"], _array_or_none(given.get("landmarks")), given["fallback"])
            self.notes.append(given["fallback"])
            self.events.append({"kind": "previous", "frame": self.onset, "detail": given["fallback"]})
            self.landmarks_in = _array_or_none(given.get("landmarks"))
            return
        try:
            self.aligner.fit(frames[self.onset], where)
            self.landmarks_in = _input_landmarks(self.aligner)
        except NoFaceError:
            if p["on_no_face"] != "center":
                raise
            self.aligner.fit_centre(frames[self.onset], f"no face in {where}")
            self.notes.append(self.aligner.fallback_)
            self.events.append({"kind": "center", "frame": self.onset, "detail": self.aligner.fallback_})
            self.landmarks_in = None

    def info(self) -> dict:
        return {
            "fallback": "; ".join(self.notes) or None,
            "fallbacks": list(self.events),
            "matrix": self.aligner.matrix_.tolist(),
            "landmarks": None if self.landmarks_in is None else self.landmarks_in.tolist(),
            "angle": self.aligner.angle_,
        }

    def matrix_for(self, frame: np.ndarray, position: int) -> np.ndarray:
        """The clip's matrix, or with ``redetect`` the frame's own (onset's when none is found, noted)."""
        if not self.p["redetect"] or position == self.onset or self.aligner.fallback_:
            return self.aligner.matrix_
        probe = FaceAligner(self.p["size"], margin=self.p["margin"], predictor_path=self.p["predictor_path"],
                            upsample=self.p["upsample"])
        try:
            return probe.fit(frame, f"clip {clip_name(self.row)}, frame {position}").matrix_
        except NoFaceError:
            self.notes.append(f"frame {position}: no face on re-detection, onset transform used")
            self.events.append({"kind": "redetect", "frame": int(position),
                                "detail": "no face on re-detection, onset transform used"})
            return self.aligner.matrix_

    def aligned(self, frame: np.ndarray, position: int, size=None, gray=None, masked=True) -> np.ndarray:
        """One frame aligned at ``size`` (default the output size), uint8 (s, s) or (s, s, 3)."""
        size = self.p["size"] if size is None else int(size)
        matrix = self.matrix_for(frame, position) * (size / self.p["size"])
        image = _gray(frame) if (self.p["grayscale"] if gray is None else gray) else frame
        out = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if masked and size == self.p["size"]:
            out[self.aligner.mask_] = 0
        return out

    @property
    def mask(self) -> np.ndarray:
        return self.aligner.mask_


def _gray(frame):
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _array_or_none(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _input_landmarks(aligner: FaceAligner) -> np.ndarray:
    m = np.vstack([aligner.matrix_, [0, 0, 1]])
    inv = np.linalg.inv(m)[:2]
    return aligner.landmarks_ @ inv[:, :2].T + inv[:, 2]


def _channels(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _unit(images) -> np.ndarray:
    return (_channels(np.asarray(images)).astype(np.float32) / 255.0).astype(np.float32)


def _flow_between(al: Alignment, frames: dict, a: int, b: int, p: dict, images=None) -> np.ndarray:
    """Flow from position a to b at flow_size, rescaled to size pixels (H, W, 2)."""
    fs = p["flow_size"] or p["size"]
    if images is None:
        images = {k: al.aligned(frames[k], k, fs, gray=True, masked=False) for k in (a, b)}
    where = f"(clip {clip_name(al.row)}, frames {a}->{b})"
    flow = optical_flow(images[a], images[b], p["flow_method"], where=where, **p["flow_params"])
    return resize_flow(flow, p["size"])


def _encode(flow: np.ndarray, p: dict, mask: np.ndarray, hsv: bool = False) -> np.ndarray:
    bound = p["flow_bound"] or p["size"] / 56.0
    out = flow_to_hsv(flow, bound) if hsv else encode_flow(flow, p["third"], bound, p["strain_bound"])
    out[mask] = 0
    return out.astype(np.float32)


def rep_flow(row, p, given=None, hsv=False):
    on, ap, _ = _positions(row)
    frames = read_frames(row, [on, ap])
    al = Alignment(row, frames, p, given)
    return _encode(_flow_between(al, frames, on, ap, p), p, al.mask, hsv), al.info()


def rep_flow_hsv(row, p, given=None):
    return rep_flow(row, p, given, hsv=True)


def rep_apex(row, p, given=None):
    """The aligned apex frame. ``align_on="apex"`` (default) fits landmarks, rotation and masks on the apex
    frame itself, so head motion between onset and apex cannot move the eye mask off the eyes (paper 004
    aligns the apex image it classifies); ``"onset"`` keeps the clip-wide onset fit.

    ``frames="sequence"``: ``sequence_frames`` frames evenly spaced from onset to apex (both included, repeated
    when the clip has fewer), each aligned and masked with that one fit, as (T, s, s, C): paper 000 fine-tunes
    on "pre-processed image sequences" ("Classification of pre-processed image sequences", Fig. 1 step 3;
    "trying different expression sequence lengths", Discussion); the training code makes each frame a sample."""
    on, ap, _ = _positions(row)
    if p["align_on"] not in ("apex", "onset"):
        raise ConfigError(f"align_on must be 'apex' or 'onset', got {p['align_on']!r}")
    frames_rule = p.get("frames", "apex")
    if frames_rule not in FRAME_RULES:
        raise ConfigError(f"frames must be one of {FRAME_RULES}, got {frames_rule!r}")
    anchor = ap if p["align_on"] == "apex" else None
    picks = uniform_positions(on, ap, int(p["sequence_frames"])) if frames_rule == "sequence" else [ap]
    frames = read_frames(row, [*picks, ap if anchor is not None else on])
    al = Alignment(row, frames, p, given, anchor=anchor)
    if frames_rule == "apex":
        return _unit(al.aligned(frames[ap], ap)), al.info()
    stack = np.stack([al.aligned(frames[k], k) for k in picks])
    return _unit(stack[..., None] if stack.ndim == 3 else stack), al.info()


def _residual(row, p, given, mode):
    on, ap, off = _positions(row)
    start, end = clip_bounds(on, ap, off)
    keys = key_frame_positions(start, end, p["n_key"])
    frames = read_frames(row, [on, start, *keys])
    al = Alignment(row, frames, p, given)
    aligned = {k: al.aligned(frames[k], k) for k in {start, *keys}}
    image = residual_sum([aligned[start]] + [aligned[k] for k in keys], mode) / 255.0
    return _channels(image).astype(np.float32), al.info()


def rep_ars(row, p, given=None):
    return _residual(row, p, given, "absolute")


def rep_rrs(row, p, given=None):
    return _residual(row, p, given, "relative")


def _stack_frames(row, p, given, extra=0):
    """Aligned (unmasked) key frames onset..offset, optionally magnified (``evm_order``: the key frames picked
    first and then magnified, paper 001's order, or the whole clip magnified first); ``extra`` more than
    n_frames. Magnifying the picked frames treats them as a clip at their mean frame rate (the default band is
    relative to the clip's length, so it is the same for either order)."""
    on, _, off = _positions(row)
    span = list(range(on, off + 1))
    frames = read_frames(row, span)
    al = Alignment(row, frames, p, given)
    clip = np.stack([al.aligned(frames[k], k, masked=False) for k in span])
    order = p.get("evm_order", "keyframes_first")
    if order not in EVM_ORDERS:
        raise ConfigError(f"evm_order must be one of {EVM_ORDERS}, got {order!r}")

    def magnified(video, fps):
        return magnify(video, fps, p["alpha"], p["low_hz"], p["high_hz"], p["levels"], p["pyramid"], p["lambda_c"])

    if p["magnify"] and order == "clip_first" and len(clip) > 1:
        clip = magnified(clip, float(row["fps"]))
    n = p["n_frames"] + extra
    if p["keyframes"] not in KEYFRAME_RULES:
        raise ConfigError(f"keyframes must be 'uniform' or 'slices', got {p['keyframes']!r}")
    picks = uniform_positions(0, len(clip) - 1, n) if p["keyframes"] == "uniform" else slice_positions(clip, n)
    stack = clip[picks]
    if p["magnify"] and order == "keyframes_first" and len(clip) > 1:
        stack = magnified(stack, float(row["fps"]) * (len(stack) - 1) / (len(clip) - 1))
    return stack, al


def rep_frame_stack(row, p, given=None):
    stack, al = _stack_frames(row, p, given)
    stack = np.clip(np.rint(stack), 0, 255)
    stack = _unit(stack[..., None] if stack.ndim == 3 else stack)
    stack[:, al.mask] = 0
    return stack, al.info()


def rep_evm_stack(row, p, given=None):
    return rep_frame_stack(row, {**p, "magnify": True}, given)


def rep_flow_stack(row, p, given=None):
    stack, al = _stack_frames(row, {**p, "grayscale": True}, given, extra=1)
    fs = p["flow_size"] or p["size"]
    gray = [cv2.resize(np.clip(np.rint(f), 0, 255).astype(np.uint8), (fs, fs), interpolation=cv2.INTER_AREA)
            for f in stack]
    out = []
    for t in range(1, len(gray)):
        where = f"(clip {clip_name(row)}, stack flow 0->{t})"
        flow = optical_flow(gray[0], gray[t], p["flow_method"], where=where, **p["flow_params"])
        out.append(_encode(resize_flow(flow, p["size"]), p, al.mask))
    return np.stack(out).astype(np.float32), al.info()


FUNCTIONS = {"flow": rep_flow, "flow_hsv": rep_flow_hsv, "apex": rep_apex, "ars": rep_ars, "rrs": rep_rrs,
             "frame_stack": rep_frame_stack, "evm_stack": rep_evm_stack, "flow_stack": rep_flow_stack}
REPRESENTATIONS = {name: (FUNCTIONS[name], DEFAULTS[name]) for name in REPRESENTATION_NAMES}
"""Representation name -> (function of a row and its parameters, every parameter's default)."""


def normalize_params(representation: str, params: dict) -> dict:
    """Every parameter of ``representation`` with defaults filled in, or a ValueError listing the
    accepted names. Flow-method parameters may be given at top level (``nscales=3``)."""
    if representation not in REPRESENTATIONS:
        raise ConfigError(f"unknown representation {representation!r}; expected one of {sorted(REPRESENTATIONS)}")
    defaults = REPRESENTATIONS[representation][1]
    p = {**defaults}
    method_defaults = METHOD_DEFAULTS.get(
        params.get("flow_method", defaults.get("flow_method")), {}
    )
    flow_params = dict(params.get("flow_params") or {})
    unknown = []
    for k, v in params.items():
        if k in defaults:
            p[k] = v
        elif "flow_method" in defaults and k in method_defaults:
            flow_params[k] = v
        else:
            unknown.append(k)
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {sorted(unknown)} for representation {representation!r}; "
            f"accepted: {sorted(defaults)} and the flow method's {sorted(method_defaults)}"
        )
    masks = p["masks"]
    if isinstance(masks, str):
        masks = [m for m in masks.replace(" ", "").split(",") if m]
    p["masks"] = tuple(sorted(set(masks)))
    unknown_masks = [m for m in p["masks"] if m not in MASK_NAMES]
    if unknown_masks:
        raise ConfigError(f"unknown mask(s) {unknown_masks}; expected a comma-separated list of {', '.join(MASK_NAMES)} "
                          f"(--masks eyes,static; preprocess.masks = [\"eyes\", \"static\"] in an experiment)")
    if p["on_no_face"] not in ON_NO_FACE:
        raise ConfigError(f"on_no_face must be one of {ON_NO_FACE}, got {p['on_no_face']!r}")
    if "flow_method" in p:
        p["flow_params"] = {k: flow_params[k] for k in sorted(flow_params)}
        if p["flow_method"] not in FLOW_METHODS:
            raise ConfigError(f"flow_method must be 'tvl1' or 'farneback', got {p['flow_method']!r}")
    for key in ("size", "flow_size"):
        size = p.get(key)
        if (key == "size" or size is not None) and (
                isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ConfigError(f"{key} must be a positive whole number of pixels (--{key.replace('_', '-')}, "
                              f"preprocess.{key}), got {size!r}")
    p["size"] = int(p["size"])
    if representation == "apex" and p["frames"] == "apex":
        # the sequence settings do not shape an apex frame: left out, so apex cache keys stay as they were
        del p["frames"], p["sequence_frames"]
    if p["predictor_path"] is not None:
        p["predictor_path"] = str(Path(p["predictor_path"]).resolve())
    return p


def compute(row, representation: str, params: dict, given=None):
    """(array, info) of one row; ``params`` must come from ``normalize_params``."""
    fn = REPRESENTATIONS[representation][0]
    return fn(row, params, given)
