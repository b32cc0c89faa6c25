"""The pooled penultimate features of a classifier, the input of the SVM head (papers 000 and 004)."""
from __future__ import annotations

import keras


def embedding_model(model, name=None):
    """A ``keras.Model`` sharing ``model``'s layers that outputs the globally pooled features.

    Uses the ``avg_pool`` / ``max_pool`` layer of the mer-keras top (before dropout and the classifier), or
    the ``embedding`` layer of networks without a global pool (the MEGC 2019 reference networks);
    a headless model whose output is already (batch, features) is wrapped as is, and a 4-D feature map
    output gets a global average pooling.
    """
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    for pool_name in ("avg_pool", "max_pool", "embedding"):
        try:
            pooled = model.get_layer(pool_name).output
        except ValueError:
            continue
        return keras.Model(inputs, pooled, name=name or f"{model.name}_embedding")
    output = model.outputs[0]
    if len(output.shape) == 2:
        return keras.Model(inputs, output, name=name or f"{model.name}_embedding")
    if len(output.shape) == 4:
        pooled = keras.layers.GlobalAveragePooling2D(name="embedding_pool")(output)
        return keras.Model(inputs, pooled, name=name or f"{model.name}_embedding")
    raise ValueError(f"cannot find pooled features in {model.name!r}: output shape {output.shape} has no "
                     "avg_pool / max_pool layer and is neither 2-D nor a 4-D feature map")
