"""Apex spotting: the frame of peak facial motion from the onset, for clips that carry no apex.

SMIC, SMIC-E and a researcher's own video give no apex; the package used the middle frame of
onset..offset (``apex_source = "middle"``). The spotter measures, for every frame t after the onset,
how far the face has moved from the onset frame, and takes the frame where that motion peaks:

1. The face is found once on the onset frame (dlib landmarks, ``FaceAligner``; the centre crop
   when none is found, logged) and every frame is warped by the same matrix to a grey
   ``size`` x ``size`` face, so alignment jitter cannot look like motion.
2. Dense Farneback flow onset -> t on the whole face (the mask edge would otherwise be motion),
   then only the pixels outside the ``masks`` count: the eyes (blinks are the largest motion on a
   face that is not an expression) and the static background.
3. The median flow vector of the counted pixels is subtracted: a small head translation moves
   every pixel alike, an expression moves a few regions, so the residual is the expression.
4. The motion of frame t is the mean length of the residual vectors (pixels at ``size``); the
   curve is smoothed with a short binomial window and its maximum is the apex.

Why this rule. Apex spotting in the literature measures a feature's difference from the onset
frame and takes its peak: LBP histogram differences in facial regions (Yan et al. 2014; Liong et
al. 2018, "Less is more", with a divide-and-conquer search), optical-strain magnitude (Shreve et
al. 2011), optical-flow magnitude in regions of interest (Patel et al. 2015). On SynthME's default
corpus (``benchmarks/bench_spotting.py``) the raw grey-level difference and the raw flow magnitude
put only about 70-75 % of the apexes within 2 frames of the truth (head drift grows through the
clip and wins); subtracting the median flow lifts that to 97-98 %, while an affine fit removed part
of the expression with the head (93-94 %). Smoothing with [1, 2, 1] / 4 made more spotted frames
exact and changed little else; 112 px was as good as 160 px and better than 64 px.

What it is not: spotting of micro-expressions in long videos (MEGC's spotting task). The clip is
assumed to hold one expression that starts at its onset; a long recording drifts away from its
first frame.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from ..datasets.manifest import FRAME_SEP, frame_number
from ..datasets.precomputed import PRECOMPUTED_APEX
from ..errors import ConfigError, InputError
from .face import FaceAligner, NoFaceError, mask_names
from .flow import optical_flow
from .representations import clip_name, read_frames

logger = logging.getLogger("mer_keras")

ON_NO_FACE = ("center", "error")
REPLACE = ("estimated", "all")
"""Which rows ``spot_apexes`` re-spots: those whose apex was estimated (``middle``), or every clip."""


@dataclass(frozen=True)
class SpotConfig:
    """Settings of the spotter (module doc); checked when made, a wrong one is a ``ConfigError``."""

    size: int = 112
    masks: tuple = ("eyes", "static")
    smooth: int = 3
    flow_method: str = "farneback"
    remove_global: bool = True
    margin: float = 0.1
    on_no_face: str = "center"
    min_motion: float = 1e-3

    def __post_init__(self):
        if not isinstance(self.size, (int, np.integer)) or isinstance(self.size, bool) or not 16 <= self.size <= 1024:
            raise ConfigError(f"SpotConfig.size must be an integer in 16..1024, got {self.size!r}")
        object.__setattr__(self, "masks", mask_names(self.masks))  # ConfigError naming an unknown mask
        if not isinstance(self.smooth, (int, np.integer)) or self.smooth < 1 or self.smooth % 2 == 0:
            raise ConfigError(f"SpotConfig.smooth must be an odd window of 1 or more frames, got {self.smooth!r}")
        if self.flow_method not in ("farneback", "tvl1"):
            raise ConfigError(f"SpotConfig.flow_method must be 'farneback' or 'tvl1', got {self.flow_method!r}")
        if self.on_no_face not in ON_NO_FACE:
            raise ConfigError(f"SpotConfig.on_no_face must be one of {ON_NO_FACE}, got {self.on_no_face!r}")
        if not 0 <= float(self.margin) < 1:
            raise ConfigError(f"SpotConfig.margin must be in [0, 1), got {self.margin!r}")
        if not float(self.min_motion) >= 0:
            raise ConfigError(f"SpotConfig.min_motion must be >= 0 px, got {self.min_motion!r}")


class NoMotionError(InputError):
    """A clip whose motion curve stays flat (or that has no frame after its onset): no apex to spot."""


@dataclass
class Spotting:
    """One clip's spotting: positions are 0-based in the clip's frame files, the curve covers onset..offset."""

    clip: str
    onset_idx: int
    offset_idx: int
    apex_idx: int
    motion: np.ndarray
    smoothed: np.ndarray
    frames: list = field(default_factory=list)
    face: str = "detected"

    def table(self) -> pd.DataFrame:
        """The per-frame curve: position, native frame number, motion (px), smoothed motion, spotted apex."""
        positions = np.arange(self.onset_idx, self.offset_idx + 1)
        return pd.DataFrame({"position": positions, "frame": self.frames or positions,
                             "motion_px": self.motion, "smoothed_px": self.smoothed,
                             "apex": positions == self.apex_idx})


def binomial_smooth(curve, window: int) -> np.ndarray:
    """``curve`` smoothed by the binomial kernel of ``window`` taps ([1, 2, 1] / 4 for 3), edges repeated."""
    curve = np.asarray(curve, dtype=np.float64)
    if window <= 1 or len(curve) < 2:
        return curve.copy()
    kernel = np.array([1.0])
    for _ in range(window - 1):
        kernel = np.convolve(kernel, [0.5, 0.5])
    half = window // 2
    return np.convolve(np.pad(curve, half, mode="edge"), kernel, mode="valid")


def _aligner(onset_frame: np.ndarray, config: SpotConfig, where: str) -> tuple[FaceAligner, str]:
    aligner = FaceAligner(config.size, masks=config.masks, margin=config.margin)
    try:
        return aligner.fit(onset_frame, where), "detected"
    except NoFaceError:
        if config.on_no_face == "error":
            raise
        aligner.fit_centre(onset_frame, f"no face in {where}")
        logger.warning("%s: no face found; motion measured on the centre crop without masks", where)
        return aligner, "centre crop (no face found)"


def motion_curve(frames, config: SpotConfig | None = None, where: str = "clip") -> tuple[np.ndarray, str]:
    """Motion of each frame from the first (onset; RGB or grey uint8, any iterable, read one at a time),
    pixels at ``size``. Returns (curve with curve[0] = 0, how the face was found)."""
    config = config or SpotConfig()
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise InputError(f"{where}: no frames to spot an apex in")
    aligner, face = _aligner(first, config, f"{where}, onset frame")
    keep = ~aligner.mask_
    if not keep.any():
        raise InputError(f"{where}: the masks {config.masks} cover the whole face; nothing left to measure")

    def grey(frame):
        return aligner.transform(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), masked=False)

    onset = grey(first)
    curve = [0.0]
    for t, frame in enumerate(frames, start=1):
        flow = optical_flow(onset, grey(frame), config.flow_method, where=f"({where}, frames 0->{t})")
        vectors = flow[keep].astype(np.float64)
        if config.remove_global:
            vectors = vectors - np.median(vectors, axis=0)
        curve.append(float(np.linalg.norm(vectors, axis=1).mean()))
    return np.asarray(curve), face


def spot_apex(row, config: SpotConfig | None = None) -> Spotting:
    """Spot the apex of one manifest row between its ``onset_idx`` and ``offset_idx`` (module doc).

    ``NoMotionError`` when the clip has no frame after its onset or its curve never exceeds
    ``min_motion``; ``FrameError`` for a frame that cannot be read (both name the clip)."""
    config = config or SpotConfig()
    clip = clip_name(row)
    on, off = int(row["onset_idx"]), int(row["offset_idx"])
    if off <= on:
        raise NoMotionError(f"clip {clip}: no frame after the onset (onset position {on}, offset {off}); "
                            "no apex to spot")
    frames = (read_frames(row, [p])[p] for p in range(on, off + 1))  # one frame in memory at a time
    motion, face = motion_curve(frames, config, f"clip {clip}")
    smoothed = binomial_smooth(motion, config.smooth)
    smoothed[0] = 0.0  # the onset is never its own apex
    if not smoothed.max() > config.min_motion:
        raise NoMotionError(f"clip {clip}: no motion above {config.min_motion} px between onset position {on} and "
                            f"offset {off}; no apex to spot")
    names = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n]
    numbers = [frame_number(names[p]) for p in range(on, off + 1)]
    return Spotting(clip, on, off, on + int(np.argmax(smoothed)), motion, smoothed, numbers, face)


def spot_apexes(rows: pd.DataFrame, config: SpotConfig | None = None, replace: str = "estimated",
                curves: dict | None = None) -> pd.DataFrame:
    """A copy of a manifest with spotted apexes: ``apex``, ``apex_idx`` and ``apex_source = "spotted"``.

    ``replace="estimated"`` re-spots the rows whose apex is the middle frame (SMIC, SMIC-E, a clip
    without annotation) and keeps annotated ones; ``"all"`` re-spots every clip that has frames. Rows of
    single images or precomputed inputs are never touched. A clip without motion keeps its apex (a
    warning names it). ``curves``, when given, receives each spotted row's ``Spotting`` by row index.
    """
    if replace not in REPLACE:
        raise ConfigError(f"replace must be one of {REPLACE}, got {replace!r}")
    config = config or SpotConfig()
    out = rows.copy()
    if not len(out):
        return out
    source = out["apex_source"].astype(str)
    wanted = source.eq("middle") if replace == "estimated" else ~source.isin(["single", PRECOMPUTED_APEX])
    for i in out.index[wanted.to_numpy()]:
        row = out.loc[i]
        try:
            spot = spot_apex(row, config)
        except NoMotionError as e:
            logger.warning("%s; its apex stays frame %s (%s)", e, row["apex"], row["apex_source"])
            continue
        names = [n for n in str(row["frame_files"]).split(FRAME_SEP) if n]
        out.at[i, "apex_idx"] = spot.apex_idx
        out.at[i, "apex"] = frame_number(names[spot.apex_idx])
        out.at[i, "apex_source"] = "spotted"
        if curves is not None:
            curves[i] = spot
    return out
