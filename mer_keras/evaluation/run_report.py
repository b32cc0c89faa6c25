"""The report side of `mer-keras reproduce`: what a run writes and prints once its folds are in.

Per variant: its results.json entry (pooled scores, subject-bootstrap intervals, why it is or is not
comparable with the paper, the stage summary) and its figures and MEGC log; per run: the same-fold
baselines, results.json, the scores-with-baselines figure and the printed table. Everything here takes
plain data (predictions, arrays, dicts; a variant's config is only read), so the report never loads
TensorFlow: training computes embeddings and hands arrays over (``plots.plot_tsne``).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from .baselines import DEFAULT_KINDS, baseline_predictions, baseline_results
from .bootstrap import intervals_of
from .megc_log import write_megc_log
from .metrics import pooled_scores
from .plots import (
    plot_confusion_matrix,
    plot_scores_with_baselines,
    plot_training_curves,
)
from .protocols import loso_folds
from .published import published_facts
from .report import format_table, results_table
from .results import FoldStore, fold_details, read_results_json, write_results_json
from .stage_report import plot_stages, stage_summary

logger = logging.getLogger("mer_keras")

CURVE_KEYS = ("loss", "accuracy", "learning_rate", "inner_val_uar")


def leak_description(v) -> str:
    """What a leaky variant (a ``VariantConfig``) reads of the held-out subject ('' for a clean one)."""
    parts = []
    if v.finetune.checkpoint == "best_test_accuracy":
        parts.append("the checkpoint is chosen by the test subject's accuracy")
    if v.head.output_rule == "test_loss_leaky":
        parts.append("each test clip's output is chosen by the loss on its own label (paper 001's rule)")
    return "; ".join(parts)


def not_comparable_because(v, *, clip_note: str, comparable_clips: bool, overridden: bool,
                           synthetic: bool) -> list[str]:
    """Why a variant's numbers cannot stand beside the paper's (empty when they can)."""
    return [r for r, bad in ((clip_note, not comparable_clips), ("run with --set overrides", overridden),
                             ("leaky rule: " + leak_description(v), v.leaky), ("synthetic data", synthetic)) if bad]


def intervals_by_dataset(preds, seed: int, num_classes: int) -> dict:
    """Subject-bootstrap 95 % intervals of the pooled scores, for the composite and each dataset."""
    labels = list(range(num_classes))
    out = {"all": intervals_of(preds, seed=seed, labels=labels)}
    for dataset, part in preds.groupby("dataset"):
        out[str(dataset)] = intervals_of(part, seed=seed, labels=labels)
    return out


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def report_variant(v, preds, run_dir: Path, *, classes, seed: int, reasons: list[str], config: dict,
                   provenance: dict, started: float) -> dict:
    """A variant's results.json entry (``variant_result``), with its figures and MEGC log written."""
    details = fold_details(run_dir, v.name)
    entry = variant_result(v, preds, details, num_classes=len(classes), seed=seed, reasons=reasons, config=config,
                           provenance=provenance, started=started)
    write_variant_outputs(v, entry, preds, details, classes, run_dir)
    return entry


def variant_result(v, preds, details: list[dict], *, num_classes: int, seed: int, reasons: list[str], config: dict,
                   provenance: dict, started: float) -> dict:
    """A variant's results.json entry from its pooled predictions and fold sidecars (``fold_details``); ``v``
    is its ``VariantConfig``, ``config`` the same as plain data, ``started`` its ``time.perf_counter()`` start."""
    scores = pooled_scores(preds, labels=list(range(num_classes)))
    return {
        "label": v.label, "model": v.model, "published": v.published, "leaky": v.leaky,
        "description": leak_description(v),
        "scores": scores, "intervals": intervals_by_dataset(preds, seed, num_classes),
        "comparable": not reasons, "not_comparable_because": reasons,
        "config": config, "provenance": provenance,
        "timings": {"variant_s_this_run": time.perf_counter() - started,
                    "predict_ms_per_sample": _mean([d["timings"].get("predict_ms_per_sample") for d in details])},
        "head_params": [d["head"] for d in details],
        "collapsed_folds": sum(bool(d["history"].get("collapse", {}).get("collapsed")) for d in details),
        "folds": len(details),
        "stages": stage_summary(details),
    }


def write_variant_outputs(v, entry: dict, preds, details: list[dict], classes, run_dir: Path) -> None:
    """A variant's stage report, MEGC log, pooled confusion matrix and training curves, beside results.json."""
    if any(stage in entry["stages"] for stage in ("pretrain", "finetune")):
        plot_stages(entry["stages"], run_dir / f"stages_{v.name}.png", title=f"{v.label}: stage report",
                    chance=1 / len(classes))
    write_megc_log(preds, run_dir / f"megc_log_{v.name}.txt")
    plot_confusion_matrix(preds["y_true"], preds["y_pred"], classes, run_dir / f"confusion_{v.name}.png",
                          title=f"{v.label} (pooled LOSO)")
    curves = [{k: h[k] for k in CURVE_KEYS if h.get(k)}
              for h in (d["history"].get("finetune", {}) for d in details)]
    curves = [c for c in curves if c]  # no epoch trained (fixed features, e.g. LBP-TOP): nothing to draw
    if curves:
        plot_training_curves(curves, run_dir / f"curves_{v.name}.png")


def same_fold_baselines(x, x_flow, micro, classes, run_dir: Path, seed: int, mirror_kind: str | None = None) -> dict:
    """The floors every result is read against, on the run's own LOSO folds: the training fold's majority
    class and a linear SVM on the downsampled fine-tuning input (and on the flow pre-training input when
    the experiment has one; with ``mirror_kind``, also one trained on the clips and their mirrors); C is
    chosen inside each training fold. Predictions are kept per fold."""
    folds = loso_folds(micro)
    labels = list(range(len(classes)))
    kinds = DEFAULT_KINDS + (("linear_svm_mirrored",) if mirror_kind else ())
    entries, predictions = baseline_results(x, micro, folds, kinds=kinds, labels=labels, seed=seed,
                                            mirror_kind=mirror_kind)
    if x_flow is not None:
        preds = baseline_predictions(x_flow, micro, folds, kind="linear_svm", seed=seed)
        entries["linear_svm_flow"] = {"label": "linear SVM on the flow pre-training input (same folds)",
                                      "scores": pooled_scores(preds, labels=labels),
                                      "intervals": {}}
        predictions["linear_svm_flow"] = preds
    for kind, preds in predictions.items():
        entries[kind]["intervals"] = intervals_by_dataset(preds, seed, len(classes))
        store = FoldStore(run_dir, f"baseline_{kind}")
        for subject, part in preds.groupby("subject"):
            store.save(subject, part)
    return entries


def write_run(run_dir: Path, *, config: dict, variants: dict, predictions: dict, main: str, prepare_s: float,
              started: float, seed: int, extra: dict, baselines: dict) -> dict:
    """The run's MEGC log (its main variant), results.json and scores-with-baselines figure; returns the
    results as written, with ``run_dir``. ``started`` is the run's ``time.perf_counter()`` start."""
    if main in predictions:
        write_megc_log(predictions[main], run_dir / "megc_log.txt")
    write_results_json(run_dir, config=config, scores=variants[main]["scores"], variants=variants,
                       timings={"prepare_s": prepare_s, "total_s_this_run": time.perf_counter() - started},
                       seeds={"seed": seed}, extra=extra, baselines=baselines)
    plot_scores_with_baselines(run_dir, run_dir / "scores_with_baselines.png")
    results = json.loads((run_dir / "results.json").read_text())
    results["run_dir"] = str(run_dir)
    return results


def print_table(run_dirs, deviations=True) -> str:
    """The run's rows beside the published numbers, then each experiment's listed deviations."""
    text = format_table(results_table([str(r) for r in run_dirs]))
    for run_dir in run_dirs:
        paper = read_results_json(run_dir).get("config", {}).get("paper")
        facts = published_facts(paper) if paper else None
        if facts is not None and len(facts):
            for f in facts.itertuples():
                if "not published" in str(f.value):
                    text += f"\n{paper}: {f.what}: {f.value} ({f.source})\n"
    if deviations:
        for run_dir in run_dirs:
            doc = read_results_json(run_dir)
            devs = doc.get("config", {}).get("deviations") or []
            if devs:
                text += f"\nDeviations from the paper ({doc['config'].get('name')}):\n"
                text += "".join(f"  - {d}\n" for d in devs)
    print(text)
    return text
