"""One LOSO fold of a variant: (pre-train) -> fine-tune -> head -> predictions for the held-out subject.

``run_fold`` receives the training and test arrays separately and never passes a test label to any step
that changes a weight, a scaler or a hyper-parameter. The one exception is the explicitly named, leaky
``checkpoint = "best_test_accuracy"`` option (the papers' "keep the weights with the best accuracy"), which
the results mark as leaky.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class FoldData:
    """Arrays of one fold. ``x_pre_*`` feed the pre-training stage (may equal the fine-tuning input)."""

    x_train: np.ndarray
    y_train: np.ndarray
    groups_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_pre_train: np.ndarray | None = None
    num_classes: int = 3


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


def set_seed(seed: int) -> None:
    """Same seed, same fold, same result: Python, NumPy and TensorFlow seeds plus deterministic TF ops."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if hasattr(tf.config.experimental, "enable_op_determinism"):  # TF >= 2.9
        tf.config.experimental.enable_op_determinism()


_MODELS: dict = {}
_EMBEDDINGS: dict = {}


def fresh_model(name, input_shape, num_classes, section, softmax=True):
    """A network in its initial state, built (and traced) once per configuration and process.

    Every fold gets the same initial weights and a zeroed optimizer (``fit.ready_to_train``), exactly as if
    the model had been rebuilt, without paying Keras' graph tracing again for each fold.
    """
    key = (name, tuple(input_shape), int(num_classes), section.get("dropout"), section.get("l2"), softmax)
    if key not in _MODELS:
        model = build_model(name, input_shape, num_classes, section, softmax)
        seeds = [sg.state for layer in model._flatten_layers() for sg in getattr(layer, "_seed_generators", [])]
        _MODELS[key] = (model, [w.copy() for w in model.get_weights()],
                        [(v, keras_value(v)) for v in seeds])
    model, initial, seed_states = _MODELS[key]
    if not all(layer.trainable for layer in model.layers):  # left partly frozen by gradual unfreezing
        model.trainable = True
        model.train_function = None  # retrace over all weights
    model.set_weights(initial)
    for variable, value in seed_states:  # dropout draws the same masks as a freshly built model
        variable.assign(value)
    return model


def keras_value(variable):
    import keras

    return keras.ops.convert_to_numpy(variable).copy()


def embedding_of(model):
    """The pooled-feature model of ``model`` (shares its layers), made once per model."""
    from ..models import embedding_model

    if id(model) not in _EMBEDDINGS:  # not an attribute: Keras would track it as a sub-model
        _EMBEDDINGS[id(model)] = (model, embedding_model(model))
    return _EMBEDDINGS[id(model)][1]


def build_model(name, input_shape, num_classes, section, softmax=True):
    """Build a registered network with the section's dropout / L2 when the builder takes them."""
    import inspect

    from ..models import build
    from ..models.registry import MODELS

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    kwargs = {"input_shape": tuple(input_shape), "classes": int(num_classes), "include_top": True,
              "classifier_activation": "softmax" if softmax else None}
    params = inspect.signature(MODELS[name].resolve()).parameters
    for key in ("dropout", "l2"):
        if key in params and section.get(key) is not None:
            kwargs[key] = section[key]
    return build(name, **kwargs)


def array_kind(representation: str) -> str:
    """What the channels hold, so a mirrored flow image also mirrors its vectors."""
    if representation in ("flow", "flow_stack"):
        return "flow"
    return "flow_hsv" if representation == "flow_hsv" else "image"


def _augmenter(section, kind):
    """Per-batch training augmentation (training fold only): random shifts and horizontal flips."""
    from ..preprocessing.augment import random_shift_flip

    max_shift = int(section.get("max_shift", 0))
    p_flip = float(section.get("p_flip", 0.0))
    if not max_shift and not p_flip:
        return None
    return lambda xb, rng: random_shift_flip(xb, rng, max_shift=max_shift, p_flip=p_flip, kind=kind)


def pretrain_on_fold(vcfg, data: FoldData, input_shape, seed, weights_path: Path):
    """Paper 000's optical-flow pre-training on the fold's training subjects; weights saved as .h5."""
    from .fit import train_classifier

    pre = vcfg["pretrain"]
    model = fresh_model(vcfg["model"], input_shape, data.num_classes, vcfg["finetune"])
    x = data.x_pre_train if data.x_pre_train is not None else data.x_train
    history = train_classifier(model, x, data.y_train, num_classes=data.num_classes, epochs=pre["epochs"],
                               batch_size=pre["batch_size"], optimizer=pre["optimizer"],
                               learning_rate=pre["learning_rate"], momentum=pre.get("momentum", 0.9),
                               balanced=pre.get("balanced", True), seed=seed)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(weights_path))
    return history


def run_fold(vcfg, data: FoldData, *, seed=0, pretrained_weights: Path | None = None,
             pretrain_path: Path | None = None) -> FoldResult:
    """Train on the fold's training arrays, predict the held-out subject. See the module docstring."""
    from ..models import load_pretrained
    from ..models.common import HEAD_LAYER_NAMES
    from ..preprocessing.augment import (
        balance_by_flipping,
        balance_by_random_transforms,
    )
    from .embeddings import batched_outputs
    from .fit import train_classifier
    from .svm_head import fit_svm_head

    timings = {}
    chosen = {}
    if vcfg["finetune"].get("grid_search"):
        t = time.perf_counter()
        chosen, inner_f1 = choose_hyperparameters(vcfg, data, seed=seed, pretrained_weights=pretrained_weights,
                                                  pretrain_path=pretrain_path)
        vcfg = dict(vcfg, finetune=dict(vcfg["finetune"], **chosen, grid_search=False))
        chosen = dict(chosen, inner_f1_macro=inner_f1)
        timings["grid_search_s"] = time.perf_counter() - t
    set_seed(seed)
    input_shape = data.x_train.shape[1:]
    ft, head_cfg = vcfg["finetune"], vcfg["head"]
    history = {}
    report = ""
    pre_kind = vcfg["pretrain"]["kind"]
    scratch = None
    if pre_kind == "flow":
        t = time.perf_counter()
        if pretrain_path is None:  # keep nothing in the caller's working directory
            scratch = tempfile.TemporaryDirectory(prefix="mer_keras_pretrain_")
            pretrain_path = Path(scratch.name) / "pretrain.weights.h5"
        history["pretrain"] = pretrain_on_fold(vcfg, data, input_shape, seed, pretrain_path)
        pretrained_weights = pretrain_path
        timings["pretrain_s"] = time.perf_counter() - t
    elif pre_kind == "macro" and pretrained_weights is None:
        raise ValueError("pretrain kind 'macro' needs the macro-expression weights (pretrained_weights)")
    elif pre_kind not in ("flow", "macro", "none"):
        raise ValueError(f"unknown pretrain kind {pre_kind!r}; expected 'flow', 'macro' or 'none'")

    t = time.perf_counter()
    set_seed(seed + 1)
    model = fresh_model(vcfg["model"], input_shape, data.num_classes, ft)
    if pre_kind != "none":
        loaded = load_pretrained(model, pretrained_weights)
        report = str(loaded)
        missed = {k: v for k, v in loaded.skipped.items() if k not in HEAD_LAYER_NAMES}
        if missed:  # the pre-trained network has the same architecture: every backbone layer must load
            raise ValueError(f"pre-trained weights {pretrained_weights} did not load into backbone layers "
                             f"{sorted(missed)[:5]}{'...' if len(missed) > 5 else ''}: {report}")
    if scratch is not None:
        scratch.cleanup()
    kind = array_kind(vcfg["preprocess"]["representation"])
    x_fit, y_fit = data.x_train, data.y_train
    balance = ft.get("balance", "none")
    if balance == "flip":  # paper 000: minority classes grown by horizontal flips
        x_fit, y_fit = balance_by_flipping(x_fit, y_fit, np.random.default_rng(seed), kind=kind)
    elif balance == "random_transforms":  # paper 004: random shifts or flips until classes are even
        x_fit, y_fit = balance_by_random_transforms(x_fit, y_fit, np.random.default_rng(seed), kind=kind)
    elif balance != "none":
        raise ValueError(f"unknown finetune.balance {balance!r}; expected 'none', 'flip' or 'random_transforms'")
    callbacks = []
    if ft.get("gradual_unfreezing"):
        from ..models import GradualUnfreezing

        callbacks.append(GradualUnfreezing(every=int(ft.get("unfreeze_every", 1)), start=1))
    epoch_end = None
    best = {"acc": -1.0, "weights": None}
    if ft.get("checkpoint", "last") == "best_test_accuracy":
        # LEAKY by construction (the papers' procedure): looks at the held-out subject after each epoch.
        def epoch_end(epoch, m):
            acc = float(np.mean(batched_outputs(m, data.x_test).argmax(1) == data.y_test))
            if acc > best["acc"]:
                best.update(acc=acc, weights=m.get_weights())
    elif ft.get("checkpoint", "last") != "last":
        raise ValueError(f"unknown checkpoint rule {ft['checkpoint']!r}; expected 'last' or 'best_test_accuracy'")
    history["finetune"] = train_classifier(
        model, x_fit, y_fit, num_classes=data.num_classes, epochs=ft["epochs"], batch_size=ft["batch_size"],
        optimizer=ft["optimizer"], learning_rate=ft["learning_rate"], momentum=ft.get("momentum", 0.9),
        balanced=ft.get("balanced", True), augment=_augmenter(ft, kind),
        reduce_lr_on_plateau=ft.get("reduce_lr_on_plateau", False), callbacks=callbacks, seed=seed,
        epoch_end=epoch_end)
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    timings["finetune_s"] = time.perf_counter() - t

    t = time.perf_counter()
    head = None
    head_params = {"kind": head_cfg["kind"]}
    if head_cfg["kind"] == "svm":
        embed = embedding_of(model)
        f_train = batched_outputs(embed, data.x_train)
        head = fit_svm_head(f_train, data.y_train, data.groups_train, kernels=head_cfg["kernels"],
                            C=head_cfg["C"], inner_splits=head_cfg.get("inner_splits", 3), seed=seed)
        head_params.update(head.best_params_)
        timings["head_s"] = time.perf_counter() - t
        t = time.perf_counter()
        f_test = batched_outputs(embed, data.x_test)
        y_pred = head.predict(f_test)
        scores = head.decision_function(f_test)
    elif head_cfg["kind"] == "softmax":
        t = time.perf_counter()
        scores = batched_outputs(model, data.x_test)
        y_pred = scores.argmax(axis=1)
    else:
        raise ValueError(f"unknown head kind {head_cfg['kind']!r}; expected 'svm' or 'softmax'")
    timings["predict_s"] = time.perf_counter() - t
    timings["predict_ms_per_sample"] = 1000 * timings["predict_s"] / max(len(data.x_test), 1)
    if chosen:
        head_params["grid_search"] = chosen
    return FoldResult(y_pred=np.asarray(y_pred, dtype=int), scores=np.asarray(scores), history=history,
                      head_params=head_params, load_report=report, timings=timings, model=model, head=head)


def choose_hyperparameters(vcfg, data: FoldData, *, seed=0, pretrained_weights=None, pretrain_path=None):
    """Paper 004's grid search over batch size / learning rate / epochs, inside the training fold only.

    Each grid point is scored by macro F1 over subject-grouped inner splits of the *training* subjects (the
    whole inner pipeline, pre-training and head included, runs on inner-training subjects); the held-out
    subject is never seen. Returns the best point (e.g. ``{"batch_size": 64, "learning_rate": 0.007}``) and
    its inner macro F1.
    """
    import itertools

    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold

    ft = vcfg["finetune"]
    grid = {k: list(v) for k, v in ft.get("grid", {}).items()}
    if not grid:
        raise ValueError("finetune.grid_search is on but finetune.grid is empty (e.g. batch_size = [32, 64])")
    unknown = set(grid) - {"batch_size", "learning_rate", "epochs"}
    if unknown:
        raise ValueError(f"finetune.grid may hold batch_size, learning_rate, epochs; got {sorted(unknown)}")
    groups = np.asarray(data.groups_train)
    n_splits = min(int(ft.get("grid_inner_splits", 3)), len(np.unique(groups)))
    if n_splits < 2:
        raise ValueError("the grid search needs at least two training subjects")
    splits = list(GroupKFold(n_splits=n_splits).split(data.x_train, data.y_train, groups))
    best, best_score = None, -1.0
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values))
        inner_cfg = dict(vcfg, finetune=dict(ft, **point, grid_search=False))
        y_true, y_pred = [], []
        for tr, va in splits:
            inner = FoldData(x_train=data.x_train[tr], y_train=data.y_train[tr], groups_train=groups[tr],
                             x_test=data.x_train[va], y_test=data.y_train[va],
                             x_pre_train=None if data.x_pre_train is None else data.x_pre_train[tr],
                             num_classes=data.num_classes)
            inner_pre = None if pretrain_path is None else Path(pretrain_path).with_name(f"inner_{Path(pretrain_path).name}")
            res = run_fold(inner_cfg, inner, seed=seed, pretrained_weights=pretrained_weights,
                           pretrain_path=inner_pre)
            y_true.append(data.y_train[va])
            y_pred.append(res.y_pred)
        score = f1_score(np.concatenate(y_true), np.concatenate(y_pred), average="macro")
        if score > best_score:
            best, best_score = point, score
    return best, float(best_score)
