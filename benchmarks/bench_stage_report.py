"""What the stage report (issue 21) costs a fold: its share of one fold's time, measured in one run.

The stage report adds, per stage trained with an inner split, the network's UAR on the inner-validation
subjects after every epoch (one forward pass over them) and three linear probes (two embedding passes over the
training fold, three small SVM fits). This runs one fold of an experiment on random arrays the size of a
realdata-dev fold (300 training clips of 40 subjects), with ``checkpoint = "last_inner_val"`` for every stage
that trains (or, ``--as-configured``, the experiment's own rules), and prints the time spent in the per-epoch
evaluations and in the probes as shares of the fold.

    python benchmarks/bench_stage_report.py [--experiment merkeras_flow] [--size 28] [--epochs 100]
    python benchmarks/bench_stage_report.py --experiment liu2022_shufflenet_flow_input --size 64 --epochs 8
    python benchmarks/bench_stage_report.py --experiment liu2022_shufflenet_flow_input --size 64 --epochs 8 --as-configured
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="merkeras_flow")
    p.add_argument("--size", type=int, default=28, help="input side in pixels")
    p.add_argument("--epochs", type=int, default=100, help="epochs of each stage that trains")
    p.add_argument("--clips", type=int, default=300)
    p.add_argument("--subjects", type=int, default=40)
    p.add_argument("--as-configured", action="store_true",
                   help="keep the experiment's own checkpoint rules (paper 000: an inner split in pre-training only, "
                        "whose per-epoch evaluation predates the stage report) instead of 'last_inner_val' everywhere")
    args = p.parse_args(argv)

    import numpy as np

    from mer_keras.training import stages
    from mer_keras.training.config import load_experiment
    from mer_keras.training.fold import FoldData, run_fold
    from mer_keras.training.stages import TrainSet

    held_out = {} if args.as_configured else {"checkpoint": "last_inner_val"}
    overrides = {"finetune": {"epochs": args.epochs, **held_out}}
    exp = load_experiment(args.experiment, overrides=overrides)
    variant = exp.variants[0]
    if variant.pretrain.kind == "flow":
        exp = load_experiment(args.experiment, overrides={**overrides, "pretrain": {"epochs": args.epochs,
                                                                                     **held_out}})
        variant = exp.variants[0]
    rng = np.random.default_rng(0)
    y = np.arange(args.clips) % 3
    x = rng.normal(0, 1, (args.clips, args.size, args.size, 3)).astype("float32")
    x[np.arange(args.clips), :, :, y] += 0.3
    groups = np.arange(args.clips) % args.subjects
    train = TrainSet(x, y, groups, 3)
    data = FoldData(train=train, x_test=x[:8], pretrain=train if variant.pretrain.kind == "flow" else None)

    spent = {"probes": 0.0, "per-epoch inner evaluation": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t
        return wrapper

    stages.embedding_probe = timed(stages.embedding_probe, "probes")
    stages.pixel_probe = timed(stages.pixel_probe, "probes")
    train_stage = stages.train

    def train_timing_epoch_end(*a, epoch_end=None, **k):
        return train_stage(*a, epoch_end=epoch_end and timed(epoch_end, "per-epoch inner evaluation"), **k)

    stages.train = train_timing_epoch_end
    run_fold(variant, data, seed=0)  # warm-up: traces every graph once, as the first fold of a run does
    for key in spent:
        spent[key] = 0.0
    t = time.perf_counter()
    result = run_fold(variant, data, seed=0)
    fold_s = time.perf_counter() - t
    assert any("probe_uar" in stage for stage in result.history.values() if isinstance(stage, dict)), \
        "the fold recorded no probe"
    print(f"{args.experiment}: one fold of {args.clips} clips at {args.size} px, {args.epochs} epochs per stage: "
          f"{fold_s:.1f} s")
    for key, seconds in spent.items():
        print(f"  {key:28s} {seconds:6.2f} s  {100 * seconds / fold_s:5.1f} % of the fold")
    total = sum(spent.values())
    print(f"  {'stage report in all':28s} {total:6.2f} s  {100 * total / fold_s:5.1f} % of the fold")


if __name__ == "__main__":
    main()
