"""The stages of a variant, each receiving only what it may see.

``PRETRAIN_STAGES`` (``none``, ``flow``, ``macro``) produce weights for the fine-tuning network;
``finetune`` trains on the fold's training arrays; ``heads.HEADS`` (``svm``, ``softmax``) turn the network
into predictions. No stage receives a held-out label except through the explicit ``held_out_monitor`` argument
of ``finetune``, used only by the leaky ``best_test_accuracy`` checkpoint that papers used, so the leak is
visible in every call that makes it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from ..errors import ConfigError
from ..models import GradualUnfreezing, load_pretrained
from ..preprocessing.augment import (
    balance_by_flipping,
    balance_by_random_transforms,
    hflip,
    shift,
)
from ..preprocessing.augment_color import augment_color
from ..preprocessing.defaults import FLOW_VECTOR_REPRESENTATIONS
from .batchnorm import recompute_batchnorm_statistics
from .config import FinetuneConfig, PretrainConfig, VariantConfig
from .embeddings import batched_outputs
from .fit import train_classifier
from .heads import SoftmaxHead, SVMHeadStage  # noqa: F401 (importable here as before)
from .networks import fresh_model, head_layer_names, set_seed
from .probes import embedding_probe, pixel_probe

logger = logging.getLogger("mer_keras")

CURVE_POINTS = 25
"""Inner-validation evaluations of a stage that keeps its last epoch (``last_inner_val``): the report's curve
needs no more, and one per epoch would cost 5-8 % of a 100-epoch STSTNet fold (``bench_stage_report.py``)."""


@dataclass
class TrainSet:
    """Training arrays of one fold (or of the macro-expression corpus): inputs, labels, subjects."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    num_classes: int

    def subset(self, index) -> TrainSet:
        return TrainSet(self.x[index], self.y[index], self.groups[index], self.num_classes)


def array_kind(representation: str) -> str:
    """What the channels hold, so a mirrored flow image also mirrors its vectors."""
    if representation in FLOW_VECTOR_REPRESENTATIONS:
        return "flow"
    return "flow_hsv" if representation == "flow_hsv" else "image"


def intensity_shift(sample: np.ndarray, delta: float) -> np.ndarray:
    """``sample`` (values in [0, 1]) plus ``delta`` grey levels of 255, clipped to the sample's own range: Keras
    2.2.4's ``channel_shift_range`` (one offset for the whole image, ``np.clip(x + d, x.min(), x.max())``)."""
    return np.clip(sample + np.float32(delta / 255.0), sample.min(), sample.max()).astype(sample.dtype)


def jitter(max_shift: int, p_shift: float, p_flip: float, kind: str, color=False, pixel="shift"):
    """Per-batch augmentation (training data only): each sample shifted by up to ``max_shift`` px with
    probability ``p_shift`` (``pixel = "intensity"``: its grey levels moved by up to ``max_shift`` of 255
    instead, ``intensity_shift``) and mirrored with probability ``p_flip``, or paper 003's colour jitter,
    grayscale, flip and rotation (``color``); None when it would do nothing."""
    if color:
        return augment_color
    if pixel not in ("shift", "intensity"):
        raise ConfigError(f"pixel jitter must be 'shift' or 'intensity', got {pixel!r}")
    if pixel == "intensity" and max_shift and p_shift and kind != "image":
        raise ConfigError(f"an intensity jitter moves grey levels of images, not {kind} arrays")
    if not (max_shift and p_shift) and not p_flip:
        return None

    def augment(xb, rng):
        out = np.empty_like(xb)
        for i, sample in enumerate(xb):
            if max_shift and rng.random() < p_shift:
                if pixel == "intensity":
                    sample = intensity_shift(sample, float(rng.uniform(-max_shift, max_shift)))
                else:
                    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
                    sample = shift(sample, int(dy), int(dx))
            if rng.random() < p_flip:
                sample = hflip(sample, kind)
            out[i] = sample
        return out

    return augment


def inner_split(train: TrainSet, fraction: float, seed: int):
    """Subject-grouped (train, validation) indices inside the training data, or None with one subject."""
    if len(np.unique(train.groups)) < 2:
        return None
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    return next(splitter.split(train.x, train.y, train.groups))


def train(model, data: TrainSet, section, *, seed, kind, callbacks=(), epoch_end=None, progress=None,
          epochs=None, batch_size=None, learning_rate=None):
    """One training run of ``model`` on ``data`` under a pre-training or fine-tuning section."""
    is_finetune = isinstance(section, FinetuneConfig)
    return train_classifier(
        model, data.x, data.y, num_classes=data.num_classes, epochs=epochs or section.epochs,
        batch_size=batch_size or section.batch_size, optimizer=section.optimizer,
        learning_rate=learning_rate or section.learning_rate, momentum=section.momentum,
        balanced=section.balanced,
        augment=jitter(section.max_shift, getattr(section, "p_shift", 1.0), section.p_flip, kind,
                       color=is_finetune and section.color_jitter, pixel=getattr(section, "pixel_jitter", "shift")),
        reduce_lr_on_plateau=is_finetune and section.reduce_lr_on_plateau, callbacks=callbacks, seed=seed,
        epoch_end=epoch_end, label_smoothing=section.label_smoothing if is_finetune else 0.0, progress=progress,
        order=getattr(section, "batch_order", "shuffled"), last_batch=getattr(section, "last_batch", "fill"),
        epsilon=getattr(section, "adam_epsilon", 1e-7), ema_momentum=getattr(section, "ema_momentum", 0.0),
        sampling=getattr(section, "balanced_sampling", "oversample"))


def settle_batchnorm(model, x, section) -> None:
    """``section.bn_statistics = "recomputed"``: BatchNorm's inference statistics recomputed over ``x`` (the
    part that trains) with the weights fixed, before the network is evaluated or kept (``batchnorm.py``)."""
    if section.bn_statistics == "recomputed":
        recompute_batchnorm_statistics(model, x, section.batch_size)


def uar_of(scores, y) -> np.ndarray:
    """UAR of each output ((outputs, N, C) scores) or of the single output ((N, C)), as an array."""
    scores = scores if scores.ndim == 3 else scores[None]
    pred = scores.argmax(-1)
    return np.array([np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]) for p in pred])


def train_keeping_best(model, data: TrainSet, section, *, seed, kind, progress=None, callbacks=(),
                       grow=None) -> dict:
    """``section.checkpoint``: the last epoch, or the epoch with the best UAR on held-out *training*
    subjects (a subject-grouped inner split; "saving the weights when accuracy is high", paper 000); the
    network then trains on the other training subjects only. ``last_inner_val`` holds the same split out and
    keeps the last epoch. ``grow(x, y)`` (class balancing) is applied to the part that trains, after the
    split. With several outputs the epoch is chosen by their mean UAR and each output's UAR at that epoch is
    kept (``inner_val_uar_per_output``). With an inner split the history also holds the stage probes
    (``probes.py``): raw input, embedding before and after the stage, on the inner-validation subjects."""
    grow = grow or (lambda x, y: (x, y))
    held_out = section.checkpoint in ("best_inner_val", "last_inner_val")
    split = inner_split(data, section.val_fraction, seed) if held_out else None
    if held_out and split is None:
        logger.warning("one training subject: no inner validation split, the last epoch is kept")
    if split is None:
        x, y = grow(data.x, data.y)
        history = train(model, TrainSet(x, y, None, data.num_classes), section, seed=seed, kind=kind,
                        progress=progress, callbacks=callbacks)
        settle_batchnorm(model, data.x, section)
        return history
    fit_idx, val_idx = split
    val = data.subset(val_idx)
    keep_best = section.checkpoint == "best_inner_val"
    best = {"uar": -1.0, "epoch": -1, "weights": None, "per_output": None}
    scores = []
    probe_before = embedding_probe(model, data.x, data.y, fit_idx, val_idx, seed=seed)

    epochs = section.epochs
    # without a selection the curve is only read: at most CURVE_POINTS evaluations (and always the last epoch)
    every = 1 if keep_best else max(1, -(-epochs // CURVE_POINTS))
    evaluated = []

    def epoch_end(epoch, m):
        if (epoch + 1) % every and epoch != epochs - 1:
            return
        settle_batchnorm(m, data.x[fit_idx], section)
        per_output = uar_of(batched_outputs(m, val.x), val.y)
        scores.append(float(per_output.mean()))
        evaluated.append(epoch)
        if not keep_best:
            best.update(uar=scores[-1], epoch=epoch, per_output=per_output.tolist())
        # ties go to the later epoch: after a few dozen steps BatchNorm's moving statistics can make every
        # epoch predict one class at inference (UAR 1/K each time), and the first epoch is then no better
        elif scores[-1] >= best["uar"]:
            best.update(uar=scores[-1], epoch=epoch, weights=m.get_weights(), per_output=per_output.tolist())

    x, y = grow(data.x[fit_idx], data.y[fit_idx])
    history = train(model, TrainSet(x, y, None, data.num_classes), section, seed=seed, kind=kind,
                    epoch_end=epoch_end, progress=progress, callbacks=callbacks)
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    history.update(inner_val_uar=scores, inner_val_epochs=evaluated, best_epoch=best["epoch"],
                   inner_val_uar_per_output=best["per_output"],
                   inner_val_subjects=sorted(map(str, np.unique(val.groups))),
                   probe_uar={"pixels": pixel_probe(data.x, data.y, fit_idx, val_idx, seed=seed),
                              "before": probe_before,
                              "after": embedding_probe(model, data.x, data.y, fit_idx, val_idx, seed=seed)})
    return history


class NoPretrain:
    """Fine-tuning starts from the initial weights."""

    def run(self, variant, data, *, seed, weights_path, progress=None):
        return None, {}


class FlowPretrain:
    """Paper 000: pre-training on the optical flow of the fold's training subjects, saved as weights."""

    def run(self, variant: VariantConfig, data: TrainSet, *, seed, weights_path: Path, progress=None):
        set_seed(seed)
        model = fresh_model(variant.model, data.x.shape[1:], data.num_classes, variant.network, seed=seed)
        kind = array_kind((variant.pretrain_input() or variant.preprocess).representation)
        history = train_keeping_best(model, data, variant.pretrain, seed=seed, kind=kind, progress=progress)
        Path(weights_path).parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(weights_path))
        return Path(weights_path), history


class MacroPretrain(FlowPretrain):
    """Paper 004: training on macro-expression images of other people, once per model and settings (the
    runner calls it outside the LOSO loop; no micro-expression subject is in its data)."""


PRETRAIN_STAGES = {"none": NoPretrain(), "flow": FlowPretrain(), "macro": MacroPretrain()}


def transfer(model, weights_path, section: PretrainConfig) -> str:
    """Load pre-trained weights: every layer, or the backbone only with the head left at its fresh state.

    Every backbone layer must load (same architecture); the input convolution is adapted when only its
    channel count differs (3-channel flow weights into a grayscale face model)."""
    heads = head_layer_names(model)
    fresh_head = {name: model.get_layer(name).get_weights() for name in heads}
    report = load_pretrained(model, weights_path)
    missed = sorted(k for k in report.skipped if k not in heads)
    if missed:
        raise ValueError(f"pre-trained weights {weights_path} did not load into backbone layers "
                         f"{missed[:5]}{'...' if len(missed) > 5 else ''}: {report}")
    if section.transfer == "backbone":
        for name, weights in fresh_head.items():
            model.get_layer(name).set_weights(weights)
    return str(report)


def balance(x, y, section: FinetuneConfig, kind: str, seed: int):
    """Paper 000's flip expansion or paper 004's random transforms of the minority classes."""
    rng = np.random.default_rng(seed)
    if section.balance == "flip":
        return balance_by_flipping(x, y, rng, kind=kind)
    if section.balance == "random_transforms":
        return balance_by_random_transforms(x, y, rng, kind=kind)
    return x, y


def finetune(variant: VariantConfig, data: TrainSet, *, seed, pretrained=None, held_out_monitor=None,
             progress=None):
    """Fine-tune a fresh network on the fold's training data; returns (model, history, load report).

    ``held_out_monitor = (x_test, y_test)`` is required by, and only accepted with, the leaky
    ``best_test_accuracy`` checkpoint."""
    ft = variant.finetune
    if (ft.checkpoint == "best_test_accuracy") != (held_out_monitor is not None):
        raise ValueError("held_out_monitor is given exactly when the checkpoint rule is the leaky "
                         "'best_test_accuracy'")
    set_seed(seed + 1)
    model = fresh_model(variant.model, data.x.shape[1:], data.num_classes, variant.network, seed=seed)
    report = transfer(model, pretrained, variant.pretrain) if pretrained is not None else ""
    kind = array_kind(variant.preprocess.representation)
    callbacks = [GradualUnfreezing(every=ft.unfreeze_every, start=1)] if ft.gradual_unfreezing else []
    if ft.checkpoint != "best_test_accuracy":
        history = train_keeping_best(model, data, ft, seed=seed, kind=kind, progress=progress, callbacks=callbacks,
                                     grow=lambda x, y: balance(x, y, ft, kind, seed))
        return model, history, report
    # LEAKY by construction: the papers' "keep the weights with the best test accuracy"
    x_fit, y_fit = balance(data.x, data.y, ft, kind, seed)
    x_test, y_test = held_out_monitor
    best = {"acc": -1.0, "weights": None, "epoch": -1}

    def epoch_end(epoch, m):
        settle_batchnorm(m, data.x, ft)
        # (outputs, N) == (N,) with several outputs (paper 001): their mean accuracy
        acc = float(np.mean(batched_outputs(m, x_test).argmax(-1) == y_test))
        if acc > best["acc"]:
            best.update(acc=acc, weights=m.get_weights(), epoch=epoch)
    history = train(model, TrainSet(x_fit, y_fit, None, data.num_classes), ft, seed=seed, kind=kind,
                    callbacks=callbacks, epoch_end=epoch_end, progress=progress)
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    history.update(test_selected_epoch=best["epoch"], test_selected_accuracy=best["acc"])
    return model, history, report
