"""Network embeddings for the SVM head, computed in fixed-size batches without ``model.predict``'s overhead."""
from __future__ import annotations

import numpy as np


def batched_outputs(model, x, batch_size=64):
    """Outputs of ``model`` over ``x`` batch by batch (``predict_on_batch``: no per-call callbacks)."""
    outs = [np.asarray(model.predict_on_batch(x[i:i + batch_size].astype("float32")))
            for i in range(0, len(x), batch_size)]
    return np.concatenate(outs, axis=0) if outs else np.zeros((0,))
