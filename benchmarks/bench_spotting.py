"""Apex spotting against SynthME's known apexes: frame error of the spotter and of the middle-frame rule.

    .venv/bin/python benchmarks/bench_spotting.py [--subjects 14] [--clips 10] [--seed 0] [--size 224] \
        [--spot-size 112] [--smooth 3] [--corpus DIR] [--out errors.csv]

The defaults are SynthME's default corpus (``mer-keras synth``: 14 subjects x 10 clips, seed 0, 224 px),
generated under ``--corpus`` (default: a temporary folder) unless it is already there. Every clip is
re-spotted between its onset and offset (``spot_apexes(..., replace="all")``) and compared with the
apex the generator used; the middle frame of onset..offset (what SMIC gets without spotting) is scored
the same way beside it.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def summary(errors) -> dict:
    e = np.abs(np.asarray(errors, dtype=float))
    return {"clips": len(e), "median": float(np.median(e)), "p90": float(np.percentile(e, 90)),
            "within_2": float(np.mean(e <= 2)), "exact": float(np.mean(e == 0)), "max": float(e.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=14)
    ap.add_argument("--clips", type=int, default=10, help="clips per subject")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224, help="SynthME frame size")
    ap.add_argument("--spot-size", type=int, default=112, help="SpotConfig.size")
    ap.add_argument("--smooth", type=int, default=3, help="SpotConfig.smooth")
    ap.add_argument("--corpus", help="folder of the corpus (default: a temporary one)")
    ap.add_argument("--out", help="CSV of the per-clip errors")
    args = ap.parse_args(argv)

    from mer_keras.datasets import load_manifest, synthme
    from mer_keras.preprocessing.spotting import SpotConfig, spot_apexes

    with tempfile.TemporaryDirectory() as tmp:
        root = synthme.generate(Path(args.corpus or tmp) / "synthme", subjects=args.subjects,
                                clips_per_subject=args.clips, seed=args.seed, size=args.size, progress=False)
        rows = load_manifest("synthme", root, protocol="all")
        t = time.perf_counter()
        spotted = spot_apexes(rows, SpotConfig(size=args.spot_size, smooth=args.smooth), replace="all")
        seconds = time.perf_counter() - t
    truth = rows["apex_idx"].astype(int).to_numpy()
    middle = (rows["onset_idx"].astype(int) + rows["offset_idx"].astype(int)).to_numpy() // 2
    table = pd.DataFrame({"subject": rows["subject"], "clip": rows["clip"], "true_apex_idx": truth,
                          "spotted_apex_idx": spotted["apex_idx"].astype(int).to_numpy(),
                          "apex_source": spotted["apex_source"], "middle_idx": middle})
    table["spotted_error"] = table["spotted_apex_idx"] - truth
    table["middle_error"] = middle - truth
    print(f"SynthME {args.subjects}x{args.clips} seed {args.seed} at {args.size} px; spotter at {args.spot_size} px, "
          f"smooth {args.smooth}; {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"not spotted (no motion): {int((table['apex_source'] != 'spotted').sum())}")
    report = pd.DataFrame({"spotted": summary(table["spotted_error"]), "middle frame": summary(table["middle_error"])})
    print("absolute frame error (median, 90th percentile, max) and fraction of clips within 2 frames / exact:")
    print(report.T.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"spotting time {seconds:.1f} s, {1000 * seconds / len(table):.0f} ms per clip")
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"per-clip errors written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
