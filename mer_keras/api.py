"""The Python entry points a notebook needs, each the same function the command line calls."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .evaluation import pooled_scores
from .evaluation.bootstrap import intervals_of
from .training.config import load_experiment
from .training.executors import make_executor
from .training.networks import (
    RunSettings,
    configure_determinism,
    configure_graph_optimizer,
    dtype_policy,
)
from .training.runner import LosoInputs, run_variant


def run_loso(x, y, groups, experiment: str = "liu2022_shufflenet", *, variant: str | None = None, x_pretrain=None,
             clips=None, out=None, seed: int = 0, overrides: dict | None = None) -> dict:
    """Leave-one-subject-out on arrays you already hold, with an experiment's stages and settings.

    ``x`` (N, H, W, C) is the fine-tuning input, ``y`` integer labels 0..K-1, ``groups`` the subject of each
    row; ``x_pretrain`` the flow pre-training input of the same rows when the variant pre-trains on flow.
    ``out`` keeps per-fold files (resumable); without it a temporary folder is used. Returns
    ``{"predictions": DataFrame, "scores": pooled UF1/UAR/accuracy, "intervals": subject-bootstrap 95 %}``.
    """
    exp = load_experiment(experiment, overrides=overrides)
    chosen = exp.variant(variant) if variant else exp.variants[0]
    x, y, groups = np.asarray(x, dtype="float32"), np.asarray(y, dtype=int), np.asarray(groups).astype(str)
    if not (len(x) == len(y) == len(groups)):
        raise ValueError(f"x, y and groups differ in length: {len(x)}, {len(y)}, {len(groups)}")
    if chosen.pretrain.kind == "flow" and x_pretrain is None:
        x_pretrain = x  # pre-training on the fine-tuning input itself
    if chosen.pretrain.kind == "macro":
        raise ValueError("macro-expression pre-training needs the macro corpus: use mer_keras.reproduce")
    rows = pd.DataFrame({"dataset": "arrays", "subject": groups,
                         "clip": clips if clips is not None else [f"row{i}" for i in range(len(y))], "label": y})
    settings = RunSettings.of(exp)
    configure_determinism(settings.deterministic)
    configure_graph_optimizer(settings.graph_optimizer)
    executor = make_executor(settings=settings)
    inputs = LosoInputs(x=x, y=y, groups=groups, rows=rows, num_classes=int(y.max()) + 1,
                        x_pre=None if x_pretrain is None else np.asarray(x_pretrain, dtype="float32"))
    with dtype_policy(exp.precision), tempfile.TemporaryDirectory(prefix="mer_keras_loso_") as tmp:
        preds = run_variant(chosen, inputs, Path(out or tmp), seed, executor=executor,
                            extra_setup=settings.as_dict())
    labels = list(range(inputs.num_classes))
    return {"predictions": preds, "scores": pooled_scores(preds, labels=labels),
            "intervals": intervals_of(preds, seed=seed, labels=labels)}
