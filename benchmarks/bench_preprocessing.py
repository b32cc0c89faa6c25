"""Preprocessing speed on a SynthME corpus: detection + landmarks, alignment, flow, and whole ``prepare`` runs.

    .venv/bin/python benchmarks/bench_preprocessing.py [--subjects 3] [--clips 4] [--frame-size 224] [--n-jobs 2]

Per-clip times are medians over the corpus's clips (one onset frame / one onset->apex pair each);
the ``prepare`` rows are wall time over the whole corpus on a fresh cache divided by the clip
count (pool start-up included), then the same call again (every row a cache hit).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def _median_ms(fn, items):
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=3)
    ap.add_argument("--clips", type=int, default=4, help="clips per subject")
    ap.add_argument("--frame-size", type=int, default=224, help="SynthME frame size")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)

    from mer_keras.datasets import load_manifest, synthme
    from mer_keras.datasets.manifest import frame_paths
    from mer_keras.preprocessing import (
        FaceAligner,
        detect_landmarks,
        optical_flow,
        prepare,
    )

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = synthme.generate(Path(tmp) / "synthme", subjects=args.subjects, clips_per_subject=args.clips,
                                seed=0, size=args.frame_size, progress=False)
        manifest = load_manifest("synthme", root, protocol="all")
        gen_s = time.perf_counter() - t0
        n = len(manifest)

        def frame(row, col):
            path = frame_paths(row)[int(row[col])]
            return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)

        rows = [r for _, r in manifest.iterrows()]
        onsets = [frame(r, "onset_idx") for r in rows]
        apexes = [frame(r, "apex_idx") for r in rows]
        detect_landmarks(onsets[0])  # load the dlib models outside the timing
        table = [("detection + 68 landmarks (onset frame)", _median_ms(detect_landmarks, onsets), "per clip")]
        aligners = [FaceAligner(224).fit(f) for f in onsets]
        table.append(("alignment warp to 224x224 (one frame)",
                      _median_ms(lambda i: aligners[i].transform(apexes[i]), range(n)), "per frame"))
        def gray_pair(aligner, onset, apex, size):
            scaled = FaceAligner(size, grayscale=True).set_transform(aligner.matrix_ * (size / 224))
            return scaled.transform(onset), scaled.transform(apex)

        pairs = {s: [gray_pair(a, o, p, s) for a, o, p in zip(aligners, onsets, apexes)] for s in (224, 112)}
        for size in (224, 112):
            table.append((f"TV-L1 onset->apex {size}x{size} (OpenCV defaults)",
                          _median_ms(lambda pr: optical_flow(*pr, "tvl1"), pairs[size]), "per clip"))
        table.append(("TV-L1 224x224, nscales=3 warps=3",
                      _median_ms(lambda pr: optical_flow(*pr, "tvl1", nscales=3, warps=3), pairs[224]), "per clip"))
        table.append(("Farneback onset->apex 224x224",
                      _median_ms(lambda pr: optical_flow(*pr, "farneback"), pairs[224]), "per clip"))

        runs = [("flow", {"size": 224, "masks": ("eyes",)}), ("flow", {"size": 112, "masks": ("eyes",)}),
                ("apex", {"size": 224, "grayscale": True}), ("ars", {"size": 224}),
                ("evm_stack", {"size": 134})]
        for rep, params in runs:
            cache = Path(tmp) / f"cache_{rep}_{params['size']}"
            t0 = time.perf_counter()
            prepare(manifest, rep, cache, n_jobs=args.n_jobs, progress=False, **params)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            prepare(manifest, rep, cache, n_jobs=args.n_jobs, progress=False, **params)
            warm = time.perf_counter() - t0
            label = f"prepare {rep} size {params['size']} ({args.n_jobs} jobs)"
            table.append((label + ", fresh cache", 1000 * cold / n, "per clip"))
            table.append((label + ", cache hit", 1000 * warm / n, "per clip"))

    print(f"# SynthME {args.subjects}x{args.clips} clips ({n}) at {args.frame_size} px, generated in {gen_s:.1f} s; "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, OpenCV {cv2.__version__}, "
          f"numpy {np.__version__}")
    print("| step | ms | unit |")
    print("| --- | ---: | --- |")
    for name, ms, unit in table:
        print(f"| {name} | {ms:.1f} | {unit} |")


if __name__ == "__main__":
    main()
