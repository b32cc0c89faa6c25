"""Stage probes: how much class signal a stage's output holds, on training subjects only (issue 21).

A pipeline that scores below a linear SVM on its own input has lost the signal somewhere; a probe at each
stage says where. The probe is one fixed linear classifier (standardised features, ``SVC(kernel="linear",
C=PROBE_C, class_weight="balanced")``, the learner of the same-fold linear-SVM floor), fitted on the
inner-training subjects of a stage's inner split and scored by UAR on its inner-validation subjects: subjects
of the training fold that the network did not train on (the split of ``checkpoint = "best_inner_val"`` or
``"last_inner_val"``). No held-out clip is read. A network's embedding of subjects it trained on would tell
how well it memorised them, not what it learned, so a stage trained on every training subject has no probe.

Per stage it records the probe on the raw input (downsampled as the floor is, 16x16 per channel), on the
network's pooled embedding before the stage trains (after a transfer: what pre-training hands over; without
one: a fresh network's random features) and after it. C is fixed (0.1, the middle of the floor's grid), not
searched: the probes compare stages with one ruler, at about 0.1 s each.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..evaluation.baselines import downsample
from .embeddings import batched_outputs
from .networks import embedding_of

PROBE_C = 0.1


def probe_uar(features, y, fit_idx, val_idx, *, seed: int = 0) -> float | None:
    """UAR on ``val_idx`` of the linear probe fitted on ``fit_idx``; None when the fitting part holds one class."""
    y = np.asarray(y)
    features = np.asarray(features, dtype=np.float32).reshape(len(y), -1)
    if len(np.unique(y[fit_idx])) < 2 or len(val_idx) == 0:
        return None
    probe = Pipeline([("scale", StandardScaler()),
                      ("svc", SVC(kernel="linear", C=PROBE_C, class_weight="balanced", random_state=seed))])
    probe.fit(features[fit_idx], y[fit_idx])
    return float(balanced_accuracy_score(y[val_idx], probe.predict(features[val_idx])))


def pixel_probe(x, y, fit_idx, val_idx, *, seed: int = 0) -> float | None:
    """The probe on the input itself, downsampled as the linear-SVM floor is."""
    return probe_uar(downsample(x), y, fit_idx, val_idx, seed=seed)


def embedding_probe(model, x, y, fit_idx, val_idx, *, seed: int = 0) -> float | None:
    """The probe on ``model``'s pooled embedding of ``x`` in inference mode; None for networks without a single
    pooled embedding (several outputs: paper 001)."""
    if len(model.outputs) > 1:
        return None
    return probe_uar(batched_outputs(embedding_of(model), x), y, fit_idx, val_idx, seed=seed)
