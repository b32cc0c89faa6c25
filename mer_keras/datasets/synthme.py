"""SynthME: a synthetic micro-expression corpus written in the native CASME II layout (and a CK+-style
macro-expression counterpart), so every stage of the package can run end to end without licensed data.

What it models. Each subject is a distinct real person (from photographs shipped in scikit-image and
matplotlib, see ``synthme_faces``) re-rendered with its own geometry, skin tone, illumination and
background. Each clip starts at a neutral onset, rises to an apex and decays, while the face deforms by
a smooth displacement field anchored on the identity's 68 dlib landmarks (``synthme_motion``) that
mimics the action units of its fine emotion at micro amplitude (0.2-2 px at 224 px):
lip-corner pull (positive); brow lowering, nose wrinkle, lip press (negative); brow raise, eye widening
and a slight jaw drop (surprise). What makes the real task hard is added on purpose: blinks, small head
motion (translation up to about 1 px and roll), a smooth non-rigid skin drift unrelated to the class,
one more AU unrelated to the class in about a third of the clips (AUs overlap between classes),
illumination flicker, sensor noise, amplitudes that vary by subject (log-normal gain) and by clip, AU
weights that vary by clip, asymmetric AUs, and MEGC-like class imbalance (about 3 : 1.3 : 1 negative :
positive : surprise, with the CASME II fine emotions so the 5-class protocol works too). The expression
alone peaks at the annotated apex; blinks, head and skin drift follow their own timing.

Calibration (version 2.0). The micro-clip motion settings below (``SUBJECT_GAIN_SD`` ... ``SKIN_MOTION_PX``)
were chosen so that the default demo corpus (12 subjects x 10 clips, seed 0, paper 000's 64 px inputs) has
about the real MEGC 2019 composite's same-fold floors: linear SVM on the flow 0.71, on the 16x16 face 0.41,
majority 0.24 (``benchmarks/synthme_floors.py`` measures them). Version 1.0's motion was easier than real
motion (flow floor 0.84). The macro corpus is unchanged.

What it does not model. No real AU dynamics or co-occurrence statistics learned from FACS-coded data,
no 3-D head or out-of-plane pose, no skin shading change or wrinkle appearance (motion only moves
texture), no occlusion (glasses some LFW people wear are part of their face), no rolling shutter,
and a reduced frame rate (50 fps instead of CASME II's 200 fps: 12-17 frames per clip keep optical
flow and training affordable on a CPU). Identities are few (about 46 usable per corpus) and the LFW photographs are 25 px crops
enlarged about nine times, so faces are blurrier than real recordings.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from . import casme2, ck_plus
from . import synthme_faces as faces
from . import synthme_motion as motion

VERSION = "2.0"
MICRO_FPS = 50.0
"""Frame rate of the micro clips: a 200 fps recording read every 4th frame (see the module docstring)."""
MACRO_FPS = 30.0
"""CK+ was recorded at 30 fps."""
JPEG_QUALITY = 95
MICRO_SHEET = "CASME2-coding-synthme.xlsx"
MICRO_FRAMES = "CASME2_RAW_selected"
MACRO_FRAMES = "cohn-kanade-images"
MACRO_LABELS = "Emotion"
METADATA = "synthme.json"

MICRO_EMOTION_SHARE = {
    "disgust": 0.26,
    "repression": 0.17,
    "sadness": 0.04,
    "fear": 0.03,
    "happiness": 0.22,
    "surprise": 0.17,
    "others": 0.11,
}
"""Fine-emotion mix: 3-class gives 0.50 : 0.22 : 0.17, i.e. about 2.9 : 1.3 : 1 (MEGC 2019: 250 : 109 : 83)."""

EMOTION_AUS = {
    "happiness": {"12": 1.0, "6": 0.35},
    "disgust": {"4": 1.0, "9": 0.7, "10": 0.3},
    "repression": {"4": 1.0, "24": 0.7, "17": 0.3},
    "fear": {"1": 0.6, "2": 0.4, "4": 0.6, "5": 0.5, "20": 0.6},
    "sadness": {"1": 0.8, "4": 0.6, "15": 0.7},
    "surprise": {"1": 1.0, "2": 1.0, "5": 0.6, "26": 0.5},
    "anger": {"4": 1.0, "7": 0.6, "24": 0.6},
    "contempt": {"14": 1.0, "12": 0.3},
}
OTHERS_AUS = ({"7": 1.0}, {"14": 1.0}, {"17": 1.0}, {"10": 1.0})
"""'others' clips: one AU that none of the 3-class emotions is built from alone."""

CK_CODES = {"anger": 1, "contempt": 2, "disgust": 3, "fear": 4, "happy": 5, "sadness": 6, "surprise": 7}
MACRO_EMOTION_SHARE = {"anger": 45, "contempt": 18, "disgust": 59, "fear": 25, "happy": 69, "sadness": 28, "surprise": 83}
"""CK+'s 327 labelled sequences per emotion."""

MICRO_AMPLITUDE_PX = (0.2, 2.0)
MACRO_AMPLITUDE_PX = (4.0, 8.0)
"""Peak displacement at 224 px; scaled with ``size``."""

# Micro clips only (the macro corpus keeps its posed, clean motion). Calibrated so that the default demo
# corpus's same-fold floors match the real MEGC 2019 composite's (benchmarks/synthme_floors.py).
SUBJECT_GAIN_SD = 0.4
"""Log-normal spread of the per-subject amplitude gain (some people move more than others)."""
SUBJECT_GAIN_RANGE = (0.5, 2.0)
CLIP_GAIN = (0.45, 1.8)
"""Log-uniform per-clip amplitude gain, times the subject's, clipped to ``MICRO_AMPLITUDE_PX``."""
AU_WEIGHT_JITTER = (0.8, 1.2)
"""Each AU's weight in a clip is its emotion's weight times a uniform draw in this range."""
EXTRA_AU_SHARE = 0.3
"""Share of micro clips that carry one more AU unrelated to their class (real AUs co-occur across classes)."""
EXTRA_AUS = ("1", "2", "4", "6", "7", "10", "12", "14", "15", "17", "24")
EXTRA_AU_WEIGHT = (0.3, 0.8)
HEAD_MOTION_PX = (0.1, 0.9)
HEAD_ROLL_DEG = (0.0, 0.2)
BLINK_SHARE = 0.2
SKIN_MOTION_PX = (0.04, 0.25)
"""RMS of a smooth, non-rigid displacement unrelated to the class (skin, muscle tone, small pose changes),
drawn per clip at 224 px; it drifts from 0 at the onset frame like the head does."""
SKIN_MOTION_GRID = 5
"""Knots per side of the random field's coarse grid (its spatial smoothness)."""


def generate(
    out_dir,
    subjects: int = 14,
    clips_per_subject: int = 10,
    seed: int = 0,
    size: int = 224,
    macro: bool = False,
    progress: bool = True,
) -> Path:
    """Write a SynthME corpus under ``out_dir`` and return its root.

    Micro (default): ``CASME2_RAW_selected/subNN/EPxx_yy/img<n>.jpg`` plus the CASME II-style coding
    sheet ``CASME2-coding-synthme.xlsx`` and ``synthme.json`` (every generation parameter, per clip).
    ``macro=True``: the CK+ layout (``cohn-kanade-images``, ``Emotion``) with other identities
    (see ``synthme_faces.identity_pool``), posed expressions at macro amplitude: each a 6-10 frame
    sequence from a neutral onset to the apex at its last frame, as CK+'s, so paper 004's frame rule
    (``load_manifest("synthme-macro", root, protocol="liu2022-macro")``: the last three frames) runs.
    The same arguments give byte-identical images. Re-running with the same arguments on a finished
    corpus returns at once; different arguments on an existing corpus raise ``FileExistsError``.
    """
    _check_args(subjects, clips_per_subject, size)
    root = Path(out_dir)
    settings = {
        "kind": "macro" if macro else "micro",
        "version": VERSION,
        "seed": int(seed),
        "subjects": int(subjects),
        "clips_per_subject": int(clips_per_subject),
        "size": int(size),
    }
    if _already_done(root, settings):
        return root
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    identities = faces.make_identities(subjects, seed, size, "macro" if macro else "micro")
    writer = _write_macro if macro else _write_micro
    clips = writer(root, identities, settings, progress)
    meta = dict(settings)
    meta.update(
        fps=MACRO_FPS if macro else MICRO_FPS,
        native_fps=MACRO_FPS if macro else 200.0,
        jpeg_quality=None if macro else JPEG_QUALITY,
        amplitude_px_at_224=MACRO_AMPLITUDE_PX if macro else MICRO_AMPLITUDE_PX,
        emotion_aus=EMOTION_AUS,
        micro_motion=None if macro else micro_motion_settings(),
        identities=[
            {"subject": subject, "name": ident.name, "landmarks": ident.landmarks.round(2).tolist(), **ident.params}
            for subject, ident in zip(_subject_names(subjects, macro), identities)
        ],
        clips=clips,
    )
    (root / METADATA).write_text(json.dumps(meta, indent=1))
    if progress:
        print(f"SynthME {settings['kind']}: {len(clips)} clips in {time.perf_counter() - started:.1f} s -> {root}",
              file=sys.stderr)
    return root


def micro_motion_settings() -> dict:
    """The calibrated settings of micro-clip motion (recorded in ``synthme.json`` as ``micro_motion``)."""
    names = ("SUBJECT_GAIN_SD", "SUBJECT_GAIN_RANGE", "CLIP_GAIN", "AU_WEIGHT_JITTER", "EXTRA_AU_SHARE", "EXTRA_AUS",
             "EXTRA_AU_WEIGHT", "HEAD_MOTION_PX", "HEAD_ROLL_DEG", "BLINK_SHARE", "SKIN_MOTION_PX", "SKIN_MOTION_GRID")
    return {name.lower(): globals()[name] for name in names}


def read(root, **kwargs):
    """Rows of the micro corpus (before any protocol), through the CASME II reader (``kwargs`` go to it)."""
    return casme2.read(root, dataset="synthme", fps=_metadata(root, "micro")["fps"], **kwargs)


def read_macro(root, **kwargs):
    """Rows of the macro corpus (before any protocol), through the CK+ reader (``kwargs`` go to it)."""
    return ck_plus.read(root, dataset="synthme-macro", fps=_metadata(root, "macro")["fps"], **kwargs)


def metadata(root) -> dict:
    """The generation record ``synthme.json`` of a corpus."""
    return _metadata(root, None)


def _metadata(root, kind):
    path = Path(root) / METADATA
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {root} is not a SynthME corpus (run `mer-keras synth --out {root}`)")
    meta = json.loads(path.read_text())
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{root} holds a SynthME {meta.get('kind')} corpus, not a {kind} one")
    return meta


def _check_args(subjects, clips_per_subject, size):
    if int(subjects) < 1 or int(clips_per_subject) < 1:
        raise ValueError(f"subjects and clips_per_subject must be >= 1, got {subjects} and {clips_per_subject}")
    if not 96 <= int(size) <= 1024:
        raise ValueError(f"size must be between 96 and 1024 px (dlib needs faces of about 80 px), got {size}")


def _already_done(root: Path, settings: dict) -> bool:
    if not root.exists():
        return False
    if not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder")
    meta_path = root / METADATA
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in settings} == settings:
            return True
        raise FileExistsError(f"{root} already holds a different SynthME corpus "
                              f"({ {k: old.get(k) for k in settings} }); choose another folder or delete it")
    ours = {MICRO_FRAMES, MICRO_SHEET, MACRO_FRAMES, MACRO_LABELS}
    foreign = [p.name for p in root.iterdir() if p.name not in ours]
    if foreign:
        raise FileExistsError(f"{root} is not empty (holds {foreign[:3]}); SynthME writes into an empty folder")
    for name in ours:  # an interrupted run of ours: start clean, so no stale frame survives in a clip folder
        target = root / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return False


def _subject_names(n, macro):
    return [f"S{501 + i}" for i in range(n)] if macro else [f"{i + 1:02d}" for i in range(n)]


def _emotion_sequence(shares: dict, total: int, rng: np.random.Generator) -> list[str]:
    """Exactly proportional emotion counts (largest remainder), in a seeded random order."""
    names = list(shares)
    w = np.array([shares[n] for n in names], float)
    raw = w / w.sum() * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    seq = [n for n, c in zip(names, counts) for _ in range(c)]
    return [seq[i] for i in rng.permutation(total)]


def _clip_plan(emotion, rng, size, macro, subject_gain):
    """Every random choice of one clip, recorded in synthme.json."""
    scale = size / 224
    if emotion == "others":
        aus = dict(OTHERS_AUS[rng.integers(len(OTHERS_AUS))])
    else:
        aus = dict(EMOTION_AUS["happiness" if emotion == "happy" else emotion])
    jitter = (0.8, 1.2) if macro else AU_WEIGHT_JITTER
    aus = {k: round(v * float(rng.uniform(*jitter)), 3) for k, v in aus.items()}
    side_gain = [1.0, 1.0]
    if emotion == "contempt" or rng.random() < 0.2:  # asymmetric: one side weaker
        side_gain[int(rng.integers(2))] = round(float(rng.uniform(0.2, 0.6)), 3)
    lo, hi = MACRO_AMPLITUDE_PX if macro else MICRO_AMPLITUDE_PX
    if macro:
        amp = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        n_frames = int(rng.integers(6, 11))
        apex = n_frames - 1
    else:
        amp = float(np.clip(subject_gain * np.exp(rng.uniform(*np.log(CLIP_GAIN))), lo, hi))
        rise, decay = int(rng.integers(5, 8)), int(rng.integers(6, 10))
        n_frames, apex = rise + decay + 1, rise
    blink = None
    if rng.random() < (0.15 if macro else BLINK_SHARE):
        length = int(rng.integers(2, 5))
        blink = {"start": int(rng.integers(0, n_frames - 1)), "length": length,
                 "closure": round(float(rng.uniform(0.5, 0.9)), 3)}
    head_px = float(rng.uniform(*((0.05, 0.5) if macro else HEAD_MOTION_PX))) * scale
    plan = {
        "emotion": emotion,
        "aus": aus,
        "side_gain": side_gain,
        "amplitude_px": round(amp * scale, 4),
        "n_frames": n_frames,
        "apex_index": apex,
        "blink": blink,
        "head_motion_px": round(head_px, 4),
        "head_roll_deg": round(float(rng.uniform(*((0.0, 0.12) if macro else HEAD_ROLL_DEG))), 4),
        "flicker_sd": round(float(rng.uniform(0.001, 0.006)), 5),
        "noise_sd": round(float(rng.uniform(0.8, 2.0)), 3),
        "first_frame": int(rng.integers(10, 400)) if not macro else 1,
        "render_seed": int(rng.integers(2**31)),
    }
    if not macro:  # drawn after the macro corpus's choices, so that corpus stays as it was
        extra = [a for a in EXTRA_AUS if a not in aus]
        if extra and rng.random() < EXTRA_AU_SHARE:
            au = extra[int(rng.integers(len(extra)))]
            plan["aus"][au] = round(float(rng.uniform(*EXTRA_AU_WEIGHT)), 3)
            plan["extra_au"] = au
        else:
            plan["extra_au"] = None
        plan["skin_motion_px"] = round(float(rng.uniform(*SKIN_MOTION_PX)) * scale, 4)
    return plan


def au_text(plan) -> str:
    """The sheet's AU cell ('4+9', 'R12'): strongest AUs first, 'L'/'R' on asymmetric clips."""
    aus = sorted(plan["aus"], key=lambda a: -plan["aus"][a])
    weak = [i for i, g in enumerate(plan["side_gain"]) if g < 1]
    # image-left is the subject's right side; the weak side is where the AU is fainter
    prefix = "" if not weak else ("L" if weak[0] == 0 else "R")
    return "+".join(prefix + a if i == 0 else a for i, a in enumerate(aus))


def render_clip(identity: faces.Identity, plan: dict, macro: bool = False) -> list[np.ndarray]:
    """The clip's frames (uint8 RGB), neutral face warped by expression, blink and head motion."""
    shape = identity.image.shape[:2]
    rng = np.random.default_rng(plan["render_seed"])
    marks = identity.landmarks
    expr = motion.expression_field(marks, plan["aus"], shape, plan["side_gain"]) * plan["amplitude_px"]
    n = plan["n_frames"]
    if macro:
        intensity = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / (n - 1))
    else:
        intensity = motion.rise_and_decay(n, plan["apex_index"])
    closure = np.zeros(n)
    blink_field = None
    if plan["blink"]:
        b = plan["blink"]
        closure = motion.blink_profile(n, b["start"], b["length"]) * b["closure"]
        eye_h = float(np.mean(np.abs(marks[[41, 40, 47, 46], 1] - marks[[37, 38, 43, 44], 1])))
        blink_field = motion.au_field(marks, "43", shape) * eye_h
    _, _, centre, _ = motion.face_frame(marks)
    head = _smooth_walk(rng, n, 3) * plan["head_motion_px"]
    roll = _smooth_walk(rng, n, 1)[:, 0] * plan["head_roll_deg"]
    gains = 1 + rng.standard_normal(n) * plan["flicker_sd"]
    skin = None
    if plan.get("skin_motion_px"):
        skin_rng = np.random.default_rng([plan["render_seed"], 1])
        skin = motion.random_walk_fields(skin_rng, shape, n, SKIN_MOTION_GRID, rms=plan["skin_motion_px"])
    base = identity.image.astype(np.float32)
    frames = []
    for t in range(n):
        field = intensity[t] * expr + motion.rigid_field(shape, centre, head[t, 0], head[t, 1], roll[t])
        if skin is not None:
            field += skin[t]
        if blink_field is not None and closure[t] > 0:
            field = field + closure[t] * blink_field
        img = motion.warp(base, field) * gains[t] + rng.standard_normal(base.shape).astype(np.float32) * plan["noise_sd"]
        frames.append(np.clip(img, 0, 255).round().astype(np.uint8))
    return frames


def _smooth_walk(rng, n, knots):
    """Smooth random path (n, 2) within about [-1, 1], starting at 0: a slow head drift."""
    pts = np.vstack([np.zeros((1, 2)), rng.uniform(-1, 1, (knots, 2))])
    x = np.linspace(0, knots, n)
    return np.stack([np.interp(x, np.arange(knots + 1), pts[:, k]) for k in range(2)], -1)


def _write_micro(root, identities, settings, progress):
    seed, size = settings["seed"], settings["size"]
    names = _subject_names(len(identities), False)
    total = len(identities) * settings["clips_per_subject"]
    emotions = _emotion_sequence(MICRO_EMOTION_SHARE, total, np.random.default_rng([seed, 11, 1]))
    rows, clips = [], []
    for s, (subject, ident) in enumerate(zip(names, identities)):
        srng = np.random.default_rng([seed, 11, 2, s])
        gain = float(np.clip(np.exp(srng.normal(0, SUBJECT_GAIN_SD)), *SUBJECT_GAIN_RANGE))
        for c in range(settings["clips_per_subject"]):
            rng = np.random.default_rng([seed, 11, 3, s, c])
            plan = _clip_plan(emotions[s * settings["clips_per_subject"] + c], rng, size, False, gain)
            clip = f"EP{c + 1:02d}_{int(rng.integers(1, 4)):02d}" + ("f" if rng.random() < 0.3 else "")
            folder = root / MICRO_FRAMES / f"sub{subject}" / clip
            folder.mkdir(parents=True, exist_ok=True)
            first = plan["first_frame"]
            for k, frame in enumerate(render_clip(ident, plan)):
                _imwrite(folder / f"img{first + k}.jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            onset, apex, offset = first, first + plan["apex_index"], first + plan["n_frames"] - 1
            rows.append([subject, clip, None, onset, apex, offset, None, au_text(plan), plan["emotion"]])
            clips.append({"subject": subject, "clip": clip, "subject_amplitude_gain": round(gain, 4),
                          "onset": onset, "apex": apex, "offset": offset, **plan})
        if progress:
            print(f"  sub{subject} ({ident.name}): {settings['clips_per_subject']} clips", file=sys.stderr)
    _write_sheet(root / MICRO_SHEET, rows)
    return clips


def _write_macro(root, identities, settings, progress):
    seed, size = settings["seed"], settings["size"]
    names = _subject_names(len(identities), True)
    total = len(identities) * settings["clips_per_subject"]
    emotions = _emotion_sequence(MACRO_EMOTION_SHARE, total, np.random.default_rng([seed, 13, 1]))
    clips = []
    for s, (subject, ident) in enumerate(zip(names, identities)):
        for c in range(settings["clips_per_subject"]):
            rng = np.random.default_rng([seed, 13, 3, s, c])
            plan = _clip_plan(emotions[s * settings["clips_per_subject"] + c], rng, size, True, 1.0)
            seq = f"{c + 1:03d}"
            folder = root / MACRO_FRAMES / subject / seq
            folder.mkdir(parents=True, exist_ok=True)
            frames = render_clip(ident, plan, macro=True)
            for k, frame in enumerate(frames):
                _imwrite(folder / f"{subject}_{seq}_{k + 1:08d}.png", cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), [])
            label_dir = root / MACRO_LABELS / subject / seq
            label_dir.mkdir(parents=True, exist_ok=True)
            code = CK_CODES[plan["emotion"]]
            (label_dir / f"{subject}_{seq}_{len(frames):08d}_emotion.txt").write_text(f"   {code:.7e}\n")
            clips.append({"subject": subject, "clip": seq, "ck_code": code, **plan})
        if progress:
            print(f"  {subject} ({ident.name}): {settings['clips_per_subject']} sequences", file=sys.stderr)
    return clips


def _imwrite(path: Path, rgb_or_grey: np.ndarray, params):
    img = rgb_or_grey if rgb_or_grey.ndim == 2 else cv2.cvtColor(rgb_or_grey, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(os.fspath(path), img, params):
        raise OSError(f"could not write {path}")


def _write_sheet(path: Path, rows):
    """The coding sheet in CASME II's layout: Sheet1, blank columns C and G, Subject as text."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
               "Action Units", "Estimated Emotion"])
    for row in rows:
        ws.append(row)
    for cell in ws["A"][1:]:
        cell.number_format = "@"  # text, like the original's '01'
    stamp = datetime.datetime(2014, 5, 8)
    wb.properties.created = wb.properties.modified = stamp
    buffer = io.BytesIO()
    wb.save(buffer)
    # re-zip with fixed entry times: the same seed gives the same bytes, the spreadsheet included
    buffer.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2014, 5, 8, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the save time
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2014-05-08T00:00:00Z", data)
            dst.writestr(fixed, data)
    Path(path).write_bytes(out.getvalue())
