"""`mer-keras predict`: clips (a manifest, a folder of clips, one clip folder or video) through an export.

The export (``reproduce --export``: ``model.weights.h5``, ``config.json``, ``head.joblib`` when its head
is an SVM) is checked and loaded once (``Export``), before any preprocessing: a missing weights file, a
pre-training checkpoint given instead of the model, weights of another architecture and a head file
that does not fit are each one named error. The head is the export's own by default (its SVM when
``config.json`` says ``head = "svm"``); ``softmax=True`` asks for the network's softmax instead.

A clip folder or video without ``apex`` gets its apex spotted (``preprocessing.spotting``: the frame of
peak face motion from the onset; ``apex="middle"`` takes the middle frame instead); ``apex="spot"`` also
re-spots a manifest's estimated (middle-frame) apexes. Each spotted clip's motion curve is written as a CSV
with its PNG beside it (``<clip>.motion.csv`` / ``.png``) beside the ``out`` CSV, or in ``figures`` without one;
``figures`` also receives one PNG per clip: its aligned apex face, the flow as an HSV colour wheel and the
per-class scores (``evaluation.plots.plot_clip_figure``).

A clip whose onset equals its apex has no motion to classify (a folder of one or two frames gives that
with the middle apex): it is refused unless ``allow_zero_motion``. Every prediction reports its
``apex_source`` (``annotated`` when given, ``spotted`` or ``middle`` when estimated, the manifest's otherwise).
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..datasets.clips import (  # noqa: F401 (importable here as before)
    VIDEO_SUFFIXES,
    clip_manifest,
    clips_manifest,
    is_manifest,
    video_to_frames,
)
from ..datasets.manifest import write_manifest
from ..datasets.schema import input_source, is_precomputed
from ..errors import ConfigError, InputError
from ..files import atomic_write_bytes
from ..preprocessing.defaults import COMMON, FLOW
from ..preprocessing.representations import compute, normalize_params
from ..preprocessing.spotting import spot_apexes
from .data import prepared, preprocess_from_dict
from .identity import check_export_identity

PRETRAIN_NAMES = ("pretrain.weights.h5",)
APEX_RULES = ("spot", "middle")
"""Apex of a clip without annotation: spotted (the default) or the middle frame; an integer is annotated."""
logger = logging.getLogger("mer_keras")


def _apex_rule(apex):
    """``apex`` checked: None, an apex rule (``APEX_RULES``) or a 0-based position."""
    if apex is None or isinstance(apex, (int, np.integer)) and not isinstance(apex, bool):
        return apex
    if isinstance(apex, str) and apex.strip().lower() in APEX_RULES:
        return apex.strip().lower()
    if isinstance(apex, str) and apex.strip().lstrip("-").isdigit():
        return int(apex)
    raise ConfigError(f"apex must be a 0-based frame position or one of {APEX_RULES}, got {apex!r}")


def check_motion(rows: pd.DataFrame, allow_zero_motion: bool = False) -> None:
    """Refuse rows whose onset is their apex (no motion) unless allowed; precomputed rows carry no frames."""
    if allow_zero_motion or "onset_idx" not in rows or is_precomputed(rows):
        return
    same = rows[pd.to_numeric(rows["onset_idx"], errors="coerce") == pd.to_numeric(rows["apex_idx"], errors="coerce")]
    if len(same):
        names = ", ".join(f"{r.subject}/{r.clip}" for r in same.head(5).itertuples())
        raise InputError(f"{len(same)} clip(s) have onset = apex, so there is no motion to classify ({names}); "
                         "give --apex (a clip folder needs at least 3 frames for a middle apex after the onset) "
                         "or pass --allow-zero-motion")


@dataclass
class Export:
    """An export loaded once: config, network, head (None = softmax) and the time it took."""

    weights: Path
    config: dict
    model: object
    head: object = None
    head_path: Path | None = None
    load_s: float = 0.0
    loads: int = 1
    embedding: object = field(default=None, repr=False)

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def head_kind(self) -> str:
        return "svm" if self.head is not None else "softmax"


def load_export(weights, head=None, config=None, softmax: bool = False) -> Export:
    """Check and load an export (module doc); every failure is an ``InputError`` naming the file."""
    import joblib

    t = time.perf_counter()
    weights = Path(weights)
    if weights.name in PRETRAIN_NAMES:
        raise InputError(f"{weights}: this is the flow pre-training checkpoint, not the exported model; use "
                         f"{weights.with_name('model.weights.h5')}")
    if not weights.is_file():
        raise InputError(f"{weights}: weights file does not exist (expected model.weights.h5 from "
                         "`mer-keras reproduce --export`)")
    config = Path(config) if config else weights.with_name("config.json")
    if not config.is_file():
        raise InputError(f"{config}: the export's config.json (model, preprocessing, classes) is needed beside "
                         "the weights, or give --config")
    try:
        cfg = json.loads(config.read_text())
        model_name, n_classes = cfg["model"], len(cfg["classes"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{config}: not an export config.json ({e})") from None
    own_head = weights.with_name("head.joblib") if cfg.get("head", "softmax") == "svm" else None
    check_export_identity(cfg, config, weights, None if softmax else Path(head) if head is not None else own_head)
    # Keras is imported once the files are known to belong together
    from .networks import build_exported

    model = build_exported(cfg)
    what = (f"{weights}: these weights do not fit {model_name} with input {cfg.get('input_shape')} and "
            f"{n_classes} classes as {config.name} describes (another architecture or export?)")
    differences = _layout_differences(model, weights)
    if differences:  # Keras loads a file with extra entries silently: compare the layouts first
        raise InputError(f"{what}: {differences}")
    try:
        model.load_weights(str(weights))
    except (ValueError, KeyError, OSError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise InputError(f"{what}: {first}") from None
    clf, head_path = None, None
    if not softmax:
        if head is not None:
            head_path = Path(head)
        elif cfg.get("head", "softmax") == "svm":
            head_path = weights.with_name("head.joblib")
            if not head_path.is_file():
                raise InputError(f"{head_path}: the export's head is an SVM (config.json) but head.joblib is "
                                 "missing; give --head, or --softmax to use the network's own classifier")
        if head_path is not None:
            clf = _load_head(head_path, n_classes, joblib)
    out = Export(weights, cfg, model, clf, head_path, time.perf_counter() - t)
    if clf is not None:
        from ..models import embedding_model

        out.embedding = embedding_model(model)
        width = int(out.embedding.output.shape[-1])
        n_in = getattr(clf, "n_features_in_", width)
        if n_in != width:
            raise InputError(f"{head_path}: this head takes {n_in} features but {model_name} gives {width}; it "
                             "belongs to another export")
    return out


def _h5_layout(path) -> dict:
    import h5py

    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: layout.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset) else None)
    return layout


def _layout_differences(model, weights: Path) -> str:
    """'' when the weights file holds exactly the model's variables (names and shapes), else a summary."""
    try:
        found = _h5_layout(weights)
    except OSError as e:
        return f"not a Keras weights file ({e})"
    with tempfile.TemporaryDirectory() as tmp:
        model.save_weights(str(Path(tmp) / "expected.weights.h5"))
        expected = _h5_layout(Path(tmp) / "expected.weights.h5")
    # a model saved after training also carries its optimizer's state, which inference does not use
    found = {k: v for k, v in found.items() if not k.startswith("optimizer/")}
    expected = {k: v for k, v in expected.items() if not k.startswith("optimizer/")}
    extra = sorted(set(found) - set(expected))
    absent = sorted(set(expected) - set(found))
    shapes = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
    if not (extra or absent or shapes):
        return ""
    parts = [f"{len(v)} {label}, first {v[0]}" for label, v in (("entries the model does not have", extra),
             ("model weights missing", absent), ("weights of another shape", shapes)) if v]
    return "; ".join(parts)


def _load_head(path: Path, n_classes: int, joblib):
    if not path.is_file():
        raise InputError(f"{path}: head file does not exist")
    try:
        clf = joblib.load(path)
    except Exception as e:  # noqa: BLE001 (joblib/pickle raise many types for a file that is not theirs)
        raise InputError(f"{path}: cannot be read as a head saved by `reproduce --export` ({type(e).__name__}: {e})") \
            from None
    classes = getattr(clf, "classes_", None)
    if not hasattr(clf, "predict") or classes is None:
        raise InputError(f"{path}: not a fitted classifier (no predict / classes_)")
    bad = [c for c in np.asarray(classes).tolist() if not (isinstance(c, (int, np.integer)) and 0 <= c < n_classes)]
    if bad:
        raise InputError(f"{path}: its classes {np.asarray(classes).tolist()} are not the export's class indices "
                         f"0..{n_classes - 1}; it belongs to another export")
    return clf


def check_input_source(rows: pd.DataFrame, export: Export) -> None:
    """An export trained on precomputed files predicts rows of such files, one trained on frames rows of frames
    (``datasets.schema.input_source``): the other kind would reach the network scaled otherwise. Exports written before
    the export recorded it are not checked."""
    trained_on = export.config.get("input_source")
    given = input_source(rows)
    if trained_on is None or trained_on == given:
        return
    if trained_on == "precomputed":
        raise InputError(f"{export.weights.parent}: this model was trained on precomputed input files (read and "
                         "scaled as those files were); these clips are frames, whose inputs would be computed and "
                         "scaled otherwise. Predict on the same kind of files (a manifest from `mer-keras manifest "
                         "precomputed`), or export a model trained on frames")
    raise InputError(f"{export.weights.parent}: this model was trained on inputs computed from frames; these rows "
                     "are precomputed files, whose scaling may differ. Predict on frame clips, or export a model "
                     "trained on precomputed files of this kind")


def predict_rows(rows: pd.DataFrame, export: Export, cache=None, *, allow_zero_motion=False,
                 n_jobs: int = 1, progress: bool = False) -> pd.DataFrame:
    """One prediction per manifest row, with per-class scores and per-stage timings (seconds).

    Timing columns: ``preprocess_s``, ``network_s``, ``head_s`` are each row's share of the batch's time;
    ``load_s`` and ``model_loads`` are the export's (the same on every row: it was loaded once).
    """
    check_motion(rows, allow_zero_motion)
    check_input_source(rows, export)
    n = len(rows)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        x, _ = prepared(rows, preprocess_from_dict(export.config["preprocess"]), Path(cache or tmp),
                        progress=progress, n_jobs=n_jobs, allow_zero_motion=allow_zero_motion)
        preprocess_s = time.perf_counter() - t
    expected = tuple(export.config.get("input_shape") or x.shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise InputError(f"prepared inputs have shape {x.shape[1:]} but the model takes {expected}")
    t = time.perf_counter()
    classes = export.classes
    if export.head is not None:
        feats = np.asarray(export.embedding.predict(x, verbose=0, batch_size=32))
        network_s = time.perf_counter() - t
        t = time.perf_counter()
        pred = np.asarray(export.head.predict(feats)).astype(int)
        scores = np.asarray(export.head.decision_function(feats), dtype=float)
        if scores.ndim == 1:  # binary SVM: one margin, positive = classes_[1]
            scores = np.stack([-scores, scores], axis=1)
        order = list(np.asarray(export.head.classes_).tolist())
        full = np.full((n, len(classes)), np.nan)
        full[:, order] = scores
        scores, head_output = full, "decision"
        head_s = time.perf_counter() - t
    else:
        scores = np.asarray(export.model.predict(x, verbose=0, batch_size=32), dtype=float)
        network_s, head_s, head_output = time.perf_counter() - t, 0.0, "probability"
        pred = scores.argmax(axis=1)
    out = pd.DataFrame({
        "dataset": rows["dataset"].astype(str).to_numpy(), "subject": rows["subject"].astype(str).to_numpy(),
        "clip": rows["clip"].astype(str).to_numpy(),
        "true_class": rows["class_name"].astype(str).to_numpy() if "class_name" in rows else "",
        "predicted": [classes[int(k)] for k in pred], "predicted_label": pred.astype(int),
        "head": export.head_kind, "head_output": head_output,
    })
    for k, name in enumerate(classes):
        out[f"score_{name}"] = scores[:, k]
    for col in ("apex_source", "onset_idx", "apex_idx"):
        out[col] = rows[col].to_numpy() if col in rows else None
    out["preprocess_s"] = preprocess_s / max(n, 1)
    out["network_s"] = network_s / max(n, 1)
    out["head_s"] = head_s / max(n, 1)
    out["load_s"] = export.load_s
    out["model_loads"] = export.loads
    return out


def _clip_stems(rows: pd.DataFrame) -> list[str]:
    """A file-name stem per row: the clip for a clip folder or video, else ``<subject>_<clip>``; unique."""
    stems, seen = [], set()
    for r in rows.itertuples():
        raw = str(r.clip) if str(r.dataset) == "clip" else f"{r.subject}_{r.clip}"
        stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in raw) or "clip"
        n, unique = 1, stem
        while unique in seen:
            n += 1
            unique = f"{stem}_{n}"
        seen.add(unique)
        stems.append(unique)
    return stems


def write_curves(curves: dict, rows: pd.DataFrame, folder) -> dict:
    """Each spotted row's motion curve as ``<stem>.motion.csv`` with its PNG beside it; {row index: PNG path}."""
    from ..evaluation.plots import plot_motion_curve

    folder, stems, written = Path(folder), _clip_stems(rows), {}
    for i, spot in curves.items():
        table = spot.table()
        stem = stems[rows.index.get_loc(i)]
        atomic_write_bytes(folder / f"{stem}.motion.csv", table.to_csv(index=False).encode())
        title = f"{spot.clip}: spotted apex frame {table.loc[table['apex'], 'frame'].item()} ({spot.face} face)"
        written[i] = str(plot_motion_curve(table, folder / f"{stem}.motion.png", title=title))
    return written


def _brighter(flow_rgb: np.ndarray, bound: float):
    """The HSV flow picture with its brightness stretched so the clip's 99th-percentile motion is full
    (micro-motion is dark at the model's ``flow_bound``), and the motion in px that full brightness means."""
    hsv = cv2.cvtColor(np.asarray(flow_rgb, np.float32), cv2.COLOR_RGB2HSV)
    value = hsv[..., 2]
    top = float(np.percentile(value[value > 0], 99)) if (value > 0).any() else 0.0
    if top > 0:
        hsv[..., 2] = np.clip(value / top, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), bound * (top or 1.0)


def _clip_pictures(row, preprocess: dict):
    """(apex face, HSV flow picture, notes, full-brightness motion in px) of one row at the export's alignment
    and flow settings."""
    if is_precomputed(pd.DataFrame([row])):
        note = "precomputed input, no frames"
        return None, None, (note, note), None
    common = {k: preprocess[k] for k in COMMON if k in preprocess}
    common["grayscale"] = False
    if common.get("on_no_face") == "previous":  # needs the clip before it; the figure centres instead
        common["on_no_face"] = "center"
    flow = {k: preprocess[k] for k in FLOW if k in preprocess}
    pictures, notes = [], []
    for name, params in (("apex", {**common, "align_on": "onset"}), ("flow_hsv", {**common, **flow})):
        try:
            pictures.append(compute(row, name, normalize_params(name, params))[0])
            notes.append("")
        except InputError as e:
            logger.warning("figure of %s/%s: %s", row["subject"], row["clip"], e)
            pictures.append(None)
            notes.append(str(e))
    full = None
    if pictures[1] is not None:
        p = normalize_params("flow_hsv", {**common, **flow})
        pictures[1], full = _brighter(pictures[1], p["flow_bound"] or p["size"] / 56.0)
    return pictures[0], pictures[1], tuple(notes), full


def write_figures(result: pd.DataFrame, rows: pd.DataFrame, export: Export, folder) -> list[str]:
    """One PNG per clip in ``folder`` (``<stem>.png``): apex face, HSV flow, per-class scores."""
    from ..evaluation.plots import plot_clip_figure

    folder, paths = Path(folder), []
    classes = export.classes
    for k, (stem, (_, row)) in enumerate(zip(_clip_stems(rows), rows.iterrows())):
        face, flow, notes, full = _clip_pictures(row, export.config["preprocess"])
        res = result.iloc[k]
        scores = [float(res[f"score_{c}"]) for c in classes]
        apex = "" if pd.isna(res["apex_idx"]) else f", apex position {int(res['apex_idx'])} ({res['apex_source']})"
        title = f"{row['subject']}/{row['clip']}: {res['predicted']}{apex}"
        label = "SVM decision value" if res["head_output"] == "decision" else "softmax probability"
        flow_title = "flow onset->apex" + (f"\n(hue: direction; full brightness: {full:.2g} px)" if full else "")
        paths.append(str(plot_clip_figure(face, flow, classes, scores, folder / f"{stem}.png", title, label, notes,
                                          flow_title=flow_title)))
    return paths


def predict(source, weights, head=None, config=None, *, softmax=False, onset=None, apex=None, cache=None,
            allow_zero_motion=False, out=None, figures=None, spot_config=None) -> pd.DataFrame:
    """Predict every clip of ``source`` (manifest CSV or DataFrame, clip folder, video, folder of clips).

    The export is checked and loaded first (nothing is preprocessed for a wrong weights file); ``out``
    writes the CSV (``predict_rows`` columns plus ``motion_curve`` and ``figure``, the PNGs written for
    the row or ''); apexes, curves and ``figures`` as the module doc says; ``spot_config`` a ``SpotConfig``."""
    apex = _apex_rule(apex)
    export = load_export(weights, head=head, config=config, softmax=softmax)
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        if isinstance(source, pd.DataFrame):
            if onset is not None or apex not in (None, "spot"):
                raise InputError("onset/apex N (or middle) apply to one clip; a manifest gives each row's own")
            rows = source.reset_index(drop=True)
        else:
            rows = clips_manifest(source, Path(tmp), onset, apex)
        if apex == "spot" or (apex is None and not is_manifest(source)):
            rows = spot_apexes(rows, spot_config, curves=curves)
        read_s = time.perf_counter() - t
        result = predict_rows(rows, export, cache, allow_zero_motion=allow_zero_motion)
        result.insert(result.columns.get_loc("preprocess_s"), "read_s", read_s / max(len(rows), 1))
        curve_dir = Path(out).parent if out is not None else figures
        result["motion_curve"] = ""
        if curves and curve_dir is None:
            logger.info("%d spotted motion curve(s) not written: give out= (--out) or figures= (--figures)",
                        len(curves))
        elif curves:
            for i, png in write_curves(curves, rows, curve_dir).items():
                result.loc[rows.index.get_loc(i), "motion_curve"] = png
        result["figure"] = write_figures(result, rows, export, figures) if figures is not None else ""
    if out is not None:
        write_manifest(result, out)  # atomic CSV write
    return result


def predict_clip(clip, weights, head=None, config=None, onset=None, apex=None, cache=None, *, softmax=False,
                 allow_zero_motion=False, figures=None) -> dict:
    """Class prediction for one clip (frame folder or video) with the time of each stage (seconds)."""
    res = predict(clip, weights, head=head, config=config, softmax=softmax, onset=onset, apex=apex, cache=cache,
                  allow_zero_motion=allow_zero_motion, figures=figures)
    row = res.iloc[0]
    classes = [c[len("score_"):] for c in res.columns if c.startswith("score_")]
    scores = [float(row[f"score_{c}"]) for c in classes]
    out = {"classes": classes, "predicted": row["predicted"], "head": row["head"],
           ("decision_values" if row["head_output"] == "decision" else "probabilities"): scores,
           "times": {k: float(row[k]) for k in ("read_s", "preprocess_s", "load_s", "network_s", "head_s")},
           "apex_source": row["apex_source"], "motion_curve": row["motion_curve"] or None,
           "figure": row["figure"] or None}
    for k in ("onset_idx", "apex_idx"):
        out[k] = None if pd.isna(row[k]) else int(row[k])
    return out
