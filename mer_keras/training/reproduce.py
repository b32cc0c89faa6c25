"""`mer-keras reproduce`: a paper's whole pipeline, LOSO over subjects, resumable, with its table.

Stages: data (SynthME generated on demand, or a manifest CSV) -> cached preprocessing -> per variant and per
held-out subject: pre-training (optical flow per fold, or macro-expression once) -> fine-tuning -> SVM or
softmax head -> predictions, written as soon as the fold ends. A rerun skips the finished folds.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from .config import load_experiment, variant_config

SYNTHME = "synthme"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def synthme_corpus(cache: Path, *, seed: int, subjects: int, clips_per_subject: int, macro=False,
                   size: int | None = None) -> Path:
    """Generate (once) and return a SynthME corpus under the cache, keyed by its arguments."""
    from ..datasets import synthme

    kind = "macro" if macro else "micro"
    root = cache / f"synthme-{kind}-seed{seed}-n{subjects}-k{clips_per_subject}"
    if not (root / "synthme.json").is_file():
        log(f"generating SynthME ({kind}: {subjects} subjects x {clips_per_subject} clips, seed {seed}) in {root}")
        kwargs = {"subjects": subjects, "clips_per_subject": clips_per_subject, "seed": seed, "macro": macro}
        if size:
            kwargs["size"] = size
        synthme.generate(root, **kwargs)
    return root


def load_data(cfg, data: str, cache: Path, seed: int):
    """Micro manifest (and the macro manifest when a variant pre-trains on macro-expressions)."""
    from ..datasets import load_manifest, read_manifest

    red = cfg.get("synthme_reductions", {})
    needs_macro = any(variant_config(cfg, v)["pretrain"]["kind"] == "macro" for v in cfg["variants"])
    macro = None
    if data == SYNTHME:
        root = synthme_corpus(cache, seed=seed, subjects=red.get("subjects", 12),
                              clips_per_subject=red.get("clips_per_subject", 10))
        micro = load_manifest("synthme", root, protocol="three-class")
        if needs_macro:
            mroot = synthme_corpus(cache, seed=seed, subjects=red.get("macro_subjects", 12),
                                   clips_per_subject=red.get("macro_clips_per_subject", 6), macro=True)
            macro = load_manifest("synthme-macro", mroot, protocol="three-class")
    else:
        micro = read_manifest(data, check_frames=True)
        if needs_macro:
            if not cfg.get("macro_manifest"):
                raise ValueError("this experiment pre-trains on macro-expressions: pass --macro-manifest M.csv "
                                 "(CK+ / Oulu-CASIA / JAFFE / MUG manifests, three-class)")
            macro = read_manifest(cfg["macro_manifest"], check_frames=True)
    return micro, macro


def prepared(manifest, pre: dict, cache: Path, masks=None, **run) -> np.ndarray:
    """The representation of every row under a config's ``preprocess`` section, from the cache under
    ``cache``; ``run`` holds how to run it (``n_jobs``, ``progress``), which never changes the arrays."""
    from ..preprocessing import prepare

    params = {k: v for k, v in pre.items() if k != "representation"}
    if masks is not None:
        params["masks"] = masks
    params["masks"] = tuple(params.get("masks") or ())
    return prepare(manifest, pre["representation"], cache / "prepared", **run, **params).stack()


def fingerprint(obj) -> str:
    """Short stable hash of JSON-able settings (arrays hashed by their bytes)."""
    def default(o):
        if isinstance(o, np.ndarray):
            return hashlib.sha256(np.ascontiguousarray(o).tobytes()).hexdigest() + str(o.shape)
        return str(o)

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=default).encode()).hexdigest()[:16]


def clip_ids(manifest) -> list[str]:
    return manifest[["dataset", "subject", "clip", "label"]].astype(str).agg("/".join, axis=1).tolist()


def class_names(manifest) -> list[str]:
    """Class names by label id 0..K-1 under the manifest's protocol; inconsistent labels are an error."""
    from ..datasets.labels import classes_for

    pairs = set(zip(manifest["label"].astype(int), manifest["class_name"]))
    protocols = set(manifest["protocol"])
    if len(protocols) == 1 and (protocol := protocols.pop()) != "all":
        classes = list(classes_for(protocol))
    else:
        classes = [name for _, name in sorted(pairs)]
    bad = sorted(p for p in pairs if not (0 <= p[0] < len(classes) and classes[p[0]] == p[1]))
    if bad or len({name for _, name in pairs}) != len(pairs):
        raise ValueError(f"labels and class names disagree with classes {classes}: {bad or sorted(pairs)}")
    return classes


def macro_pretrain(vcfg, macro, pre, cache: Path, run_dir: Path, seed: int, classes: list[str]) -> Path:
    """Paper 004's macro-expression training, once per model and settings: no micro-expression subject is
    involved. The weights file is named by a hash of everything that shapes it, so changed settings retrain."""
    from ..evaluation.results import atomic_write_json
    from .fit import train_classifier
    from .fold import fresh_model, set_seed

    macro_classes = class_names(macro)
    if macro_classes != classes:
        raise ValueError(f"the macro-expression manifest's classes {macro_classes} differ from the micro "
                         f"classes {classes}: the transferred head would mean other things")
    key = fingerprint({"model": vcfg["model"], "pretrain": vcfg["pretrain"], "finetune": vcfg["finetune"],
                       "preprocess": pre, "clips": clip_ids(macro), "seed": seed})
    path = run_dir / "pretrain" / f"macro_{vcfg['model']}_{key}.weights.h5"
    if path.is_file():
        return path
    t = time.perf_counter()
    x = prepared(macro, pre, cache)
    y = macro["label"].to_numpy()
    set_seed(seed)
    model = fresh_model(vcfg["model"], x.shape[1:], len(classes), vcfg["finetune"])
    p = vcfg["pretrain"]
    log(f"macro-expression pre-training of {vcfg['model']} on {len(x)} apex images ({p['epochs']} epochs)")
    hist = train_classifier(model, x, y, num_classes=len(classes), epochs=p["epochs"],
                            batch_size=p["batch_size"], optimizer=p["optimizer"], learning_rate=p["learning_rate"],
                            momentum=p.get("momentum", 0.9), balanced=p.get("balanced", True), seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path))
    atomic_write_json(path.with_suffix(".history.json"),
                      {"history": hist, "seconds": time.perf_counter() - t, "n": len(x)})
    return path


def run_variant(cfg, vcfg, micro, x, x_pre, run_dir, seed, macro_weights=None, progress=True):
    """All LOSO folds of one variant; finished folds of the same settings are read back, not recomputed."""
    from ..evaluation import FoldStore, loso_folds
    from ..evaluation.results import atomic_write_json
    from .fold import FoldData, run_fold

    store = FoldStore(run_dir, vcfg["name"])
    folds = loso_folds(micro)
    check_same_setup(store.folder, setup_of(vcfg, seed, x, x_pre, micro, macro_weights))
    num_classes = len(cfg["classes"])
    y = micro["label"].to_numpy()
    groups = micro["subject"].to_numpy()
    t_variant = time.perf_counter()
    done_now = 0
    for k, (subject, tr, te) in enumerate(folds, 1):
        if store.done(subject):
            continue
        t = time.perf_counter()
        data = FoldData(x_train=x[tr], y_train=y[tr], groups_train=groups[tr], x_test=x[te], y_test=y[te],
                        x_pre_train=None if x_pre is None else x_pre[tr], num_classes=num_classes)
        res = run_fold(vcfg, data, seed=seed, pretrained_weights=macro_weights,
                       pretrain_path=run_dir / "pretrain" / vcfg["name"] / f"{_safe(subject)}.weights.h5")
        rows = micro.iloc[te][["dataset", "subject", "clip"]].copy()
        rows["y_true"] = y[te]
        rows["y_pred"] = res.y_pred
        for c in range(res.scores.shape[1] if res.scores.ndim == 2 else 0):
            rows[f"score_{c}"] = res.scores[:, c]
        atomic_write_json(store.path_for(subject).with_suffix(".json"),
                          {"history": res.history, "head": res.head_params, "timings": res.timings,
                           "load_report": res.load_report})
        store.save(subject, rows)
        done_now += 1
        if progress:
            elapsed = time.perf_counter() - t_variant
            left = sum(not store.done(s) for s, _, _ in folds)
            eta = elapsed / done_now * left
            log(f"[{vcfg['name']}] fold {k}/{len(folds)} {subject}: {int((res.y_pred == y[te]).sum())}/{len(te)} "
                f"correct, {time.perf_counter() - t:.1f}s (eta {eta / 60:.1f} min)")
    preds = store.load_all()
    expected = {f.subject for f in folds}
    if set(preds["subject"]) != expected:
        raise ValueError(f"{store.folder} holds folds of subjects {sorted(set(preds['subject']) - expected)} "
                         f"and lacks {sorted(expected - set(preds['subject']))}: not this run's subjects")
    return preds


def setup_of(vcfg, seed, x, x_pre, micro, macro_weights) -> dict:
    """Everything that decides a variant's fold results (inputs by hash), for the resume check."""
    from .. import __version__

    return {"variant": vcfg, "seed": seed, "package": __version__,
            "inputs": fingerprint({"x": x, "x_pre": x_pre}), "clips": fingerprint(clip_ids(micro)),
            "macro_weights": None if macro_weights is None else Path(macro_weights).name}


def check_same_setup(folder: Path, setup: dict) -> None:
    """Resume only what the same settings started: folds of another configuration, seed, input or clip
    list are never mixed into this run's pooled scores."""
    from ..evaluation.results import atomic_write_json

    path = folder / SETUP_FILE
    text = _as_saved(setup)
    if path.is_file():
        old = json.loads(path.read_text())
        if old != text:
            changed = sorted(k for k in set(old) | set(text) if old.get(k) != text.get(k))
            if "variant" in changed:
                changed += [f"variant.{k}" for k in sorted(set(old["variant"]) | set(text["variant"]))
                            if old["variant"].get(k) != text["variant"].get(k)]
            raise ValueError(f"{folder} holds folds run with other settings ({', '.join(changed)} differ); "
                             f"use another --out, or delete {folder} to recompute")
        return
    if any(folder.glob("*.csv")):
        raise ValueError(f"{folder} holds fold results without the {SETUP_FILE} that says how they were made; "
                         f"use another --out, or delete {folder} to recompute")
    atomic_write_json(path, text)


SETUP_FILE = "setup.json"


def _as_saved(setup: dict) -> dict:
    """``setup`` as it reads back from its JSON file, so a saved and a fresh setup compare equal."""
    return json.loads(json.dumps(setup, sort_keys=True, default=str))


def _safe(subject: str) -> str:
    return subject.replace("/", "__")


def _fold_details(run_dir: Path, variant: str) -> list[dict]:
    """The per-fold sidecars (history, head, timings) of the variant's fold CSVs."""
    folder = run_dir / "folds" / variant
    return [json.loads(p.with_suffix(".json").read_text()) for p in sorted(folder.glob("*.csv"))
            if p.with_suffix(".json").is_file()]


def reproduce(experiment: str, data: str = SYNTHME, out: str | Path | None = None, cache: str | Path | None = None,
              seed: int = 0, variants=None, export: bool = False, overrides=None, macro_manifest=None,
              progress=True, tsne: bool = False) -> dict:
    """Run an experiment end to end; returns the results dict also written to ``out/results.json``."""
    from ..evaluation import pooled_scores, write_megc_log
    from ..evaluation.plots import plot_confusion_matrix, plot_training_curves
    from ..evaluation.results import read_results_json, write_results_json

    t0 = time.perf_counter()
    cfg = load_experiment(experiment, synthme=(data == SYNTHME), overrides=overrides)
    cfg["overrides"] = overrides or {}
    if macro_manifest:
        cfg["macro_manifest"] = str(macro_manifest)
    run_dir = Path(out or Path("runs") / cfg["name"])
    cache = Path(cache or run_dir.parent / "cache")
    run_dir.mkdir(parents=True, exist_ok=True)
    timings = {}

    micro, macro = load_data(cfg, data, cache, seed)
    cfg["classes"] = class_names(micro)
    t = time.perf_counter()
    x = prepared(micro, cfg["preprocess"], cache)
    x_pre = {}
    for v in cfg["variants"]:
        pm = pretrain_masks(variant_config(cfg, v))
        if pm is not None and pm not in x_pre:
            x_pre[pm] = prepared(micro, cfg["preprocess"], cache, masks=list(pm))
    timings["prepare_s"] = time.perf_counter() - t
    log(f"{len(micro)} clips, {micro['subject'].nunique()} subjects, input {x.shape[1:]}, "
        f"classes {cfg['classes']} ({timings['prepare_s']:.1f}s preprocessing)")

    chosen = [v for v in cfg["variants"] if not variants or v["name"] in variants]
    if not chosen:
        raise ValueError(f"no variant among {variants}; known: {[v['name'] for v in cfg['variants']]}")
    previous = read_results_json(run_dir) if (run_dir / "results.json").is_file() else {}
    results_variants = dict(previous.get("variants", {}))  # variants run earlier into this folder stay
    predictions = {}
    for v in chosen:
        vcfg = variant_config(cfg, v)
        t = time.perf_counter()
        pm = pretrain_masks(vcfg)
        xp = None if pm is None else x_pre[pm]
        macro_weights = None
        if vcfg["pretrain"]["kind"] == "macro":
            macro_weights = macro_pretrain(vcfg, macro, cfg["preprocess"], cache, run_dir, seed, cfg["classes"])
        preds = run_variant(cfg, vcfg, micro, x, xp, run_dir, seed, macro_weights=macro_weights,
                            progress=progress)
        predictions[v["name"]] = preds
        scores = pooled_scores(preds, labels=list(range(len(cfg["classes"]))))
        details = _fold_details(run_dir, v["name"])
        fold_t = [d["timings"] for d in details]
        results_variants[v["name"]] = {
            "label": vcfg["label"], "model": vcfg["model"], "published": vcfg["published"],
            "leaky": vcfg["leaky"], "scores": scores,
            "config": {k: vcfg[k] for k in ("preprocess", "pretrain", "finetune", "head")},
            "timings": {"variant_s_this_run": time.perf_counter() - t,
                        "predict_ms_per_sample": float(np.mean([f.get("predict_ms_per_sample", np.nan)
                                                                for f in fold_t])) if fold_t else None},
            "head_params": [d["head"] for d in details],
        }
        write_megc_log(preds, run_dir / f"megc_log_{v['name']}.txt")
        plot_confusion_matrix(preds["y_true"], preds["y_pred"], cfg["classes"],
                              run_dir / f"confusion_{v['name']}.png", title=f"{vcfg['label']} (pooled LOSO)")
        curves = [d["history"].get("finetune", {}) for d in details]
        if curves:
            plot_training_curves(curves, run_dir / f"curves_{v['name']}.png")
        if export or tsne:
            out_dir = export_model(vcfg, micro, x, xp, run_dir, seed, cfg, macro_weights)
        if tsne:
            tsne_of_export(out_dir, x, micro, cfg["classes"], run_dir / f"tsne_{v['name']}.png")
    # the experiment's main variant (its first) heads the results when it has been run into this folder
    main = next(v["name"] for v in cfg["variants"] if v["name"] in results_variants)
    if main in predictions:
        write_megc_log(predictions[main], run_dir / "megc_log.txt")
    timings["total_s_this_run"] = time.perf_counter() - t0
    clean_cfg = {k: v for k, v in cfg.items() if k != "variants"}
    clean_cfg["data"] = data
    clean_cfg["variants"] = [v["name"] for v in cfg["variants"] if v["name"] in results_variants]
    write_results_json(run_dir, config=clean_cfg, scores=results_variants[main]["scores"],
                       variants=results_variants, timings=timings, seeds={"seed": seed},
                       extra={"experiment": cfg["name"], "paper": cfg.get("paper"), "dataset": data,
                              "synthetic": data == SYNTHME, "overridden": bool(cfg["overrides"]),
                              "n_clips": len(micro), "n_subjects": int(micro["subject"].nunique())})
    results = json.loads((run_dir / "results.json").read_text())
    results["run_dir"] = str(run_dir)
    return results


def pretrain_masks(vcfg) -> tuple | None:
    """Masks of the flow pre-training input when they differ from the fine-tuning input's, else None."""
    pm = vcfg["pretrain"].get("masks")
    if vcfg["pretrain"]["kind"] != "flow" or pm is None:
        return None
    return tuple(pm)


def export_model(vcfg, micro, x, x_pre, run_dir: Path, seed: int, cfg, macro_weights=None) -> Path:
    """Train the variant on *all* subjects (no test subject left) and save weights + head for `predict`.

    The same stages as a fold (same pre-training input, same macro weights); an export made with other
    settings is recomputed, never reused.
    """
    import joblib

    from ..evaluation.results import atomic_write_json
    from .fold import FoldData, run_fold

    out = run_dir / "export" / vcfg["name"]
    setup = _as_saved(setup_of(vcfg, seed, x, x_pre, micro, macro_weights))
    if (out / "config.json").is_file() and (out / SETUP_FILE).is_file() \
            and json.loads((out / SETUP_FILE).read_text()) == setup:
        return out
    y = micro["label"].to_numpy()
    data = FoldData(x_train=x, y_train=y, groups_train=micro["subject"].to_numpy(), x_test=x[:1], y_test=y[:1],
                    x_pre_train=x_pre, num_classes=len(cfg["classes"]))
    log(f"[{vcfg['name']}] exporting a model trained on all {micro['subject'].nunique()} subjects")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").unlink(missing_ok=True)
    res = run_fold(vcfg, data, seed=seed, pretrain_path=out / "pretrain.weights.h5",
                   pretrained_weights=macro_weights)
    res.model.save_weights(str(out / "model.weights.h5"))
    res.model.save(str(out / "model.keras"))
    if res.head is not None:
        joblib.dump(res.head, out / "head.joblib")
    else:
        (out / "head.joblib").unlink(missing_ok=True)
    atomic_write_json(out / SETUP_FILE, setup)
    atomic_write_json(out / "config.json",  # written last: its presence means the export is complete
                      {"model": vcfg["model"], "preprocess": cfg["preprocess"], "classes": cfg["classes"],
                       "head": vcfg["head"]["kind"], "input_shape": list(x.shape[1:])})
    return out


def tsne_of_export(export_dir: Path, x, micro, classes, path: Path) -> Path:
    """t-SNE of the exported (all-subjects) model's embeddings of every clip: a picture of what the
    network learned, drawn from training data (it says nothing about held-out performance)."""
    import keras

    from ..evaluation.plots import plot_tsne
    from ..models import embedding_model
    from .embeddings import batched_outputs

    model = keras.saving.load_model(export_dir / "model.keras")
    feats = batched_outputs(embedding_model(model), x)
    return plot_tsne(feats, micro["label"].to_numpy(), path, class_names=classes,
                     title="t-SNE of embeddings (model trained on all subjects)")


def print_table(run_dirs) -> str:
    from ..evaluation.report import format_table, results_table

    text = format_table(results_table([str(r) for r in run_dirs]))
    print(text)
    return text

