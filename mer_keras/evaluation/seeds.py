"""Runs of one setting over several training seeds (``mer-keras table RUN... --seeds``).

A run's intervals resample subjects, not training runs: on realdata-dev two seeds of one recipe differed by
-0.073 UF1, "distinguishable" by the paired subject bootstrap (docs/stage-report.md). So a recipe's level is
its seeds' spread, and each seed's paired difference to its own same-fold linear SVM says how often the
recipe clears the floor; a two-level bootstrap (seeds and subjects resampled together,
``bootstrap.seeds_paired_bootstrap``) gives one interval for the mean difference over the seeds. The runs are
made one seed at a time (``reproduce ... --seed k --out RUN_k``); this module reads them back and refuses runs
that differ in anything else.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..training.config import with_current_defaults
from .bootstrap import paired_bootstrap, seeds_paired_bootstrap
from .metrics import ALL, pooled_scores
from .report import _run_name, baseline_row_label, fold_predictions
from .results import read_results_json

FLOOR = "linear_svm"
"""The floor each seed is read against unless another is named (``--floor linear_svm_mirrored``)."""
SEED_COLUMNS = ("experiment", "variant", "seed", "run", "uf1", "uar", "floor_uf1", "difference", "low", "high",
                "seeds_low", "seeds_high")
"""``seeds_low`` / ``seeds_high``: the two-level interval of the variant's mean difference over its seeds (the
same on each of its rows)."""


def _setting(doc: dict) -> dict:
    """What seeds of one setting share: the data and every variant's resolved configuration (its label, a
    display name, aside; a setting an older run could not record, at its default)."""
    variants = {name: {k: v for k, v in with_current_defaults(variant.get("config") or {}).items() if k != "label"}
                for name, variant in (doc.get("variants") or {}).items()}
    return json.loads(json.dumps({"data": (doc.get("config") or {}).get("data"), "variants": variants},
                                 sort_keys=True, default=str))


def _first_difference(a, b, where: str = "") -> str:
    """The first key path at which two settings differ, e.g. ``variants.x.finetune.epochs: 20 vs 100``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else str(key))
    return f"{where}: {a!r} vs {b!r}"


def seed_summary(run_dirs, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 floor: str = FLOOR) -> pd.DataFrame:
    """One row per run and variant (``SEED_COLUMNS``): its seed, pooled UF1 / UAR and, where the run has the
    same-fold ``floor`` (a baseline kind), the paired UF1 difference to it with its interval, and the two-level
    (seeds and subjects) interval of the mean difference over the seeds.

    The runs must be one experiment with the same data and settings and distinct seeds (an ``InputError``
    names the first run that differs); at least two are needed. A floor other than the default that a run
    lacks is an ``InputError`` too.
    """
    run_dirs = [Path(d) for d in ([run_dirs] if isinstance(run_dirs, (str, Path)) else run_dirs)]
    if len(run_dirs) < 2:
        raise InputError("--seeds compares runs of one setting made with different --seed: give at least two runs")
    docs = [read_results_json(d) for d in run_dirs]
    first, experiment = _setting(docs[0]), _run_name(run_dirs[0], docs[0])
    seeds = [(doc.get("seeds") or {}).get("seed") for doc in docs]
    for run_dir, doc in zip(run_dirs[1:], docs[1:]):
        if _run_name(run_dir, doc) != experiment:
            raise InputError(f"{run_dir}: experiment {_run_name(run_dir, doc)!r}, not {experiment!r} as "
                             f"{run_dirs[0]}; --seeds compares runs that differ only by their --seed")
        if _setting(doc) != first:
            raise InputError(f"{run_dir}: not the settings of {run_dirs[0]} "
                             f"({_first_difference(_setting(doc), first)}); --seeds compares runs that differ only "
                             "by their --seed")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1}, key=str)
    if repeated:
        twice = ", ".join(str(d) for d, s in zip(run_dirs, seeds) if s == repeated[0])
        raise InputError(f"--seeds: seed {repeated[0]} was given twice ({twice}); the same seed gives the same numbers")
    rows, pairs = [], {}
    for run_dir, doc, run_seed in zip(run_dirs, docs, seeds):
        preds = fold_predictions(run_dir, doc)  # by label; a variant is named by its key (labels may be reworded)
        floor_preds = preds.get(baseline_row_label(floor))
        if floor_preds is None and floor != FLOOR:
            raise InputError(f"{run_dir}: no same-fold floor {floor!r} (it has {sorted(doc.get('baselines') or {})}); "
                             "linear_svm_mirrored is scored where the run was made with mirrored_floor = true")
        floor_uf1 = None if floor_preds is None else pooled_scores(floor_preds)[ALL]["uf1"]
        for name, variant in (doc.get("variants") or {}).items():
            p = preds.get(str(variant.get("label") or name))
            if p is None:
                continue
            scores = pooled_scores(p)[ALL]
            row = {"experiment": _run_name(run_dir, doc), "variant": name, "seed": run_seed, "run": str(run_dir),
                   "uf1": scores["uf1"], "uar": scores["uar"]}
            if floor_preds is not None:
                d = paired_bootstrap(p, floor_preds, ("uf1",), n_boot=n_boot, seed=seed, level=level)["uf1"]
                row.update(floor_uf1=floor_uf1, difference=d.difference, low=d.low, high=d.high)
                pairs.setdefault(name, []).append((p, floor_preds))
            rows.append(row)
    df = pd.DataFrame(rows, columns=list(SEED_COLUMNS))
    for name, variant_pairs in pairs.items():
        if len(variant_pairs) == (df["variant"] == name).sum():  # every seed has its floor
            d = seeds_paired_bootstrap(variant_pairs, ("uf1",), n_boot=n_boot, seed=seed, level=level)["uf1"]
            df.loc[df["variant"] == name, ["seeds_low", "seeds_high"]] = [d.low, d.high]
    return df


def format_seed_summary(df: pd.DataFrame, level: float = 0.95, floor: str = FLOOR) -> str:
    """Each variant: one line per seed, then the mean, spread and how many seeds clear their floor."""
    header = (f"Seeds of one setting ({level:.0%} paired intervals against each seed's same-fold floor "
              f"{baseline_row_label(floor)!r}):")
    lines = [header]
    for (experiment, variant), part in df.groupby(["experiment", "variant"], sort=False):
        lines.append(f"{experiment} [{variant}]")
        for r in part.itertuples():
            floor = ("" if pd.isna(r.difference) else
                     f"  floor {r.floor_uf1:.3f}, minus floor {r.difference:+.3f} [{r.low:+.3f}, {r.high:+.3f}]")
            lines.append(f"  seed {r.seed}: UF1 {r.uf1:.3f}  UAR {r.uar:.3f}{floor}  ({r.run})")
        uf1 = part["uf1"].tolist()
        spread = (f"sd {statistics.stdev(uf1):.3f}, " if len(uf1) > 1 else "") + f"range {min(uf1):.3f}-{max(uf1):.3f}"
        summary = f"  mean UF1 {statistics.mean(uf1):.3f} over {len(uf1)} seeds ({spread})"
        if part["difference"].notna().all():
            above = int((part["low"] > 0).sum())
            summary += (f"; minus floor: mean {part['difference'].mean():+.3f}, interval above 0 in {above} of "
                        f"{len(part)} seeds")
            if part["seeds_low"].notna().all():
                summary += (f"\n  mean minus floor over seeds and subjects (two-level bootstrap): "
                            f"{part['difference'].mean():+.3f} [{part['seeds_low'].iloc[0]:+.3f}, "
                            f"{part['seeds_high'].iloc[0]:+.3f}]")
        lines.append(summary)
    return "\n".join(lines) + "\n"
