"""FLOPs of a Keras model at batch 1, counted by TensorFlow's graph profiler (multiply and add = 2 FLOPs)."""
from __future__ import annotations

import numpy as np

_3D_OPS_REGISTERED = False


def _register_3d_statistics():
    """TensorFlow's profiler counts Conv3D but not 3-D transposed convolutions or 3-D pooling (paper 001's
    network uses both): register their FLOPs once, counted as TF counts the 2-D ones."""
    global _3D_OPS_REGISTERED
    if _3D_OPS_REGISTERED:
        return
    from tensorflow.python.framework import graph_util, ops

    def transposed_conv(graph, node):
        # Conv3DBackpropInputV2(input_sizes, filter (kt, kh, kw, C_out, C_in), input): every input element
        # is scattered through kt * kh * kw * C_out weights, one multiply-add each
        kernel = graph_util.tensor_shape_from_node_def_name(graph, node.input[1])
        source = graph_util.tensor_shape_from_node_def_name(graph, node.input[2])
        kernel.assert_is_fully_defined()
        source.assert_is_fully_defined()
        return ops.OpStats("flops", 2 * source.num_elements() * kernel.num_elements() // kernel.dims[-1].value)

    def pool(graph, node):
        out = graph_util.tensor_shape_from_node_def_name(graph, node.name)
        out.assert_is_fully_defined()
        return ops.OpStats("flops", int(np.prod(node.attr["ksize"].list.i)) * out.num_elements())

    for op_type, statistic in (("Conv3DBackpropInputV2", transposed_conv), ("MaxPool3D", pool), ("AvgPool3D", pool)):
        try:
            ops.RegisterStatistics(op_type, "flops")(statistic)
        except KeyError:  # TensorFlow already has one
            pass
    _3D_OPS_REGISTERED = True


def count_flops(model) -> int:
    """Float operations of one forward pass of ``model`` on a single input of its static shape."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    _register_3d_statistics()
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
