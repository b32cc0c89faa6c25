"""Freezing helpers: train only the head, and paper 004's gradual unfreezing.

Paper 004 (Frontiers 2022) fine-tunes after transfer learning by freezing "all convolutional layers"
and unfreezing them "gradually ... as the number of training iterations increases until all are
unfrozen". Here the backbone is cut into layer groups by the builders' name prefixes (``stem``,
``stage3``, ``conv5``, ``block_12``, ``encoder7``, ...), and groups are unfrozen from the back.
Frozen BatchNormalization layers run in inference mode (Keras 3 semantics), as fine-tuning wants.
"""
from __future__ import annotations

import re

import keras

from .common import HEAD_LAYER_NAMES

_GROUP_PATTERN = re.compile(r"^(stem|stage\d+|conv\d+|pool\d+|block_\d+|encoder\d+|ghostvit|cbam|final)")


def _group_key(name):
    match = _GROUP_PATTERN.match(name)
    return match.group(1) if match else name.split("_")[0]


def backbone_groups(model):
    """Ordered (group name, [layers]) of the weighted non-head layers, front to back."""
    groups = []
    for layer in model.layers:
        if layer.name in HEAD_LAYER_NAMES or not layer.weights:
            continue
        key = _group_key(layer.name)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(layer)
        else:
            groups.append((key, [layer]))
    return groups


def freeze_backbone(model):
    """Freeze every layer except the head (``predictions``): for training a new head on a pre-trained body."""
    for layer in model.layers:
        layer.trainable = layer.name in HEAD_LAYER_NAMES
    return model


def unfreeze_schedule(model, epoch, every=1, start=0, groups=None):
    """Set trainability for ``epoch``: all backbone groups frozen before ``start``, then one more group
    unfrozen, from the back, every ``every`` epochs. Returns the number of unfrozen groups."""
    if every < 1 or start < 0:
        raise ValueError(f"every must be >= 1 and start >= 0, got {every}, {start}")
    groups = groups if groups is not None else backbone_groups(model)
    unfrozen = 0 if epoch < start else min(len(groups), (epoch - start) // every + 1)
    for layer in model.layers:
        if layer.name in HEAD_LAYER_NAMES:
            layer.trainable = True
    for index, (_, layers) in enumerate(groups):
        trainable = index >= len(groups) - unfrozen
        for layer in layers:
            layer.trainable = trainable
    return unfrozen


class GradualUnfreezing(keras.callbacks.Callback):
    """Keras callback applying ``unfreeze_schedule`` at the start of each epoch.

    The head trains from epoch 0; backbone groups are unfrozen back to front, one every ``every``
    epochs from epoch ``start``. The optimizer is built over every weight that will ever train, and the
    train function is rebuilt whenever trainability changes, so newly unfrozen weights do train.
    """

    def __init__(self, every=1, start=1, verbose=0):
        super().__init__()
        if every < 1 or start < 0:
            raise ValueError(f"every must be >= 1 and start >= 0, got {every}, {start}")
        self.every, self.start, self.verbose = every, start, verbose
        self.unfrozen = None
        self.history = []

    def on_train_begin(self, logs=None):
        self.groups = backbone_groups(self.model)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            for layer in self.model.layers:
                layer.trainable = True
            optimizer.build(self.model.trainable_variables)
        self.unfrozen = None

    def on_epoch_begin(self, epoch, logs=None):
        unfrozen = unfreeze_schedule(self.model, epoch, self.every, self.start, self.groups)
        self.history.append(unfrozen)
        if unfrozen != self.unfrozen:
            self.unfrozen = unfrozen
            self.model.make_train_function(force=True)
            if self.verbose:
                names = [name for name, _ in self.groups[len(self.groups) - unfrozen:]]
                print(f"GradualUnfreezing: epoch {epoch}: {unfrozen}/{len(self.groups)} groups trainable {names}")
