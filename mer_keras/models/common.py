"""What every builder shares: argument checks, the input, the top and the ``weights`` argument.

The top is the contract other stages code against: ``GlobalAveragePooling2D(name="avg_pool")`` ->
optional ``Dropout(name="top_dropout")`` -> ``Dense(classes, name="predictions")``.
"""
from __future__ import annotations

import os

import keras

HEAD_LAYER_NAMES = ("avg_pool", "max_pool", "top_dropout", "predictions")


def validate_common(input_shape, include_top, weights, pooling, classes, dropout, min_size=32):
    """Raise a clear ``ValueError`` for arguments no builder can honour; return the shape as a tuple."""
    if input_shape is None or len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    shape = tuple(input_shape)
    if any(s is None for s in shape):
        raise ValueError(f"input_shape must be fully static, got {shape}")
    if min(shape[:2]) < min_size or shape[2] < 1:
        raise ValueError(f"input_shape {shape}: height and width must be >= {min_size} and channels >= 1")
    if weights is not None and not (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)):
        raise ValueError("weights must be None or the path to an existing weights file (.h5, .weights.h5, "
                         f".keras); nothing is downloaded. Got {weights!r}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(f"classes must be a positive int when include_top=True, got {classes!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return shape


def regularizer(l2):
    """``keras.regularizers.L2(l2)`` or None; papers 000/004 use 0.2 on convolutional and dense kernels."""
    if l2 is None or l2 == 0:
        return None
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    return keras.regularizers.L2(float(l2))


def add_top(x, include_top, pooling, classes, classifier_activation, dropout, kernel_regularizer=None):
    """The shared head: GAP -> Dropout -> Dense("predictions"), or the ``pooling`` option without a top."""
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        return keras.layers.Dense(classes, activation=classifier_activation, kernel_regularizer=kernel_regularizer,
                                  name="predictions")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish(inputs, outputs, name, weights):
    """Build the functional model and, like keras.applications, load ``weights`` strictly if given."""
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(os.fspath(weights))
    return model
