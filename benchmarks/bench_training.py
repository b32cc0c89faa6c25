"""Training throughput, one fold's time, and --jobs 1 vs --jobs 2, as ratios measured in one run.

1. ``throughput``: samples/s of one training step (batch 32, the package's compiled ``train_on_batch`` path)
   for each core model at its paper input, against ``keras.applications.MobileNetV2`` in the same process.
2. ``fold``: wall time of one LOSO fold of paper 000 at its paper settings (224 px, 30 + 30 epochs) on a SynthME
   corpus, broken down by stage, and the composite estimate (68 folds x the per-fold time scaled by training
   clips, 375 per fold against this corpus').
3. ``jobs``: wall time of ``reproduce`` with ``--jobs 1`` and ``--jobs 2`` on the same small-corpus folds, and
   whether their predictions are identical.

    python benchmarks/bench_training.py throughput [--steps 20] [--models shufflenet_v2_ghost_vit mobilevit_s]
                                                   [--xla] [--precision mixed_bfloat16] [--size 64]
    python benchmarks/bench_training.py fold [--subjects 10 --clips 10 --epochs 30] [--profile 25]
    python benchmarks/bench_training.py jobs [--subjects 6 --clips 6]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPER_INPUTS = {"shufflenet_v2_ghost_vit": (224, 224, 1), "shufflenet_v2_cbam": (224, 224, 1),
                "shufflenet_v2": (224, 224, 1), "mobilevit_s": (256, 256, 1)}


def throughput(args):
    import keras
    import numpy as np

    from mer_keras.models import build
    from mer_keras.training.fit import ready_to_train
    from mer_keras.training.networks import dtype_policy

    def samples_per_s(model, shape, jit=False):
        rng = np.random.default_rng(0)
        x = rng.random((args.batch, *shape), dtype="float32")
        y = keras.utils.to_categorical(rng.integers(0, 3, args.batch), 3).astype("float32")
        if jit:
            model.compile(optimizer="adam", loss="categorical_crossentropy", jit_compile=True)
        else:
            ready_to_train(model)
        for _ in range(3):
            model.train_on_batch(x, y)
        t = time.perf_counter()
        for _ in range(args.steps):
            model.train_on_batch(x, y)
        return args.batch * args.steps / (time.perf_counter() - t)

    def row(label, shape, rate):
        print(f"{label:<44} {'x'.join(map(str, shape)):<12} {rate:>10.1f} {rate / ref_rate:>12.2f}")

    ref_shape = (args.size, args.size, 3)
    ref_rate = samples_per_s(keras.applications.MobileNetV2(input_shape=ref_shape, weights=None, classes=3), ref_shape)
    print(f"{'model':<44} {'input':<12} {'samples/s':>10} {'ratio':>12}")
    row("keras.applications.MobileNetV2 (reference)", ref_shape, ref_rate)
    for name in args.models:
        shape = PAPER_INPUTS.get(name, (224, 224, 3)) if args.size == 224 else (args.size, args.size, 1)
        row(name, shape, samples_per_s(build(name, input_shape=shape, classes=3), shape))
        if args.xla:
            row(name + " (XLA jit_compile)", shape, samples_per_s(build(name, input_shape=shape, classes=3), shape,
                                                                  jit=True))
        if args.precision:
            with dtype_policy(args.precision):
                row(f"{name} ({args.precision})", shape,
                    samples_per_s(build(name, input_shape=shape, classes=3), shape))
    print(f"(batch {args.batch}, {args.steps} timed steps after 3 warm-up steps, {os.cpu_count()} CPUs; "
          "ratio: samples/s over the reference's in this run)")


def fold(args):
    from mer_keras.training.reproduce import reproduce

    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"synthme": {"subjects": args.subjects, "clips_per_subject": args.clips},
                     "preprocess": {"size": 224}, "pretrain": {"epochs": args.epochs},
                     "finetune": {"epochs": args.epochs}, "baselines": False}
        cache = Path(args.cache or tmp) / "cache"
        reproduce("liu2022_shufflenet", out=Path(tmp) / "warm", cache=cache, subjects=["synthme/sub01"],
                  overrides=overrides)  # preprocessing and SynthME generation, kept out of the fold's time
        profiler = cProfile.Profile() if args.profile else None
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        reproduce("liu2022_shufflenet", out=Path(tmp) / "run", cache=cache, subjects=["synthme/sub02"],
                  overrides=overrides)
        seconds = time.perf_counter() - t
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        import json

        side = json.loads((Path(tmp) / "run/folds/shufflenet_ghost_vit/synthme__sub02.json").read_text())
    n_train = (args.subjects - 1) * args.clips
    print(f"one paper-settings fold (224 px, {args.epochs} + {args.epochs} epochs, about {n_train} training clips): "
          f"{seconds:.1f} s wall")
    print("stages: " + ", ".join(f"{k} {v:.1f}" for k, v in side["timings"].items()))
    estimate = 68 * seconds * 375 / n_train
    print(f"MEGC composite estimate (68 folds x 375 training clips), one variant, this machine: "
          f"{estimate / 3600:.1f} h sequential, {estimate / 3600 / 2:.1f} h with --jobs 2 if it scales")


def jobs(args):
    from mer_keras.training.reproduce import reproduce

    overrides = {"synthme": {"subjects": args.subjects, "clips_per_subject": args.clips},
                 "baselines": False}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        reproduce("liu2022_shufflenet", out=Path(tmp) / "warm", cache=cache, subjects=["synthme/sub01"],
                  overrides=overrides)
        times = {}
        for n in (1, 2):
            t = time.perf_counter()
            reproduce("liu2022_shufflenet", out=Path(tmp) / f"jobs{n}", cache=cache, overrides=overrides, jobs=n)
            times[n] = time.perf_counter() - t
        folder = "folds/shufflenet_ghost_vit"
        import pandas as pd

        same = all(pd.read_csv(Path(tmp) / "jobs1" / folder / p.name)["y_pred"].equals(pd.read_csv(p)["y_pred"])
                   for p in (Path(tmp) / "jobs2" / folder).glob("*.csv"))
    print(f"{args.subjects} folds at the SynthME reductions: --jobs 1 {times[1]:.1f} s, --jobs 2 {times[2]:.1f} s, "
          f"speed-up {times[1] / times[2]:.2f}x; identical predictions: {same}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--models", nargs="+", default=["shufflenet_v2_ghost_vit", "shufflenet_v2_cbam", "mobilevit_s"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224, help="224: each model at its paper input")
    p.add_argument("--xla", action="store_true", help="also with jit_compile=True")
    p.add_argument("--precision", help="also under this dtype policy, e.g. mixed_bfloat16 or mixed_float16")
    p = sub.add_parser("fold")
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--cache")
    p.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile the timed fold; print N lines")
    p = sub.add_parser("jobs")
    p.add_argument("--subjects", type=int, default=6)
    p.add_argument("--clips", type=int, default=6)
    args = parser.parse_args(argv)
    {"throughput": throughput, "fold": fold, "jobs": jobs}[args.what](args)


if __name__ == "__main__":
    main()
