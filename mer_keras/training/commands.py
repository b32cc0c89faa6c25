"""CLI commands of the training stage: `reproduce`, `predict`, `experiments` and `demo`."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from ..argtypes import positive_int, seed_list


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="run a paper's pipeline (LOSO) and print its table")
    p.add_argument("experiment", help="experiment name in experiments/ (see `mer-keras experiments`) or a .toml path")
    p.add_argument("--data", default="synthme", help="'synthme' (generated on demand) or a manifest CSV")
    p.add_argument("--out", help="run directory (default runs/<experiment>)")
    p.add_argument("--cache", help="cache for SynthME corpora and prepared inputs (default <out>/../cache)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=seed_list, metavar="K,K,...",
                   help="run the experiment once per seed, into OUT/seed_K, then print each seed against its own "
                        "same-fold floor, the mean and the spread (`table --seeds`): a recipe's level is its seeds'")
    p.add_argument("--variant", action="append", help="run only this variant (repeatable)")
    p.add_argument("--macro-manifest", help="macro-expression manifest for transfer-learning experiments")
    p.add_argument("--export", action="store_true", help="also train on all subjects and export weights + head")
    p.add_argument("--tsne", action="store_true", help="draw a t-SNE of the exported model's embeddings (implies --export)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set finetune.epochs=3 (JSON values); checked before "
                        "any work")
    p.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    p.add_argument("--jobs", type=positive_int, default=1, help="folds in N worker processes (each on its share of cores)")
    p.add_argument("--executor", choices=("sequential", "processes", "ray"), default="sequential",
                   help="where folds run (ray: pip install 'mer-keras[cluster]')")
    p.add_argument("--address", help="Ray cluster address for --executor ray ('auto' joins a running cluster)")
    p.add_argument("--subject", action="append", help="run only this subject's fold (repeatable; for array jobs)")
    p.add_argument("--tensorboard", metavar="DIR", help="write per-epoch training curves of every fold for TensorBoard")
    p.add_argument("--also-leaky", action="store_true",
                   help="run each variant a second time with each fold's epoch chosen on its test subject (what most "
                        "public MER code reports) and print both rows; the leaky row is never the headline")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("experiments", help="list the experiment configs")
    p.add_argument("--reference", action="store_true", help="print the configuration reference (Markdown)")
    p.set_defaults(func=_experiments)

    p = sub.add_parser("predict", help="predict clips (a manifest, a folder of clips, a clip folder or a video) "
                       "with an export; the model is loaded once")
    p.add_argument("clip", help="manifest CSV, folder of clip folders / videos, one clip folder of frames, or a video")
    p.add_argument("--weights", required=True, help="model.weights.h5 from `reproduce --export`")
    p.add_argument("--head", help="head file (default: the export's own, head.joblib beside the weights when its "
                   "config says head = svm)")
    p.add_argument("--softmax", action="store_true", help="use the network's softmax instead of the export's SVM head")
    p.add_argument("--config", help="config.json of the export (default: beside the weights)")
    p.add_argument("--onset", type=int, help="one clip: 0-based onset frame position (default first)")
    p.add_argument("--apex", help="one clip: 0-based apex frame position, 'spot' (the default for a clip or video: "
                   "the frame of peak face motion, its curve drawn beside --out, else in --figures) or 'middle'; on a "
                   "manifest, 'spot' re-spots its middle-frame apexes")
    p.add_argument("--allow-zero-motion", action="store_true",
                   help="predict clips whose onset equals their apex (refused by default: no motion to classify)")
    p.add_argument("--cache", help="keep prepared inputs here (default: a temporary folder)")
    p.add_argument("--out", help="CSV of predictions: per-class scores, apex_source, per-stage timings")
    p.add_argument("--figures", metavar="DIR", help="write one PNG per clip (aligned apex face, HSV flow, per-class "
                   "scores); the spotted clips' motion curves too when there is no --out")
    p.set_defaults(func=_predict)

    p = sub.add_parser("demo", help="the paper-000 experiment on a default SynthME corpus, end to end")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="folds in N worker processes (default: one per CPU core, at most 4); each fold runs on "
                        "one thread whatever N is, so the numbers do not depend on it")
    p.set_defaults(func=_demo)


def _reproduce(args) -> int:
    from .config import load_experiment, parse_overrides, to_plain

    overrides = parse_overrides(args.set)
    exp = load_experiment(args.experiment, synthme=(args.data == "synthme"), overrides=overrides)
    chosen = exp.select(args.variant)  # an unknown variant stops here, before any work
    if args.print_config:
        doc = to_plain(exp)
        doc["variants"] = [to_plain(v) for v in chosen]
        print(json.dumps(doc, indent=2))
        return 0
    from ..evaluation.results import check_run_dir

    if args.seeds and (args.seed != 0 or args.subject):
        from ..errors import ConfigError

        raise ConfigError("--seeds runs every fold once per seed: give it without --seed and --subject")
    out = Path(args.out or Path("runs") / exp.name)
    runs = [(k, out / f"seed_{k}") for k in args.seeds] if args.seeds else [(args.seed, out)]
    for _, run_out in runs:
        check_run_dir(run_out, exp.name)  # before TensorFlow is imported
    from .networks import builder_kwargs
    from .reproduce import print_table, reproduce

    if args.tensorboard and importlib.util.find_spec("tensorboard") is None:
        from ..errors import ConfigError

        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'mer-keras[tensorboard]'")
    for v in chosen:  # a network setting the model's builder does not take stops here too
        builder_kwargs(v.model, v.network)
    run_dirs = []
    for seed, run_out in runs:
        t = time.perf_counter()
        res = reproduce(exp, data=args.data, out=run_out if args.seeds else args.out, cache=args.cache, seed=seed,
                        variants=args.variant, export=args.export, overrides=overrides,
                        macro_manifest=args.macro_manifest, tsne=args.tsne, jobs=args.jobs, executor=args.executor,
                        address=args.address, subjects=args.subject, tensorboard=args.tensorboard,
                        also_leaky=args.also_leaky)
        run_dir = Path(res["run_dir"])
        if res.get("partial"):
            print(f"fold(s) {', '.join(args.subject)} written to {run_dir}/folds/; run again without --subject "
                  "to gather every fold")
            return 0
        print_table([run_dir])
        print(f"\nwall time {time.perf_counter() - t:.0f}s; results, MEGC logs and figures in {run_dir}/")
        run_dirs.append(run_dir)
    if args.seeds:
        from ..evaluation.seeds import format_seed_summary, seed_summary

        print()
        print(format_seed_summary(seed_summary(run_dirs)), end="")
    return 0


def _experiments(args) -> int:
    from .config import list_experiments, load_experiment, reference_markdown

    if args.reference:
        print(reference_markdown())
        return 0
    for name in list_experiments():
        exp = load_experiment(name)
        print(f"{name:32s} {exp.title}")
        for v in exp.variants:
            print(f"    {v.name:36s} {v.label}")
    return 0


def _predict(args) -> int:
    from .predict import predict

    res = predict(args.clip, args.weights, head=args.head, config=args.config, softmax=args.softmax,
                  onset=args.onset, apex=args.apex, cache=args.cache, allow_zero_motion=args.allow_zero_motion,
                  out=args.out, figures=args.figures)
    shown = ["subject", "clip", "true_class", "predicted", "apex_source"]
    print(res[[c for c in shown if c in res]].to_string(index=False))
    first = res.iloc[0]
    print(f"{len(res)} clip(s), head {first['head']}; model loaded once in {first['load_s']:.2f}s; per clip "
          f"preprocess {res['preprocess_s'].mean() * 1000:.0f} ms, network {res['network_s'].mean() * 1000:.0f} ms"
          + (f"; written to {args.out}" if args.out else ""))
    for kind, column in (("motion curve", "motion_curve"), ("figure", "figure")):
        written = [p for p in res[column] if p]
        if written:
            print(f"{len(written)} {kind}(s) written" + (f": {written[0]}" if len(written) == 1 else
                                                         f" to {Path(written[0]).parent}"))
    return 0


def _demo(args) -> int:
    """SynthME summary, then the paper-000 main experiment with export, the table, and one prediction."""
    from ..datasets import manifest as mf
    from .config import load_experiment
    from .data import load_data
    from .predict import predict_clip
    from .reproduce import print_table, reproduce

    t = time.perf_counter()
    out = Path(args.out)
    cache = out.parent / "cache"
    cfg = load_experiment("liu2022_shufflenet", synthme=True)
    micro, _ = load_data(cfg, "synthme", cache, args.seed)
    print("SynthME corpus: clips per subject and class")
    print(mf.summary(micro).to_string())
    jobs = args.jobs or min(4, os.cpu_count() or 1)
    reproduce(cfg, data="synthme", out=out, cache=cache, seed=args.seed, export=True, jobs=jobs)
    print()
    print_table([out])
    export = out / "export" / cfg.variants[0].name
    row = micro.iloc[0]
    pred = predict_clip(row["frames_dir"], export / "model.weights.h5", head=export / "head.joblib",
                        onset=int(row["onset_idx"]), apex=int(row["apex_idx"]))
    print(f"\nexample: `mer-keras predict {row['frames_dir']} --weights {export / 'model.weights.h5'} "
          f"--head {export / 'head.joblib'} --onset {row['onset_idx']} --apex {row['apex_idx']}`")
    print(f"  true class {row['class_name']}, predicted {pred['predicted']}, "
          f"stage times {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in pred['times'].items())}")
    print(f"\ndemo wall time {time.perf_counter() - t:.0f}s. Written to {out}/: results.json, megc_log.txt, "
          "confusion_*.png, curves_*.png, folds/, export/")
    sys.stdout.flush()
    return 0
