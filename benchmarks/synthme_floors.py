"""The same-fold floors of SynthME's default demo corpus, without training any network.

`mer-keras demo` runs paper 000's `liu2022_shufflenet` on SynthME with the experiment's [synthme]
reductions (12 subjects x 10 clips, seed 0, 64 px) and prints, beside the network's row, the floors of
`same_fold_baselines`: the training fold's majority class, a linear SVM on the 16x16 fine-tuning input
(the face) and a linear SVM on the flow pre-training input. This script generates the same corpus, prepares
the same two inputs through the package's own cache (`training.data.load_data` / `prepared`) and calls the
same `same_fold_baselines`, so its three numbers are the demo table's floors, in about the time the corpus
and its flow take (a few minutes on 2 cores) instead of the demo's ~7 minutes of training.

    .venv/bin/python benchmarks/synthme_floors.py [--cache DIR] [--seed 0] [--experiment liu2022_shufflenet]

Without ``--cache`` everything is written to a temporary folder that is removed afterwards. The real
MEGC 2019 composite's floors (issue 21, 442 clips, 68 LOSO folds) are printed beside them.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REAL_FLOORS = {"majority": 0.24, "linear_svm": 0.41, "linear_svm_flow": 0.71}
"""UF1 of the floors on the real MEGC 2019 composite (issue 21): what the default corpus is calibrated to."""


def floors(cache: Path, seed: int = 0, experiment: str = "liu2022_shufflenet") -> dict:
    """``same_fold_baselines`` of the experiment's SynthME corpus, prepared under ``cache``."""
    from mer_keras.training.config import load_experiment
    from mer_keras.training.data import class_names, load_data, prepared
    from mer_keras.training.reproduce import same_fold_baselines

    exp = load_experiment(experiment, synthme=True)
    micro, _ = load_data(exp, "synthme", cache, seed)
    x, _ = prepared(micro, exp.variants[0].preprocess, cache)
    pre = exp.variants[0].pretrain_input()
    flow = prepared(micro, pre, cache)[0] if pre is not None and pre != exp.variants[0].preprocess else None
    run_dir = Path(cache) / "floors_run"
    return same_fold_baselines(x, flow, micro, class_names(micro), run_dir, seed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", help="folder for the corpus and prepared inputs (default: a temporary one, removed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--experiment", default="liu2022_shufflenet")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from mer_keras.datasets import synthme

    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synthme_floors_") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        entries = floors(cache, args.seed, args.experiment)
    print(f"\nSynthME {synthme.VERSION}, seed {args.seed}, experiment {args.experiment} ([synthme] reductions); "
          f"{time.perf_counter() - t:.0f} s, {os.cpu_count()} CPUs")
    print(f"{'floor':<17} {'UF1':>6}  {'95% interval':<15} {'UAR':>6}  {'real':>5}  label")
    for kind, e in entries.items():
        lo, hi = e["intervals"]["all"]["uf1"]
        real = REAL_FLOORS.get(kind)
        print(f"{kind:<17} {e['scores']['all']['uf1']:6.3f}  [{lo:.3f}, {hi:.3f}]  {e['scores']['all']['uar']:6.3f}  "
              f"{'' if real is None else f'{real:.2f}':>5}  {e['label']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
