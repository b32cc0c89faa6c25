"""Experiment configurations: the readable TOML files of ``experiments/``, resolved into plain dicts.

A config holds the paper's settings at top level; its ``[synthme]`` table holds the reductions used on the
synthetic corpus on a CPU (smaller input, fewer epochs). ``base = "other"`` inherits another experiment.
Each ``[[variants]]`` entry may override any section (``pretrain = { kind = "none" }``).
"""
from __future__ import annotations

import copy
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SECTIONS = ("preprocess", "pretrain", "finetune", "head")

DEFAULTS = {
    "preprocess": {"representation": "flow", "size": 224, "masks": [], "grayscale": False},
    "pretrain": {"kind": "none", "epochs": 10, "batch_size": 32, "optimizer": "adam",
                 "learning_rate": 0.001, "balanced": True, "masks": None},
    "finetune": {"epochs": 10, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.001,
                 "balanced": True, "balance": "none", "reduce_lr_on_plateau": False,
                 "gradual_unfreezing": False, "dropout": 0.5, "l2": 0.0,
                 "checkpoint": "last"},
    "head": {"kind": "svm", "kernels": ["linear", "rbf"], "C": [0.1, 1.0, 10.0], "inner_splits": 3},
}

LEAKY_CHECKPOINTS = {"best_test_accuracy"}
"""Checkpoint rules that look at the held-out subject: offered because papers used them, never default."""


def experiments_dir() -> Path:
    """The repository's ``experiments/`` folder (the package is installed editable from the checkout)."""
    return Path(__file__).resolve().parents[2] / "experiments"


def list_experiments() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.toml"))


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.suffix:
        path = experiments_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        raise FileNotFoundError(
            f"experiment {name_or_path!r} not found (looked for {path}); known: {', '.join(list_experiments())}"
        )
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    if "base" in raw:
        parent = _read(raw["base"])
        parent.pop("variants", None)
        parent.pop("name", None)
        raw = _merge(parent, raw)
    raw.setdefault("name", path.stem)
    raw["source_file"] = str(path)
    return raw


def load_experiment(name_or_path: str, synthme: bool = False, overrides: dict | None = None) -> dict:
    """Resolved experiment: defaults < file (< base) < [synthme] reductions < ``overrides``."""
    raw = _read(name_or_path)
    cfg = _merge(DEFAULTS, {k: v for k, v in raw.items() if k != "synthme"})
    reductions = raw.get("synthme", {})
    cfg["synthme_reductions"] = reductions if synthme else {}
    if synthme:
        for sec in SECTIONS:
            if sec in reductions:
                cfg[sec] = _merge(cfg[sec], reductions[sec])
        if "size" in reductions:
            cfg["preprocess"]["size"] = reductions["size"]
    if overrides:
        cfg = _merge(cfg, overrides)
    if not cfg.get("variants"):
        raise ValueError(f"experiment {cfg['name']!r} defines no [[variants]]")
    return cfg


def variant_config(cfg: dict, variant: dict) -> dict:
    """The sections of one variant: the experiment's, with the variant's overrides applied."""
    out = {sec: _merge(cfg[sec], variant.get(sec, {})) for sec in SECTIONS}
    out["preprocess"] = copy.deepcopy(cfg["preprocess"])
    out["model"] = variant["model"]
    out["name"] = variant["name"]
    out["label"] = variant.get("label", variant["name"])
    out["published"] = variant.get("published")
    out["leaky"] = out["finetune"].get("checkpoint", "last") in LEAKY_CHECKPOINTS
    return out
