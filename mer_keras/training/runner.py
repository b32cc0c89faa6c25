"""The LOSO runner: folds through an executor, resume from per-fold files, export for prediction.

A variant's folds are independent tasks (``FoldTask``): the runner builds them, hands the unfinished ones to
an executor (``SequentialExecutor`` here; the executor interface is ``map(fn, tasks)`` yielding results in
any order), writes each fold's predictions atomically as soon as it returns, and reads finished folds back
on a rerun, checking that each file holds exactly its fold's clips.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from .. import __version__
from ..datasets.manifest import ManifestError, stem_collisions
from ..datasets.schema import input_source
from ..errors import InputError
from ..evaluation import FoldStore, loso_folds
from ..files import atomic_write_json, subject_file_stem
from . import fold as fold_module
from .config import VariantConfig, to_plain
from .data import clip_ids, fingerprint, prepare_params
from .executors import SequentialExecutor
from .fold import FoldData
from .identity import export_identity
from .stages import TrainSet

logger = logging.getLogger("mer_keras")
SETUP_FILE = "setup.json"


@dataclass
class FoldTask:
    """Everything one fold needs; plain data, so an executor may run it in another process."""

    variant: VariantConfig
    subject: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    seed: int
    pretrain_path: Path | None
    macro_weights: Path | None


@dataclass
class LosoInputs:
    """Arrays aligned with the manifest rows: fine-tuning input, flow pre-training input (or None)."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    rows: pd.DataFrame
    num_classes: int
    x_pre: np.ndarray | None = None

    def fold(self, task: FoldTask) -> FoldData:
        tr, te = task.train_idx, task.test_idx
        return FoldData(
            train=TrainSet(self.x[tr], self.y[tr], self.groups[tr], self.num_classes), x_test=self.x[te],
            pretrain=None if self.x_pre is None else TrainSet(self.x_pre[tr], self.y[tr], self.groups[tr],
                                                              self.num_classes),
            held_out_labels=self.y[te] if task.variant.leaky else None,
            sequence=task.variant.preprocess.frames == "sequence")


def _progress_bar(total, desc):
    return tqdm(total=total, desc=desc, unit="fold", disable=None, leave=False, dynamic_ncols=True)


def run_variant(variant: VariantConfig, inputs: LosoInputs, run_dir: Path, seed: int, *, macro_weights=None,
                executor=None, extra_setup=None, subjects=None, tensorboard=None) -> pd.DataFrame | None:
    """All LOSO folds of one variant; finished folds of the same settings are read back, not recomputed.

    ``subjects`` runs only those folds (e.g. one per SLURM array job) and returns None while other folds
    are missing; a later run without it gathers every fold file. ``tensorboard`` (a folder) receives each
    fold's per-epoch loss, accuracy and learning rate, one run per fold and stage (in-process folds only)."""
    executor = executor or SequentialExecutor()
    store = FoldStore(run_dir, variant.name)
    folds = loso_folds(inputs.rows)
    collisions = stem_collisions(inputs.rows)
    if collisions:  # two folds would write one file: the later would overwrite the earlier
        raise ManifestError(collisions)
    check_same_setup(store.folder, setup_of(variant, seed, inputs, macro_weights, extra_setup))
    tasks = [FoldTask(variant, f.subject, f.train_idx, f.test_idx, seed,
                      Path(run_dir) / "pretrain" / variant.name / f"{subject_file_stem(f.subject)}.weights.h5",
                      macro_weights) for f in folds]
    if subjects:
        unknown = sorted(set(subjects) - {t.subject for t in tasks})
        if unknown:
            raise InputError(f"--subject {unknown[0]!r} is not a subject of this data; subjects: "
                             f"{', '.join(t.subject for t in tasks)}")
    todo = [t for t in tasks if not store.done(t.subject) and (not subjects or t.subject in subjects)]
    if len(todo) < len(tasks):
        logger.info("[%s] %d of %d folds already done, resuming", variant.name, len(tasks) - len(todo), len(tasks))
    bar = _progress_bar(len(tasks), variant.name)
    bar.update(len(tasks) - len(todo))
    t_start = time.perf_counter()

    writers = {}

    def progress(task, stage, epoch, epochs, logs):
        bar.set_postfix_str(f"{task.subject} {stage} {epoch + 1}/{epochs} loss {logs['loss']:.3f}")
        logger.debug("[%s] %s %s epoch %d/%d loss %.4f acc %.3f", variant.name, task.subject, stage,
                     epoch + 1, epochs, logs["loss"], logs["accuracy"])
        if tensorboard:
            key = (task.subject, stage)
            if key not in writers:
                writers[key] = tf.summary.create_file_writer(
                    str(Path(tensorboard) / variant.name / subject_file_stem(task.subject) / stage))
            with writers[key].as_default():
                for name, value in logs.items():
                    tf.summary.scalar(name, value, step=epoch)

    for done, (task, res) in enumerate(executor.run(todo, inputs, progress), 1):
        te = task.test_idx
        rows = inputs.rows.iloc[te][["dataset", "subject", "clip"]].copy()
        rows["y_true"] = inputs.y[te]
        rows["y_pred"] = res.y_pred
        for c in range(res.scores.shape[1] if res.scores.ndim == 2 else 0):
            rows[f"score_{c}"] = res.scores[:, c]
        atomic_write_json(store.path_for(task.subject).with_suffix(".json"),
                          {"history": res.history, "head": res.head_params, "timings": res.timings,
                           "load_report": res.load_report, "clips": len(te)})
        store.save(task.subject, rows)
        if res.history.get("collapse", {}).get("collapsed"):
            logger.warning("[%s] fold %s: COLLAPSE: the trained network predicts class %s for every training clip "
                           "in inference mode", variant.name, task.subject,
                           res.history["collapse"]["train_predicted_classes"][0])
        bar.update(1)
        now = time.perf_counter()
        eta = (now - t_start) / done * (len(todo) - done)
        # the fold's own stages (with --jobs N, the time since the previous fold ended is not the fold's time)
        fold_s = sum(v for k, v in res.timings.items() if k.endswith("_s"))
        logger.info("[%s] fold %d/%d %s: %d/%d correct, %.1fs (about %.1f min left)", variant.name,
                    len(tasks) - len(todo) + done, len(tasks), task.subject,
                    int((res.y_pred == inputs.y[te]).sum()), len(te), fold_s, eta / 60)
    bar.close()
    for writer in writers.values():
        writer.close()
    if not all(store.done(f.subject) for f in folds):
        return None
    return read_folds(store, inputs.rows, folds)


def read_folds(store: FoldStore, rows: pd.DataFrame, folds) -> pd.DataFrame:
    """Every fold file, each checked (checksum, clip ids) to hold exactly its held-out subject's clips."""
    parts = []
    for fold in folds:
        clips = [tuple(r) for r in rows.iloc[fold.test_idx][["dataset", "subject", "clip"]].astype(str).to_numpy()]
        parts.append(store.load(fold.subject, clips))
    return pd.concat(parts, ignore_index=True)


def setup_of(variant: VariantConfig, seed, inputs: LosoInputs, macro_weights, extra=None) -> dict:
    """Everything that decides a variant's fold results (inputs by hash), for the resume check."""
    return {"variant": to_plain(variant), "seed": seed, "package": __version__,
            "inputs": fingerprint({"x": inputs.x, "x_pre": inputs.x_pre}),
            "clips": fingerprint(clip_ids(inputs.rows)),
            "macro_weights": None if macro_weights is None else Path(macro_weights).name, **(extra or {})}


def check_same_setup(folder: Path, setup: dict) -> None:
    """Resume only what the same settings started: folds of another configuration, seed, input or clip
    list are never mixed into this run's pooled scores. A folder without finished folds (a run that
    crashed before its first fold ended) is simply restarted with the new settings."""
    path = folder / SETUP_FILE
    text = as_saved(setup)
    has_folds = folder.is_dir() and any(folder.glob("*.csv"))
    if path.is_file() and has_folds:
        old = json.loads(path.read_text())
        if old != text:
            changed = sorted(k for k in set(old) | set(text) if old.get(k) != text.get(k))
            if "variant" in changed:
                changed += [f"variant.{k}" for k in sorted(set(old["variant"]) | set(text["variant"]))
                            if old["variant"].get(k) != text["variant"].get(k)]
            raise InputError(f"{folder} holds folds run with other settings ({', '.join(changed)} differ); "
                             f"use another --out, or delete {folder} to recompute")
        return
    if has_folds:
        raise InputError(f"{folder} holds fold results without the {SETUP_FILE} that says how they were made; "
                         f"use another --out, or delete {folder} to recompute")
    atomic_write_json(path, text)


def as_saved(setup: dict) -> dict:
    """``setup`` as it reads back from its JSON file, so a saved and a fresh setup compare equal."""
    return json.loads(json.dumps(setup, sort_keys=True, default=str))


def export_model(variant: VariantConfig, inputs: LosoInputs, run_dir: Path, seed: int, *, classes, preprocess,
                 macro_weights=None, extra_setup=None) -> Path:
    """Train the variant on *all* subjects (no test subject left) and save weights + head for `predict`.

    The same stages as a fold (same pre-training input, same macro weights); an export made with other
    settings is recomputed, never reused.
    """
    if variant.finetune.members > 1:
        raise InputError(f"variant {variant.name!r} is an ensemble of {variant.finetune.members} networks "
                         "(finetune.members): an export holds one network; export it with "
                         "--set finetune.members=1")
    if variant.head.flip_test:
        raise InputError(f"variant {variant.name!r} averages each clip with its mirror (head.flip_test): `predict` "
                         "scores a clip once; export it with --set head.flip_test=false")
    if variant.preprocess.frames == "sequence":
        raise InputError(f"variant {variant.name!r} scores a clip by the mean over its frames "
                         "(preprocess.frames = 'sequence'): `predict` scores one image per clip; export it with "
                         "--set preprocess.frames=apex")
    out = Path(run_dir) / "export" / variant.name
    setup = as_saved(setup_of(variant, seed, inputs, macro_weights, extra_setup))
    if (out / "config.json").is_file() and (out / SETUP_FILE).is_file() \
            and json.loads((out / SETUP_FILE).read_text()) == setup:
        return out
    everyone = FoldTask(variant, "", np.arange(len(inputs.y)), np.arange(1), seed, out / "pretrain.weights.h5",
                        macro_weights)
    logger.info("[%s] exporting a model trained on all %d subjects", variant.name, len(np.unique(inputs.groups)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").unlink(missing_ok=True)
    data = inputs.fold(everyone)
    if variant.leaky:  # nothing is held out: the leaky rule has nothing to look at
        data.held_out_labels = inputs.y[:1]
    res = fold_module.run_fold(variant, data, seed=seed, macro_weights=macro_weights, pretrain_path=everyone.pretrain_path)
    res.model.save_weights(str(out / "model.weights.h5"))
    res.model.save(str(out / "model.keras"))
    if res.head is not None:
        joblib.dump(res.head, out / "head.joblib")
    else:
        (out / "head.joblib").unlink(missing_ok=True)
    atomic_write_json(out / SETUP_FILE, setup)
    identity = export_identity(out / "model.weights.h5", out / "head.joblib" if res.head is not None else None)
    atomic_write_json(out / "config.json",  # written last: its presence means the export is complete
                      {"model": variant.model, "identity": identity,
                       "preprocess": {"representation": preprocess.representation, **prepare_params(preprocess),
                                      "flow_centring": preprocess.flow_centring},
                       "input_source": input_source(inputs.rows), "classes": list(classes),
                       "head": variant.head.kind, "input_shape": list(inputs.x.shape[1:]),
                       "network": to_plain(variant.network)})
    return out
