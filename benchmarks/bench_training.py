"""Training throughput, one fold's time, and --jobs 1 vs --jobs 2, as ratios measured in one run.

1. ``throughput``: samples/s of one training step (batch 32, the package's compiled ``train_on_batch`` path)
   for each core model at its paper input, against ``keras.applications.MobileNetV2`` in the same process.
2. ``fold``: where the time of ``reproduce`` goes (preprocessing, tracing, each stage, per epoch) for one LOSO
   fold of paper 000 at 224 px on a SynthME corpus (composite-sized: 45 subjects x 10 clips, SynthME's most
   identities), and the composite estimate at 30 + 30 epochs (68 folds, each time scaled by training clips, 435
   per composite fold). The estimate is linear in epochs from this fold, so it counts each stage's fixed cost
   30 / epochs times; run two ``--epochs`` values and fit a line to separate them (the README does).
3. ``jobs``: wall time of ``mer-keras reproduce`` with ``--jobs 1`` and ``--jobs 2`` on the same small-corpus
   folds, per ``threads`` setting, and whether predictions and fold files are identical (they are at equal
   per-fold thread counts: the default gives ``--jobs 1`` every core per fold and each worker its share).

    python benchmarks/bench_training.py throughput [--steps 20] [--models shufflenet_v2_ghost_vit mobilevit_s]
                                                   [--xla] [--precision mixed_bfloat16] [--size 64]
    python benchmarks/bench_training.py fold [--subjects 10 --clips 10 --epochs 30] [--profile 25]
    python benchmarks/bench_training.py fold --subjects 45 --clips 10 --epochs 3   # composite-sized corpus
    python benchmarks/bench_training.py jobs [--subjects 6 --clips 6] [--threads 0 1]
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
    import tensorflow as tf

    from mer_keras.models import build
    from mer_keras.models.flops import count_flops
    from mer_keras.training.fit import ready_to_train
    from mer_keras.training.networks import dtype_policy

    def matmul_gflops(n=2048, repeats=10):
        """This CPU's float32 dense rate: the ceiling any training step here can approach."""
        a = tf.random.normal((n, n))
        step = tf.function(lambda m: tf.linalg.matmul(m, m))
        step(a).numpy()
        t = time.perf_counter()
        for _ in range(repeats):
            step(a).numpy()
        return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9

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

    def row(label, shape, rate, flops):
        # a training step costs about 3 forward passes (forward, gradients of activations and of weights)
        train_gflops = 3 * flops * rate / 1e9
        print(f"{label:<44} {'x'.join(map(str, shape)):<12} {flops / 1e9:>8.2f} {rate:>10.1f} {rate / ref_rate:>7.2f} "
              f"{train_gflops:>9.1f} {100 * train_gflops / peak:>7.0f}%")

    peak = matmul_gflops()
    ref_shape = (args.size, args.size, 3)
    reference = keras.applications.MobileNetV2(input_shape=ref_shape, weights=None, classes=3)
    ref_flops = count_flops(reference)
    ref_rate = samples_per_s(reference, ref_shape)
    print(f"float32 matmul (2048^2) on this CPU: {peak:.0f} GFLOP/s")
    print(f"{'model':<44} {'input':<12} {'GFLOPs':>8} {'samples/s':>10} {'ratio':>7} {'GFLOP/s':>9} {'of mm':>8}")
    row("keras.applications.MobileNetV2 (reference)", ref_shape, ref_rate, ref_flops)
    for name in args.models:
        shape = PAPER_INPUTS.get(name, (224, 224, 3)) if args.size == 224 else (args.size, args.size, 1)
        model = build(name, input_shape=shape, classes=3)
        flops = count_flops(model)
        row(name, shape, samples_per_s(model, shape), flops)
        if args.xla:
            row(name + " (XLA jit_compile)", shape, samples_per_s(build(name, input_shape=shape, classes=3), shape,
                                                                  jit=True), flops)
        if args.precision:
            with dtype_policy(args.precision):
                row(f"{name} ({args.precision})", shape,
                    samples_per_s(build(name, input_shape=shape, classes=3), shape), flops)
    print(f"(batch {args.batch}, {args.steps} timed steps after 3 warm-up steps, {os.cpu_count()} CPUs; GFLOPs: one "
          "forward pass of one sample; ratio: samples/s over the reference's in this run; GFLOP/s: 3 x GFLOPs x "
          "samples/s, the training step's rate; of mm: that rate over the matmul rate)")


COMPOSITE_FOLDS, COMPOSITE_TRAIN_CLIPS = 68, 435  # MEGC 2019: 442 clips of 68 subjects; a fold trains on the rest


def fold(args):
    """Warm-up (SynthME generation, preprocessing, one trace of each network: a 1 + 1 epoch fold), then one timed
    fold of ``--epochs`` + ``--epochs``; per-epoch costs scale the fold to 30 + 30 epochs and to the composite."""
    import json
    import logging

    from mer_keras.datasets import load_manifest
    from mer_keras.training.data import synthme_corpus
    from mer_keras.training.reproduce import reproduce

    class Preprocessing(logging.Handler):
        seconds = None

        def emit(self, record):
            if "preprocessing" in record.msg and self.seconds is None:  # the warm-up's, not the cached rerun's
                self.seconds = record.args[-1]

    def overrides(epochs):
        return {"synthme": {"subjects": args.subjects, "clips_per_subject": args.clips}, "preprocess": {"size": 224},
                "pretrain": {"epochs": epochs}, "finetune": {"epochs": epochs}, "baselines": False}

    handler = Preprocessing()
    logging.getLogger("mer_keras").addHandler(handler)
    logging.getLogger("mer_keras").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or tmp) / "cache"
        t = time.perf_counter()
        reproduce("liu2022_shufflenet", out=Path(tmp) / "warm", cache=cache, subjects=["synthme/sub01"],
                  overrides=overrides(1))
        warm_s = time.perf_counter() - t
        warm = json.loads((Path(tmp) / "warm/folds/shufflenet_ghost_vit/synthme__sub01.json").read_text())["timings"]
        profiler = cProfile.Profile() if args.profile else None
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        reproduce("liu2022_shufflenet", out=Path(tmp) / "run", cache=cache, subjects=["synthme/sub02"],
                  overrides=overrides(args.epochs))
        seconds = time.perf_counter() - t
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        timings = json.loads((Path(tmp) / "run/folds/shufflenet_ghost_vit/synthme__sub02.json").read_text())["timings"]
        clips = load_manifest("synthme", synthme_corpus(cache, seed=0, subjects=args.subjects,
                                                        clips_per_subject=args.clips), protocol="three-class")
    n_train = int((clips["subject"].astype(str) != "synthme/sub02").sum())
    training = timings["pretrain_s"] + timings["finetune_s"]
    other = seconds - training
    paper_fold = training * 30 / args.epochs + other
    print(f"corpus: {args.subjects} subjects x {args.clips} clips ({len(clips)} in the three classes) at 224 px, "
          f"{n_train} training clips in the timed fold")
    print(f"warm-up {warm_s:.1f} s: preprocessing (flow and face, cached) {handler.seconds or float('nan'):.1f} s; "
          f"its 1 + 1 epoch fold, tracing included: pretrain {warm['pretrain_s']:.1f} s, "
          f"finetune {warm['finetune_s']:.1f} s")
    print(f"timed fold ({args.epochs} + {args.epochs} epochs): {seconds:.1f} s wall; "
          + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"per epoch: pretrain {timings['pretrain_s'] / args.epochs:.1f} s, finetune "
          f"{timings['finetune_s'] / args.epochs:.1f} s (each with its inner-split evaluation); outside the two "
          f"training stages: {other:.1f} s ({100 * other / seconds:.0f} %)")
    estimate = COMPOSITE_FOLDS * paper_fold * COMPOSITE_TRAIN_CLIPS / n_train
    print(f"one fold at 30 + 30 epochs, linear in epochs: {paper_fold:.0f} s; MEGC composite ({COMPOSITE_FOLDS} folds x "
          f"{COMPOSITE_TRAIN_CLIPS} training clips), one variant, this machine: {estimate / 3600:.1f} h sequential")


def jobs(args):
    """Each run is the command a user types (a fresh process: TensorFlow start, tracing and all), on one cache."""
    import io
    import subprocess

    import pandas as pd

    from mer_keras.training.reproduce import reproduce

    sets = ["--set", f"synthme.subjects={args.subjects}", "--set", f"synthme.clips_per_subject={args.clips}",
            "--set", "baselines=false"]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        reproduce("liu2022_shufflenet", out=Path(tmp) / "warm", cache=cache, subjects=["synthme/sub01"],
                  overrides={"synthme": {"subjects": args.subjects, "clips_per_subject": args.clips},
                             "baselines": False})  # preprocessing, kept out of the timed runs
        print(f"{args.subjects} folds at the SynthME reductions, each run a fresh `mer-keras reproduce` process")
        print(f"{'threads per fold':<34} {'--jobs 1 s':>10} {'--jobs 2 s':>10} {'speed-up':>9} "
              f"{'same y_pred':>12} {'same files':>11}")
        for threads in args.threads:
            times, runs = {}, {}
            for n in (1, 2):
                runs[n] = Path(tmp) / f"threads{threads}_jobs{n}"
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "mer_keras", "--quiet", "reproduce", "liu2022_shufflenet",
                                "--out", str(runs[n]), "--cache", str(cache), "--jobs", str(n), *sets,
                                "--set", f"threads={threads}"], check=True,
                               cwd=Path(__file__).resolve().parents[1])
                times[n] = time.perf_counter() - t
            folder = "folds/shufflenet_ghost_vit"
            files = {n: {p.name: p.read_bytes() for p in sorted((runs[n] / folder).glob("*.csv"))} for n in runs}
            same_pred = files[1].keys() == files[2].keys() and all(
                pd.read_csv(io.BytesIO(files[1][k]))["y_pred"].equals(pd.read_csv(io.BytesIO(files[2][k]))["y_pred"])
                for k in files[1])
            label = "default (all cores / worker's share)" if threads == 0 else str(threads)
            print(f"{label:<34} {times[1]:>10.1f} {times[2]:>10.1f} {times[1] / times[2]:>8.2f}x "
                  f"{same_pred!s:>12} {(files[1] == files[2])!s:>11}")


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
    p.add_argument("--threads", type=int, nargs="+", default=[0, 1],
                   help="per-fold thread settings to compare (0: the default)")
    args = parser.parse_args(argv)
    {"throughput": throughput, "fold": fold, "jobs": jobs}[args.what](args)


if __name__ == "__main__":
    main()
