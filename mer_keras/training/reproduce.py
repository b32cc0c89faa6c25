"""`mer-keras reproduce`: a paper's whole pipeline, LOSO over subjects, resumable, with its table.

One way through: plan (variants, run settings, executor, folders) -> inputs (data, cached preprocessing) ->
runner (per variant: the macro-expression pre-training once when it has one, then the LOSO folds) -> report
(``evaluation.run_report``: pooled scores beside the published ones, same-fold baselines, MEGC logs,
figures). An export trained on all subjects (and its t-SNE) is made when asked.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..evaluation.plots import plot_tsne
from ..evaluation.protocols import counts_beside_published
from ..evaluation.results import claim_run_dir, library_versions, read_results_json
from ..evaluation.run_report import (  # noqa: F401 - intervals_by_dataset, leak_description, print_table: importable here as before
    intervals_by_dataset,
    leak_description,
    not_comparable_because,
    print_table,
    report_variant,
    same_fold_baselines,
    write_run,
)
from ..files import atomic_write_json
from ..models import embedding_model
from .config import (
    ExperimentConfig,
    VariantConfig,
    load_experiment,
    to_plain,
    with_test_fold_selection,
)
from .data import (
    SYNTHME,
    class_names,
    clip_ids,
    fingerprint,
    load_data,
    prepared,
    protocol_clip_check,
)
from .embeddings import batched_outputs
from .executors import make_executor
from .networks import (
    RunSettings,
    configure_determinism,
    configure_graph_optimizer,
    dtype_policy,
)
from .runner import LosoInputs, export_model, run_variant
from .stages import PRETRAIN_STAGES, TrainSet, array_kind

logger = logging.getLogger("mer_keras")


@dataclass
class RunPlan:
    """What a run does and where: the chosen variants (leaky twins added), run settings, fold executor, folders."""

    chosen: list[VariantConfig]
    settings: RunSettings
    executor: object
    run_dir: Path
    cache: Path


@dataclass
class RunInputs:
    """What every variant of a run shares: the manifests, the prepared arrays (fine-tuning input, and each
    distinct pre-training input by fingerprint) and what the report says of the clip set."""

    micro: pd.DataFrame
    macro: pd.DataFrame | None
    classes: list
    x: np.ndarray
    pre_inputs: dict
    fallbacks: list
    prepare_s: float
    comparable_clips: bool
    clip_note: str
    beside: str | None

    def loso(self, v: VariantConfig) -> LosoInputs:
        pre = v.pretrain_input()
        x_pre = None if pre is None or pre == v.preprocess else self.pre_inputs[fingerprint(pre)][0]
        return LosoInputs(x=self.x, y=self.micro["label"].to_numpy(), groups=self.micro["subject"].astype(str).to_numpy(),
                          rows=self.micro, num_classes=len(self.classes), x_pre=x_pre)


def macro_pretrain(variant: VariantConfig, macro, cache: Path, run_dir: Path, seed: int, classes) -> Path:
    """Paper 004's macro-expression training, once per model and settings: no micro-expression subject is
    involved. The weights file is named by a hash of everything that shapes it, so changed settings retrain.

    The macro network has the macro manifest's classes. With ``pretrain.transfer = "backbone"`` only the
    backbone moves (the head starts fresh), so the macro classes need not be the micro ones (paper 002: a
    three-class facial-expression corpus before CASME II's five classes); with ``"all"`` the head moves too,
    and differing classes are refused."""
    macro_classes = class_names(macro)
    if variant.pretrain.transfer != "backbone" and macro_classes != list(classes):
        raise InputError(f"the macro-expression manifest's classes {macro_classes} differ from the micro "
                         f"classes {classes}: the transferred head would mean other things "
                         "(pretrain.transfer = 'backbone' transfers the backbone only)")
    key = fingerprint({"model": variant.model, "pretrain": to_plain(variant.pretrain),
                       "network": to_plain(variant.network), "preprocess": to_plain(variant.preprocess),
                       "clips": clip_ids(macro), "seed": seed})
    path = Path(run_dir) / "pretrain" / f"macro_{variant.model}_{key}.weights.h5"
    if path.is_file():
        return path
    t = time.perf_counter()
    x, _ = prepared(macro, variant.preprocess, cache)
    data = TrainSet(x, macro["label"].to_numpy(), macro["subject"].astype(str).to_numpy(), len(macro_classes))
    logger.info("macro-expression pre-training of %s on %d images (%d epochs)", variant.model, len(x),
                variant.pretrain.epochs)
    _, history = PRETRAIN_STAGES["macro"].run(variant, data, seed=seed, weights_path=path)
    atomic_write_json(path.with_suffix(".history.json"),
                      {"history": history, "seconds": time.perf_counter() - t, "n": len(x)})
    return path


def provenance(overrides: dict, seed: int, settings: RunSettings, threads_per_fold: int) -> dict:
    """What produced a variant's numbers: overrides, seed, run settings and the thread count they gave each
    fold, commit, command line, versions."""
    commit = None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
        if out.returncode == 0:
            commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"overrides": overrides, "seed": seed, **settings.as_dict(), "threads_per_fold": threads_per_fold,
            "git_commit": commit,
            "command_line": sys.argv, "package": __version__, "versions": library_versions()}


def reproduce(experiment: str | ExperimentConfig, data: str = SYNTHME, out: str | Path | None = None,
              cache: str | Path | None = None, seed: int = 0, variants=None, export: bool = False, overrides=None, macro_manifest=None,
              tsne: bool = False, jobs: int = 1, executor: str = "sequential", address=None,
              subjects=None, tensorboard=None, also_leaky: bool = False) -> dict:
    """Run an experiment end to end; returns the results dict also written to ``out/results.json``.

    ``jobs`` > 1 runs folds in that many worker processes, ``executor="ray"`` on a Ray cluster (``address``);
    ``subjects`` runs only those folds (e.g. one SLURM array job each): the results are written by the run
    that finds every fold file present. ``also_leaky`` runs every leak-free variant a second time with the
    test-fold epoch selection of most public MER code (``config.with_test_fold_selection``), reported beside
    it as a leaky, non-comparable row. ``experiment`` is a name, resolved here with ``overrides``, or the
    ``ExperimentConfig`` they already resolved (the CLI resolves once and passes it down); ``overrides`` are
    recorded with the results either way."""
    t0 = time.perf_counter()
    overrides = overrides or {}
    exp = experiment if isinstance(experiment, ExperimentConfig) else load_experiment(
        experiment, synthme=(data == SYNTHME), overrides=overrides)
    with dtype_policy(exp.precision):  # the caller's policy comes back afterwards
        return _run(exp, data=data, out=out, cache=cache, seed=seed, variants=variants, export=export,
                    overrides=overrides, macro_manifest=macro_manifest, tsne=tsne, jobs=jobs, executor=executor,
                    address=address, subjects=subjects, tensorboard=tensorboard, also_leaky=also_leaky, t0=t0)


def _run(exp: ExperimentConfig, *, data, out, cache, seed, variants, export, overrides, macro_manifest, tsne, jobs,
         executor, address, subjects, tensorboard, also_leaky, t0) -> dict:
    """plan -> inputs -> runner (each variant, reported as its folds are in) -> the run's report."""
    plan = plan_run(exp, variants=variants, also_leaky=also_leaky, executor=executor, jobs=jobs, address=address,
                    out=out, cache=cache)
    inputs = run_inputs(exp, plan, data, seed, macro_manifest)
    previous = read_results_json(plan.run_dir) if (plan.run_dir / "results.json").is_file() else {}
    results_variants = dict(previous.get("variants", {}))  # variants run earlier into this folder stay
    predictions = {}
    for v in plan.chosen:
        t = time.perf_counter()
        loso = inputs.loso(v)
        macro_weights = macro_pretrain(v, inputs.macro, plan.cache, plan.run_dir, seed, inputs.classes) \
            if v.pretrain.kind == "macro" else None
        # the thread count each fold really gets (``threads`` 0 depends on cores and --jobs): a resume with
        # another is refused, since TensorFlow's sums depend on it
        extra = {**plan.settings.as_dict(), "threads_per_fold": plan.executor.threads_per_fold}
        preds = run_variant(v, loso, plan.run_dir, seed, macro_weights=macro_weights, executor=plan.executor,
                            extra_setup=extra, subjects=subjects, tensorboard=tensorboard)
        if preds is None:
            logger.info("[%s] folds %s written; the run without --subject gathers all folds", v.name,
                        ", ".join(subjects or []))
            continue
        predictions[v.name] = preds
        reasons = not_comparable_because(v, clip_note=inputs.clip_note, comparable_clips=inputs.comparable_clips,
                                         overridden=bool(overrides), synthetic=data == SYNTHME)
        results_variants[v.name] = report_variant(
            v, preds, plan.run_dir, classes=inputs.classes, seed=seed, reasons=reasons, config=to_plain(v),
            provenance=provenance(overrides, seed, plan.settings, plan.executor.threads_per_fold), started=t)
        if export or tsne:
            out_dir = export_model(v, loso, plan.run_dir, seed, classes=inputs.classes,
                                   preprocess=exp.variants[0].preprocess, macro_weights=macro_weights,
                                   extra_setup=extra)
            if tsne:
                tsne_of_export(out_dir, inputs.x, inputs.micro, inputs.classes, plan.run_dir / f"tsne_{v.name}.png")
    if not predictions:  # only some folds ran (--subject): nothing to pool yet
        return {"run_dir": str(plan.run_dir), "partial": True}
    return report_run(exp, plan, inputs, data=data, seed=seed, overrides=overrides, variants=results_variants,
                      predictions=predictions, baselines=previous.get("baselines") or {}, t0=t0)


def plan_run(exp: ExperimentConfig, *, variants, also_leaky, executor, jobs, address, out, cache) -> RunPlan:
    """The variants to run, the run settings applied to this process, the fold executor, and the run folder
    claimed for this experiment."""
    chosen = exp.select(variants)
    if also_leaky:
        chosen += [with_test_fold_selection(v) for v in chosen if not v.leaky]
    settings = RunSettings.of(exp)
    configure_determinism(settings.deterministic)
    configure_graph_optimizer(settings.graph_optimizer)
    fold_executor = make_executor(executor, jobs, address, settings)
    run_dir = Path(out or Path("runs") / exp.name)
    cache = Path(cache or run_dir.parent / "cache")
    claim_run_dir(run_dir, exp.name)
    return RunPlan(chosen, settings, fold_executor, run_dir, cache)


def run_inputs(exp: ExperimentConfig, plan: RunPlan, data: str, seed: int, macro_manifest) -> RunInputs:
    """The run's data, prepared once: the fine-tuning input and each distinct pre-training input."""
    micro, macro = load_data(exp, data, plan.cache, seed, macro_manifest, [v.name for v in plan.chosen])
    if micro["subject"].nunique() < 2:
        raise InputError(f"{data}: LOSO needs at least 2 subjects, this data holds {micro['subject'].nunique()} "
                         f"({', '.join(map(str, micro['subject'].unique()[:1]))})")
    classes = class_names(micro)
    t = time.perf_counter()
    x, fallbacks = prepared(micro, exp.variants[0].preprocess, plan.cache)
    pre_inputs = {}
    for v in plan.chosen:
        pre = v.pretrain_input()
        if pre is not None and pre != v.preprocess and fingerprint(pre) not in pre_inputs:
            pre_inputs[fingerprint(pre)] = prepared(micro, pre, plan.cache)
            fallbacks += pre_inputs[fingerprint(pre)][1]
    prepare_s = time.perf_counter() - t
    logger.info("%d clips, %d subjects, input %s, classes %s (%.1fs preprocessing)", len(micro),
                micro["subject"].nunique(), x.shape[1:], classes, prepare_s)
    comparable_clips, clip_note = protocol_clip_check(micro, exp.protocol)
    beside = counts_beside_published(micro)  # e.g. paper 001's 246 CASME II clips, other 51.2 %
    if beside:
        logger.info("%s", beside)
    return RunInputs(micro, macro, classes, x, pre_inputs, fallbacks, prepare_s, comparable_clips, clip_note, beside)


def report_run(exp: ExperimentConfig, plan: RunPlan, inputs: RunInputs, *, data, seed, overrides, variants,
               predictions, baselines, t0) -> dict:
    """Same-fold baselines when the experiment asks for them (else those of an earlier run stay), then
    results.json and the run's figures (``evaluation.run_report.write_run``)."""
    if exp.baselines:
        t = time.perf_counter()
        flow = next((inputs.pre_inputs[k][0] for k in inputs.pre_inputs), None)
        # a sequence of face frames ends at the apex: the floors read that apex frame, as with frames = "apex"
        apex = inputs.x[:, -1] if exp.variants[0].preprocess.frames == "sequence" else inputs.x
        mirror = array_kind(exp.variants[0].preprocess.representation) if exp.mirrored_floor else None
        baselines = same_fold_baselines(apex, flow, inputs.micro, inputs.classes, plan.run_dir, seed, mirror)
        logger.info("same-fold baselines in %.1fs", time.perf_counter() - t)
    main = next(v.name for v in exp.variants if v.name in variants)
    micro = inputs.micro
    config = {"name": exp.name, "paper": exp.paper, "title": exp.title, "protocol": exp.protocol,
              "source_file": exp.source_file, "deviations": list(exp.deviations), "data": data,
              "synthme_reductions": exp.synthme_reductions, "classes": inputs.classes,
              "variants": [v.name for v in exp.variants if v.name in variants]}
    extra = {"experiment": exp.name, "paper": exp.paper, "dataset": data, "synthetic": data == SYNTHME,
             "overridden": bool(overrides), "n_clips": len(micro), "n_subjects": int(micro["subject"].nunique()),
             "face_fallbacks": inputs.fallbacks, "deterministic": plan.settings.deterministic,
             "class_counts_beside_published": inputs.beside}
    return write_run(plan.run_dir, config=config, variants=variants, predictions=predictions, main=main,
                     prepare_s=inputs.prepare_s, started=t0, seed=seed, extra=extra, baselines=baselines)


def tsne_of_export(export_dir: Path, x, micro, classes, path: Path) -> Path:
    """t-SNE of the exported (all-subjects) model's embeddings of every clip: a picture of what the
    network learned, drawn from training data (it says nothing about held-out performance)."""
    model = keras.saving.load_model(export_dir / "model.keras")
    feats = batched_outputs(embedding_model(model), x)
    return plot_tsne(feats, micro["label"].to_numpy(), path, class_names=classes,
                     title="t-SNE of embeddings (model trained on all subjects)")
