"""FLOPs of a Keras model at batch 1, counted by TensorFlow's graph profiler (multiply and add = 2 FLOPs)."""
from __future__ import annotations

import numpy as np


def count_flops(model) -> int:
    """Float operations of one forward pass of ``model`` on a single input of its static shape."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    shape = model.inputs[0].shape
    if any(s is None for s in shape[1:]):
        raise ValueError(f"count_flops needs a static input shape, got {shape}")
    spec = tf.TensorSpec((1,) + tuple(shape[1:]), model.inputs[0].dtype)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                         options=options)
    return int(info.total_float_ops)


def count_params(model, trainable_only=True) -> int:
    """Trainable (default) or all parameters; trainable counts are what torch and the papers report."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))
