"""One LOSO fold of a variant: pre-train -> fine-tune -> head -> predictions for the held-out subject.

``FoldData`` keeps the training arrays apart from the held-out inputs; the held-out labels travel only in
``held_out_labels``, which the runner fills for the leaky ``best_test_accuracy`` checkpoint alone (the
results mark such a variant as leaky).
"""
from __future__ import annotations

import dataclasses
import itertools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from ..preprocessing.augment import hflip
from .config import VariantConfig
from .embeddings import batched_outputs
from .heads import head_for
from .stages import PRETRAIN_STAGES, TrainSet, array_kind, finetune

MEMBER_SEED_STEP = 1000
"""Seed distance between the members of a ``finetune.members`` ensemble (member k: seed + 1000 k)."""


@dataclass
class FoldData:
    """Arrays of one fold: the training set, its flow pre-training input (same clips), the held-out inputs.

    ``sequence``: ``train.x`` and ``x_test`` hold (clips, frames, ...) (``preprocess.frames = "sequence"``);
    ``run_fold`` trains on every frame and scores a held-out clip by the mean of its frames' scores."""

    train: TrainSet
    x_test: np.ndarray
    pretrain: TrainSet | None = None
    held_out_labels: np.ndarray | None = None
    sequence: bool = False


@dataclass
class FoldResult:
    y_pred: np.ndarray
    scores: np.ndarray
    history: dict = field(default_factory=dict)
    head_params: dict = field(default_factory=dict)
    load_report: str = ""
    timings: dict = field(default_factory=dict)
    model: object = None
    head: object = None


def frames_as_samples(data: FoldData) -> FoldData:
    """A sequence fold (``data.sequence``) with each frame a sample: training frames carry their clip's label
    and subject (so every subject-grouped inner split keeps a clip's frames together), held-out frames are
    listed clip by clip (``clip_scores`` averages them back). A pre-training input that is itself a sequence is
    expanded the same way; a per-clip one (the flow) is kept."""
    tr = data.train
    frames = tr.x.shape[1]

    def spread(s: TrainSet) -> TrainSet:
        if s.x.ndim != tr.x.ndim:
            return s
        n = s.x.shape[1]
        return TrainSet(s.x.reshape(-1, *s.x.shape[2:]), np.repeat(s.y, n), np.repeat(s.groups, n), s.num_classes)

    return FoldData(train=spread(tr), x_test=data.x_test.reshape(-1, *data.x_test.shape[2:]),
                    pretrain=None if data.pretrain is None else spread(data.pretrain),
                    held_out_labels=None if data.held_out_labels is None else np.repeat(data.held_out_labels, frames))


def decide(scores: np.ndarray) -> np.ndarray:
    """The class each row of averaged scores (SVM decision values or softmax) picks; a two-class SVM gives one
    decision value per clip, positive for class 1."""
    scores = np.asarray(scores)
    return (scores.argmax(axis=1) if scores.ndim == 2 else (scores > 0)).astype(int)


def clip_scores(frame_scores: np.ndarray, clips: int) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, scores) of ``clips`` clips from their frames' scores, listed clip by clip: the mean score
    (SVM decision function or softmax) of each clip's frames decides."""
    frame_scores = np.asarray(frame_scores)
    scores = frame_scores.reshape(clips, -1, *frame_scores.shape[1:]).mean(axis=1)
    return decide(scores), scores


def run_fold(variant: VariantConfig, data: FoldData, *, seed=0, macro_weights=None,
             pretrain_path: Path | None = None, progress=None) -> FoldResult:
    """Train on the fold's training data, predict the held-out inputs. See the module docstring."""
    if data.sequence:  # paper 000's sequence reading: frames train, a clip's frames vote by their mean score
        clips = len(data.x_test)
        res = run_fold(variant, frames_as_samples(data), seed=seed, macro_weights=macro_weights,
                       pretrain_path=pretrain_path, progress=progress)
        res.y_pred, res.scores = clip_scores(res.scores, clips)
        res.timings["predict_ms_per_sample"] = 1000 * res.timings["predict_s"] / max(clips, 1)
        return res
    timings, history, chosen = {}, {}, {}
    if variant.finetune.grid_search:
        t = time.perf_counter()
        point, inner_f1 = choose_hyperparameters(variant, data, seed=seed, macro_weights=macro_weights)
        variant = dataclasses.replace(variant, finetune=dataclasses.replace(variant.finetune, grid_search=False,
                                                                            **point))
        chosen = dict(point, inner_f1_macro=inner_f1)
        timings["grid_search_s"] = time.perf_counter() - t
    kind = variant.pretrain.kind
    pretrained = macro_weights
    if kind == "macro" and macro_weights is None:
        raise ValueError("pretrain kind 'macro' needs the macro-expression weights (macro_weights)")
    if kind == "flow":
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mer_keras_pretrain_") as scratch:
            path = pretrain_path or Path(scratch) / "pretrain.weights.h5"
            pretrained, history["pretrain"] = PRETRAIN_STAGES["flow"].run(
                variant, data.pretrain or data.train, seed=seed, weights_path=path,
                progress=progress and (lambda e, n, logs: progress("pre-train", e, n, logs)))
            timings["pretrain_s"] = time.perf_counter() - t
            return _finish(variant, data, seed, pretrained, history, timings, chosen, progress)
    return _finish(variant, data, seed, pretrained, history, timings, chosen, progress)


class Member(NamedTuple):
    """One fine-tuned network of a fold, its head and its held-out predictions. The networks of one
    architecture share a model object (``networks.fresh_model``), so a member's ``model`` holds the weights of
    the last member trained: its scores are computed before the next member starts."""

    model: object
    head: object
    history: dict
    timings: dict
    y_pred: np.ndarray
    scores: np.ndarray


def _finish(variant, data, seed, pretrained, history, timings, chosen, progress) -> FoldResult:
    members = [_member(variant, data, seed + MEMBER_SEED_STEP * k, pretrained, progress)
               for k in range(variant.finetune.members)]
    first = members[0]
    load_report = first.history.pop("load_report")
    history.update(first.history)
    timings.update(first.timings)
    y_pred, scores = first.y_pred, first.scores
    if len(members) > 1:  # our ensemble recipe: the mean of the members' scores decides
        scores = np.mean([m.scores for m in members], axis=0)
        y_pred = decide(scores)
        history["members"] = [{"seed": seed + MEMBER_SEED_STEP * k, "collapse": m.history.get("collapse"),
                               "probe_uar": m.history["finetune"].get("probe_uar"),
                               "finetune_loss": m.history["finetune"].get("loss")} for k, m in enumerate(members)]
        for key in ("finetune_s", "head_s", "predict_s"):
            timings[key] = sum(m.timings.get(key, 0.0) for m in members)
    timings["predict_ms_per_sample"] = 1000 * timings["predict_s"] / max(len(data.x_test), 1)
    params = first.head.params()
    if len(members) > 1:
        params["members"] = [m.head.params() for m in members]
    if chosen:
        params["grid_search"] = chosen
    return FoldResult(y_pred=np.asarray(y_pred, dtype=int), scores=np.asarray(scores), history=history,
                      head_params=params, load_report=load_report, timings=timings,
                      model=first.model, head=first.head.estimator)


def _member(variant, data, seed, pretrained, progress) -> Member:
    """One fine-tuned network and its head, with the held-out predictions (see ``Member``)."""
    history, timings = {}, {}
    t = time.perf_counter()
    monitor = (data.x_test, data.held_out_labels) if variant.finetune.checkpoint == "best_test_accuracy" else None
    model, history["finetune"], history["load_report"] = finetune(
        variant, data.train, seed=seed, pretrained=pretrained, held_out_monitor=monitor,
        progress=progress and (lambda e, n, logs: progress("fine-tune", e, n, logs)))
    timings["finetune_s"] = time.perf_counter() - t
    if variant.finetune.epochs:  # a network that trained: does it still tell classes apart at inference?
        t = time.perf_counter()
        history["collapse"] = collapse_check(model, data.train)
        timings["collapse_check_s"] = time.perf_counter() - t
    t = time.perf_counter()
    head = head_for(variant).fit(variant, model, data.train, seed=seed, history=history["finetune"])
    timings["head_s"] = time.perf_counter() - t
    t = time.perf_counter()
    leaky_rule = variant.head.output_rule == "test_loss_leaky"  # LEAKY: the paper 001 rule reads test labels
    held_out_labels = data.held_out_labels if leaky_rule else None
    y_pred, scores = head.predict(data.x_test, held_out_labels=held_out_labels)
    if variant.head.flip_test:  # test-time augmentation: the clip and its mirror vote with equal weight
        mirrored = hflip(data.x_test, array_kind(variant.preprocess.representation))
        scores = (np.asarray(scores) + np.asarray(head.predict(mirrored, held_out_labels=held_out_labels)[1])) / 2
        y_pred = decide(scores)
    timings["predict_s"] = time.perf_counter() - t
    return Member(model, head, history, timings, y_pred, scores)


def collapse_check(model, train: TrainSet) -> dict:
    """Whether the trained network, in inference mode (BatchNorm's moving statistics, no dropout), predicts a
    single class for every *training* clip although the training fold holds several: a collapse (issue 21; seen
    on SynthME after a few dozen steps, when the moving statistics have not caught up). Training clips only,
    so nothing of the held-out subject is read; several outputs are averaged."""
    scores = batched_outputs(model, train.x)
    if scores.ndim == 3:
        scores = scores.mean(axis=0)
    predicted = np.unique(scores.argmax(axis=-1))
    return {"train_predicted_classes": predicted.tolist(),
            "collapsed": bool(len(predicted) == 1 and len(np.unique(train.y)) > 1)}


def choose_hyperparameters(variant: VariantConfig, data: FoldData, *, seed=0, macro_weights=None):
    """Paper 004's grid search over batch size / learning rate / epochs, inside the training fold only.

    Each grid point is scored by macro F1 over subject-grouped inner splits of the *training* subjects (the
    whole inner pipeline, pre-training and head included, runs on inner-training subjects); the held-out
    subject is never seen. Returns the best point and its inner macro F1.
    """
    ft = variant.finetune
    grid = {k: list(v) for k, v in ft.grid.items()}
    if not grid:
        raise ValueError("finetune.grid_search is on but finetune.grid is empty (e.g. batch_size = [32, 64])")
    train = data.train
    n_splits = min(ft.grid_inner_splits, len(np.unique(train.groups)))
    if n_splits < 2:
        raise ValueError("the grid search needs at least two training subjects")
    splits = list(GroupKFold(n_splits=n_splits).split(train.x, train.y, train.groups))
    best, best_score = None, -1.0
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values))
        inner_variant = dataclasses.replace(
            variant, finetune=dataclasses.replace(ft, grid_search=False, checkpoint="last", **point))
        y_true, y_pred = [], []
        for tr, va in splits:
            inner = FoldData(train=train.subset(tr), x_test=train.x[va],
                             pretrain=None if data.pretrain is None else data.pretrain.subset(tr))
            y_true.append(train.y[va])
            y_pred.append(run_fold(inner_variant, inner, seed=seed, macro_weights=macro_weights).y_pred)
        score = f1_score(np.concatenate(y_true), np.concatenate(y_pred), average="macro")
        if score > best_score:
            best, best_score = point, score
    return best, float(best_score)
