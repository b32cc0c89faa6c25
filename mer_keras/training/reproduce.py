"""`mer-keras reproduce`: a paper's whole pipeline, LOSO over subjects, resumable, with its table.

Data (SynthME generated on demand, or a manifest CSV) -> cached preprocessing -> per variant: the macro-
expression pre-training once when the variant has one -> the runner's LOSO folds -> pooled scores beside the
published ones, MEGC logs, figures, and an export trained on all subjects when asked.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

from .. import __version__
from ..errors import InputError
from ..evaluation import FoldStore, loso_folds, pooled_scores, write_megc_log
from ..evaluation.baselines import baseline_predictions, baseline_results
from ..evaluation.bootstrap import intervals_of
from ..evaluation.plots import (
    plot_confusion_matrix,
    plot_scores_with_baselines,
    plot_training_curves,
    plot_tsne,
)
from ..evaluation.protocols import counts_beside_published
from ..evaluation.published import published_facts
from ..evaluation.report import format_table, results_table
from ..evaluation.results import (
    atomic_write_json,
    claim_run_dir,
    fold_details,
    library_versions,
    read_results_json,
    write_results_json,
)
from ..evaluation.stage_report import plot_stages, stage_summary
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
from .stages import PRETRAIN_STAGES, TrainSet

logger = logging.getLogger("mer_keras")


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


def reproduce(experiment: str, data: str = SYNTHME, out: str | Path | None = None, cache: str | Path | None = None,
              seed: int = 0, variants=None, export: bool = False, overrides=None, macro_manifest=None,
              tsne: bool = False, jobs: int = 1, executor: str = "sequential", address=None,
              subjects=None, tensorboard=None, also_leaky: bool = False) -> dict:
    """Run an experiment end to end; returns the results dict also written to ``out/results.json``.

    ``jobs`` > 1 runs folds in that many worker processes, ``executor="ray"`` on a Ray cluster (``address``);
    ``subjects`` runs only those folds (e.g. one SLURM array job each): the results are written by the run
    that finds every fold file present. ``also_leaky`` runs every leak-free variant a second time with the
    test-fold epoch selection of most public MER code (``config.with_test_fold_selection``), reported beside
    it as a leaky, non-comparable row."""
    t0 = time.perf_counter()
    overrides = overrides or {}
    exp = load_experiment(experiment, synthme=(data == SYNTHME), overrides=overrides)
    with dtype_policy(exp.precision):  # the caller's policy comes back afterwards
        return _run(exp, data=data, out=out, cache=cache, seed=seed, variants=variants, export=export,
                    overrides=overrides, macro_manifest=macro_manifest, tsne=tsne, jobs=jobs, executor=executor,
                    address=address, subjects=subjects, tensorboard=tensorboard, also_leaky=also_leaky, t0=t0)


def _run(exp: ExperimentConfig, *, data, out, cache, seed, variants, export, overrides, macro_manifest, tsne, jobs,
         executor, address, subjects, tensorboard, also_leaky, t0) -> dict:
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
    micro, macro = load_data(exp, data, cache, seed, macro_manifest, [v.name for v in chosen])
    if micro["subject"].nunique() < 2:
        raise InputError(f"{data}: LOSO needs at least 2 subjects, this data holds {micro['subject'].nunique()} "
                         f"({', '.join(map(str, micro['subject'].unique()[:1]))})")
    classes = class_names(micro)
    t = time.perf_counter()
    x, fallbacks = prepared(micro, exp.variants[0].preprocess, cache)
    pre_inputs = {}
    for v in chosen:
        pre = v.pretrain_input()
        if pre is not None and pre != v.preprocess and fingerprint(pre) not in pre_inputs:
            pre_inputs[fingerprint(pre)] = prepared(micro, pre, cache)
            fallbacks += pre_inputs[fingerprint(pre)][1]
    prepare_s = time.perf_counter() - t
    logger.info("%d clips, %d subjects, input %s, classes %s (%.1fs preprocessing)", len(micro),
                micro["subject"].nunique(), x.shape[1:], classes, prepare_s)
    comparable_clips, clip_note = protocol_clip_check(micro, exp.protocol)
    beside = counts_beside_published(micro)  # e.g. paper 001's 246 CASME II clips, other 51.2 %
    if beside:
        logger.info("%s", beside)
    y, groups = micro["label"].to_numpy(), micro["subject"].astype(str).to_numpy()

    previous = read_results_json(run_dir) if (run_dir / "results.json").is_file() else {}
    results_variants = dict(previous.get("variants", {}))  # variants run earlier into this folder stay
    predictions = {}
    for v in chosen:
        t = time.perf_counter()
        pre = v.pretrain_input()
        x_pre = None if pre is None or pre == v.preprocess else pre_inputs[fingerprint(pre)][0]
        inputs = LosoInputs(x=x, y=y, groups=groups, rows=micro, num_classes=len(classes), x_pre=x_pre)
        macro_weights = macro_pretrain(v, macro, cache, run_dir, seed, classes) if v.pretrain.kind == "macro" \
            else None
        # the thread count each fold really gets (``threads`` 0 depends on cores and --jobs): a resume with
        # another is refused, since TensorFlow's sums depend on it
        extra = {**settings.as_dict(), "threads_per_fold": fold_executor.threads_per_fold}
        preds = run_variant(v, inputs, run_dir, seed, macro_weights=macro_weights, executor=fold_executor,
                            extra_setup=extra, subjects=subjects, tensorboard=tensorboard)
        if preds is None:
            logger.info("[%s] folds %s written; the run without --subject gathers all folds", v.name,
                        ", ".join(subjects or []))
            continue
        predictions[v.name] = preds
        scores = pooled_scores(preds, labels=list(range(len(classes))))
        details = fold_details(run_dir, v.name)
        reasons = [r for r, bad in ((clip_note, not comparable_clips), ("run with --set overrides", bool(overrides)),
                                    ("leaky rule: " + leak_description(v), v.leaky), ("synthetic data", data == SYNTHME)) if bad]
        results_variants[v.name] = {
            "label": v.label, "model": v.model, "published": v.published, "leaky": v.leaky,
            "description": leak_description(v),
            "scores": scores, "intervals": intervals_by_dataset(preds, seed, len(classes)),
            "comparable": not reasons, "not_comparable_because": reasons,
            "config": to_plain(v), "provenance": provenance(overrides, seed, settings,
                                                                fold_executor.threads_per_fold),
            "timings": {"variant_s_this_run": time.perf_counter() - t,
                        "predict_ms_per_sample": _mean([d["timings"].get("predict_ms_per_sample")
                                                        for d in details])},
            "head_params": [d["head"] for d in details],
            "collapsed_folds": sum(bool(d["history"].get("collapse", {}).get("collapsed")) for d in details),
            "folds": len(details),
            "stages": stage_summary(details),
        }
        if any(stage in results_variants[v.name]["stages"] for stage in ("pretrain", "finetune")):
            plot_stages(results_variants[v.name]["stages"], run_dir / f"stages_{v.name}.png",
                        title=f"{v.label}: stage report", chance=1 / len(classes))
        write_megc_log(preds, run_dir / f"megc_log_{v.name}.txt")
        plot_confusion_matrix(preds["y_true"], preds["y_pred"], classes, run_dir / f"confusion_{v.name}.png",
                              title=f"{v.label} (pooled LOSO)")
        curves = [{k: h[k] for k in ("loss", "accuracy", "learning_rate", "inner_val_uar") if h.get(k)}
                  for h in (d["history"].get("finetune", {}) for d in details)]
        curves = [c for c in curves if c]  # no epoch trained (fixed features, e.g. LBP-TOP): nothing to draw
        if curves:
            plot_training_curves(curves, run_dir / f"curves_{v.name}.png")
        if export or tsne:
            out_dir = export_model(v, inputs, run_dir, seed, classes=classes, preprocess=exp.variants[0].preprocess,
                                   macro_weights=macro_weights, extra_setup=extra)
            if tsne:
                tsne_of_export(out_dir, x, micro, classes, run_dir / f"tsne_{v.name}.png")
    if not predictions:  # only some folds ran (--subject): nothing to pool yet
        return {"run_dir": str(run_dir), "partial": True}
    baselines = previous.get("baselines") or {}
    if exp.baselines:
        t = time.perf_counter()
        flow = next((pre_inputs[k][0] for k in pre_inputs), None)
        # a sequence of face frames ends at the apex: the floors read that apex frame, as with frames = "apex"
        apex = x[:, -1] if exp.variants[0].preprocess.frames == "sequence" else x
        baselines = same_fold_baselines(apex, flow, micro, classes, run_dir, seed)
        logger.info("same-fold baselines in %.1fs", time.perf_counter() - t)
    main = next(v.name for v in exp.variants if v.name in results_variants)
    if main in predictions:
        write_megc_log(predictions[main], run_dir / "megc_log.txt")
    config = {"name": exp.name, "paper": exp.paper, "title": exp.title, "protocol": exp.protocol,
              "source_file": exp.source_file, "deviations": list(exp.deviations), "data": data,
              "synthme_reductions": exp.synthme_reductions, "classes": classes,
              "variants": [v.name for v in exp.variants if v.name in results_variants]}
    write_results_json(run_dir, config=config, scores=results_variants[main]["scores"],
                       variants=results_variants,
                       timings={"prepare_s": prepare_s, "total_s_this_run": time.perf_counter() - t0},
                       seeds={"seed": seed},
                       extra={"experiment": exp.name, "paper": exp.paper, "dataset": data,
                              "synthetic": data == SYNTHME, "overridden": bool(overrides),
                              "n_clips": len(micro), "n_subjects": int(micro["subject"].nunique()),
                              "face_fallbacks": fallbacks, "deterministic": settings.deterministic,
                              "class_counts_beside_published": beside},
                       baselines=baselines)
    plot_scores_with_baselines(run_dir, run_dir / "scores_with_baselines.png")
    results = json.loads((run_dir / "results.json").read_text())
    results["run_dir"] = str(run_dir)
    return results


def same_fold_baselines(x, x_flow, micro, classes, run_dir: Path, seed: int) -> dict:
    """The floors every result is read against, on the run's own LOSO folds: the training fold's majority
    class and a linear SVM on the downsampled fine-tuning input (and on the flow pre-training input when
    the experiment has one); C is chosen inside each training fold. Predictions are kept per fold."""
    folds = loso_folds(micro)
    labels = list(range(len(classes)))
    entries, predictions = baseline_results(x, micro, folds, labels=labels, seed=seed)
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


def leak_description(v: VariantConfig) -> str:
    """What a leaky variant reads of the held-out subject ('' for a clean one)."""
    parts = []
    if v.finetune.checkpoint == "best_test_accuracy":
        parts.append("the checkpoint is chosen by the test subject's accuracy")
    if v.head.output_rule == "test_loss_leaky":
        parts.append("each test clip's output is chosen by the loss on its own label (paper 001's rule)")
    return "; ".join(parts)


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


def tsne_of_export(export_dir: Path, x, micro, classes, path: Path) -> Path:
    """t-SNE of the exported (all-subjects) model's embeddings of every clip: a picture of what the
    network learned, drawn from training data (it says nothing about held-out performance)."""
    model = keras.saving.load_model(export_dir / "model.keras")
    feats = batched_outputs(embedding_model(model), x)
    return plot_tsne(feats, micro["label"].to_numpy(), path, class_names=classes,
                     title="t-SNE of embeddings (model trained on all subjects)")


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
