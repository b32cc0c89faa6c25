"""Network embeddings for the SVM head, computed in fixed-size batches without ``model.predict``'s overhead."""
from __future__ import annotations

import numpy as np


def batched_outputs(model, x, batch_size=32):
    """Outputs of ``model`` over ``x`` batch by batch (``predict_on_batch``: no per-call callbacks).

    The last batch is zero-padded to ``batch_size`` and the padding's outputs dropped: every call has the
    same shape, so TensorFlow traces the inference graph once instead of once per remainder size.
    Inference mode (BatchNorm moving statistics, no dropout) makes each sample's output independent.
    A model with several outputs (paper 001) gives an array (outputs, N, ...).
    """
    outs, multi = [], False
    for i in range(0, len(x), batch_size):
        xb = np.asarray(x[i:i + batch_size], dtype="float32")
        n = len(xb)
        if n < batch_size:
            xb = np.concatenate([xb, np.zeros((batch_size - n,) + xb.shape[1:], "float32")])
        out = model.predict_on_batch(xb)
        multi = isinstance(out, (list, tuple))
        # float32 whatever the compute dtype (mixed precision gives float16 / bfloat16 outputs)
        outs.append(np.stack([np.asarray(o, "float32")[:n] for o in out]) if multi
                    else np.asarray(out, "float32")[:n])
    if not outs:
        return np.zeros((0,))
    return np.concatenate(outs, axis=1 if multi else 0)
