"""Fitting a Keras classifier on one training fold: balanced batches, optimiser from the config.

Everything here sees only the arrays it is given (the training fold); there is no validation split on the
held-out subject, and the learning-rate schedule watches the *training* loss.
"""
from __future__ import annotations

import keras
import numpy as np

from .adamp import AdamP

SAMPLINGS = ("oversample", "undersample")
"""How class-balanced epochs are drawn (``BalancedBatches``)."""


class BalancedBatches:
    """Class-balanced batches (paper 000: "the same number of samples from each category").

    ``sampling="oversample"``: each epoch draws, for every class, as many indices as the largest class has
    (minority classes resampled with replacement), shuffles them and cuts full batches (the last one topped up
    at random). ``sampling="undersample"``: paper 000's pre-training (section "TV-L1 optical flow features and
    pre-training": "we extracted the same number of samples from each category ... fed into the network model
    randomly without repetition"; Discussion: "randomly selected in each training iteration"): each epoch
    draws, for every class, as many clips as the smallest class has, without replacement, a fresh subset each
    epoch; the last batch is kept short (a top-up would repeat clips or unbalance the classes; it costs one more
    trace of the training step). ``augment(x_batch, rng)`` is applied per batch when given.
    """

    def __init__(self, x, y, batch_size, num_classes, *, balanced=True, augment=None, seed=0,
                 order="shuffled", last_batch="fill", sampling="oversample"):
        self.x, self.y = x, np.asarray(y)
        self.batch_size = int(batch_size)
        self.num_classes = int(num_classes)
        self.balanced = balanced
        self.augment = augment
        if order not in ("shuffled", "by_class") or last_batch not in ("fill", "partial"):
            raise ValueError(f"order 'shuffled' / 'by_class' and last_batch 'fill' / 'partial' expected, got "
                             f"{order!r}, {last_batch!r}")
        if balanced and order != "shuffled":
            raise ValueError("class-balanced batches are always shuffled: order='by_class' needs balanced=False")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.undersample = balanced and sampling == "undersample"
        self.by_class, self.fill = order == "by_class", last_batch == "fill" and not self.undersample
        self.rng = np.random.default_rng(seed)
        self.order = self._draw()

    def _draw(self):
        if self.balanced:
            order = self._balanced()
        elif self.by_class:  # the same order every epoch: class 0's clips, then class 1's, ... (stable)
            order = np.argsort(self.y, kind="stable")
        else:
            order = self.rng.permutation(len(self.y))
        # every batch full: extra random samples top up the last one, so the training step keeps one
        # shape and TensorFlow traces it once (a retrace costs 10-20 s on a 2-core CPU); "partial" keeps
        # a short last batch (one more trace)
        missing = -len(order) % self.batch_size
        if missing and self.fill:
            order = np.concatenate([order, self.rng.choice(order, missing)])
        return order

    def _balanced(self):
        present = [np.flatnonzero(self.y == c) for c in range(self.num_classes)]
        present = [p for p in present if len(p)]
        if self.undersample:  # every class as often as the smallest, no clip twice, a new subset each epoch
            per_class = min(len(p) for p in present)
            return self.rng.permutation(np.concatenate([self.rng.choice(p, per_class, replace=False)
                                                        for p in present]))
        per_class = max(len(p) for p in present)
        idx = np.concatenate(
            [p if len(p) == per_class else np.concatenate([p, self.rng.choice(p, per_class - len(p))])
             for p in present]
        )
        return self.rng.permutation(idx)

    def __len__(self):
        return max(1, int(np.ceil(len(self.order) / self.batch_size)))

    def batch(self, i):
        sel = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        xb = self.x[sel]
        if self.augment is not None:
            xb = self.augment(xb, self.rng)
        yb = keras.utils.to_categorical(self.y[sel], self.num_classes)
        return xb.astype("float32"), yb.astype("float32")

    def new_epoch(self):
        self.order = self._draw()


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9, epsilon: float = 1e-7,
                   ema_momentum: float = 0.0):
    """A Keras optimizer; ``ema_momentum > 0`` turns on its moving average of the weights (``use_ema``)."""
    name = name.lower()
    ema = {"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum else {}
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, epsilon=epsilon, **ema)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum, **ema)
    if name == "adamp":  # paper 003
        if ema:
            raise ValueError("the weights' moving average (ema_momentum) is not available with AdamP")
        return AdamP(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected 'adam', 'sgd' or 'adamp'")


_COMPILED_FOR: dict = {}
"""id(model) -> (model, optimizer key) it was compiled for (kept outside the model: Keras tracks attributes)."""


def ready_to_train(model, optimizer="adam", learning_rate=1e-3, momentum=0.9, label_smoothing=0.0, epsilon=1e-7,
                   ema_momentum=0.0):
    """Compile ``model`` once per optimizer kind; later calls only reset the optimizer's state.

    Tracing a Keras training step costs 10-20 s on this CPU for a ShuffleNet-sized graph, far more than a
    fold's training, so a model is compiled once and every fold starts from a zeroed optimizer (Adam's
    moments and step counter at 0, the configured learning rate): the same state a fresh optimizer has (the
    weights' moving average, if on, restarts from the weights at the first step, since the counter is 0).
    """
    key = (optimizer.lower(), float(momentum), float(label_smoothing), float(epsilon), float(ema_momentum))
    if _COMPILED_FOR.get(id(model)) == (model, key) and model.optimizer is not None:
        optimizer_state = model.optimizer
        if isinstance(optimizer_state, keras.optimizers.LossScaleOptimizer):  # mixed_float16
            optimizer_state.dynamic_scale.assign(optimizer_state.initial_scale)
            optimizer_state.step_counter.assign(0)
            optimizer_state = optimizer_state.inner_optimizer
        for v in optimizer_state.variables:
            v.assign(keras.ops.zeros(v.shape, dtype=v.dtype))
        model.optimizer.learning_rate.assign(learning_rate)
        return model
    n_outputs = len(model.outputs)  # paper 001's network has four, each with its own cross-entropy
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    model.compile(optimizer=make_optimizer(optimizer, learning_rate, momentum, epsilon, ema_momentum),
                  loss=loss if n_outputs == 1 else [loss] * n_outputs,
                  metrics=["accuracy"] if n_outputs == 1 else [["accuracy"]] * n_outputs)
    # variables created now, not inside the first traced step (which would then be traced twice)
    model.optimizer.build(model.trainable_variables)
    _build_compiled_metrics(model)
    _COMPILED_FOR[id(model)] = (model, key)
    return model


def _build_compiled_metrics(model) -> None:
    """Create the compiled loss and metric variables now. Without a distribution strategy Keras creates them
    inside the first traced training step, and TensorFlow traces a step that created variables a second
    time: the first step of paper 000's network took 15.0 s instead of 9.0 s on a 2-core CPU. Keras' own symbolic build does it
    (``Trainer._symbolic_build``, what ``fit`` calls under a strategy); no public API exposes it."""
    inputs = [keras.KerasTensor((1, *t.shape[1:]), t.dtype) for t in model.inputs]
    targets = [keras.KerasTensor((1, *t.shape[1:]), "float32") for t in model.outputs]
    model._symbolic_build(data_batch=(inputs[0] if len(inputs) == 1 else inputs,
                                      targets[0] if len(targets) == 1 else targets, None))


def train_classifier(model, x, y, *, num_classes, epochs, batch_size, optimizer="adam", learning_rate=1e-3,
                     momentum=0.9, balanced=True, augment=None, reduce_lr_on_plateau=False, callbacks=(),
                     seed=0, epoch_end=None, label_smoothing=0.0, progress=None, order="shuffled",
                     last_batch="fill", epsilon=1e-7, ema_momentum=0.0, sampling="oversample"):
    """Train ``model`` (softmax top) on (x, y); return the history as ``{metric: [per epoch]}``.

    ``epoch_end(epoch, model)`` is called after every epoch (used by the leaky best-test-accuracy option,
    which the caller must mark as such). Batches are fed with ``train_on_batch`` so the class-balanced
    resampling is redrawn each epoch without a Python generator thread. Metrics are reset before every
    batch (Keras before 3.15 kept averaging over earlier calls, i.e. over earlier folds), so each epoch's
    loss is the mean over its own batches. ``progress(epoch, epochs, logs)`` reports each epoch. ``order``,
    ``last_batch``, ``sampling``: see ``BalancedBatches``; ``epsilon``: Adam's. ``ema_momentum > 0``: the trainable weights
    are replaced at the end by their exponential moving average over the steps (Keras' ``use_ema``; the
    per-epoch ``epoch_end`` calls still see the raw weights).
    """
    ready_to_train(model, optimizer, learning_rate, momentum, label_smoothing, epsilon, ema_momentum)
    n_outputs = len(model.outputs)
    batches = BalancedBatches(x, y, batch_size, num_classes, balanced=balanced, augment=augment, seed=seed,
                              order=order, last_batch=last_batch, sampling=sampling)
    history = {"loss": [], "accuracy": [], "learning_rate": []}
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3, min_lr=1e-5)
    cbs = keras.callbacks.CallbackList(
        list(callbacks) + ([plateau] if reduce_lr_on_plateau else []), model=model,
        add_history=False, add_progbar=False)
    cbs.on_train_begin()
    for epoch in range(int(epochs)):
        cbs.on_epoch_begin(epoch)
        losses, accs, weights = [], [], []
        for i in range(len(batches)):
            xb, yb = batches.batch(i)
            model.reset_metrics()
            if n_outputs > 1:
                yb = [yb] * n_outputs
            logs_b = model.train_on_batch(xb, yb, return_dict=True)
            loss = logs_b["loss"]
            acc = np.mean([v for k, v in logs_b.items() if k.endswith("accuracy")])
            losses.append(float(loss))
            accs.append(float(acc))
            weights.append(len(xb))
        logs = {"loss": float(np.average(losses, weights=weights)),
                "accuracy": float(np.average(accs, weights=weights))}
        cbs.on_epoch_end(epoch, logs)
        history["loss"].append(logs["loss"])
        history["accuracy"].append(logs["accuracy"])
        history["learning_rate"].append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        if epoch_end is not None:
            epoch_end(epoch, model)
        if progress is not None:
            progress(epoch, int(epochs), logs)
        batches.new_epoch()
    if ema_momentum and epochs:
        model.optimizer.finalize_variable_values(model.trainable_variables)
    cbs.on_train_end()
    return history
