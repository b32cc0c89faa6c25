"""Does a network's SVM head add anything to the linear SVM on the same pixels? A check on finished runs.

For each finished ``mer-keras reproduce`` run on a precomputed flow manifest (e.g. of ``shared/realdata-dev``)
whose variant has an SVM head, the same-fold linear SVM on the flow at 16x16 (C chosen inside each training
fold) is fitted again to get its decision values. It reads the flow as given: that is the run's own floor only
for runs without ``preprocess.flow_centring`` (a centred run's floor reads the centred flow). Each held-out
clip is then scored by the sum of the two SVMs' decision values: a fixed rule, nothing tuned. Prints the floor, the network, the sum, and the sum's
paired difference to the floor (UF1 / UAR, subject bootstrap, 95 %).

    .venv/bin/python benchmarks/late_fusion_realdata.py --manifest realdev.csv --variant merkeras_flow RUN [RUN ...]

The check reads the held-out subjects' labels only to score, after every fold's models are fixed; a rule
picked by looking at this output is tuned on those subjects, as any choice made on pooled LOSO scores is.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from mer_keras.datasets import read_manifest
from mer_keras.evaluation import paired_bootstrap, pooled_scores
from mer_keras.evaluation.baselines import downsample, fit_linear_svm
from mer_keras.preprocessing.precomputed import read_input

KEYS = ["dataset", "subject", "clip"]


def floor_scores(manifest: pd.DataFrame, x: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Each held-out clip's decision values from the linear SVM of its LOSO fold (the runs' floor)."""
    features, y, groups = downsample(x, 16), manifest["label"].to_numpy(), manifest["subject"].astype(str).to_numpy()
    parts = []
    for subject in np.unique(groups):
        train, test = groups != subject, groups == subject
        svm = fit_linear_svm(features[train], y[train], groups[train], seed=seed)
        part = manifest.loc[test, KEYS + ["label"]].rename(columns={"label": "y_true"}).reset_index(drop=True)
        part[["f0", "f1", "f2"]] = svm.decision_function(features[test])
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    p.add_argument("--manifest", type=Path, required=True, help="the precomputed manifest the runs read")
    p.add_argument("--variant", default="merkeras_flow")
    args = p.parse_args(argv)
    manifest = read_manifest(args.manifest)
    x = np.stack([read_input(path, "flow", 28)[0] for path in manifest["input_flow"]])  # as the runs read them
    floor = floor_scores(manifest, x)
    floor["y_pred"] = floor[["f0", "f1", "f2"]].to_numpy().argmax(axis=1)
    print(f"linear SVM on the flow at 16x16: UF1 {pooled_scores(floor)['all']['uf1']:.3f}")
    for run in args.runs:
        net = pd.concat(pd.read_csv(f) for f in sorted((run / "folds" / args.variant).glob("*.csv")))
        both = floor.merge(net, on=KEYS, suffixes=("", "_net"))
        summed = both[["score_0", "score_1", "score_2"]].to_numpy() + both[["f0", "f1", "f2"]].to_numpy()
        fused = both[KEYS + ["y_true"]].assign(y_pred=summed.argmax(axis=1))
        network = both[KEYS + ["y_true"]].assign(y_pred=both["y_pred_net"])
        diff = paired_bootstrap(fused, both[KEYS + ["y_true", "y_pred"]])
        print(f"{run}: network UF1 {pooled_scores(network)['all']['uf1']:.3f}, "
              f"sum of decision values {pooled_scores(fused)['all']['uf1']:.3f}; sum minus floor: "
              + ", ".join(f"{m} {d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]" for m, d in diff.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
