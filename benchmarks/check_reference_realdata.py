"""A reproduction check that can fail: a MEGC 2019 reference system through the package's CLI on real flow.

Builds the precomputed manifest of ``shared/realdata-dev`` (real public STSTNet-style flow images of the 309
CASME II and SMIC-HS clips of the MEGC 2019 composite; development data, never shipped), runs
``mer-keras reproduce EXPERIMENT`` on it (leak-free LOSO over its 40 subjects), then prints per dataset the
pooled UF1 / UAR beside the system's published rows and the same-fold linear-SVM floor, and the paired
difference to that floor. Exit status 0 when the system is above the floor with a paired 95 % interval that
excludes 0 (UF1), 1 otherwise, 2 when ``shared/realdata-dev`` is absent.

    KERAS_HOME=.keras_home TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/check_reference_realdata.py \
        [--experiment liong2019_ststnet] [--jobs 2] [--also-leaky] [--out runs/check_liong2019_ststnet]

Our pool lacks SAMM (133 clips, 28 subjects): each training fold holds about a quarter fewer clips than on the
composite, and "Full" here is CASME II + SMIC only, so it is not the published Full column.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args) -> None:
    subprocess.run([sys.executable, "-m", "mer_keras", *map(str, args)], check=True, cwd=ROOT)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="liong2019_ststnet")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder")
    p.add_argument("--out", type=Path, help="run folder (default runs/check_<experiment>)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--also-leaky", action="store_true", help="also the test-fold-selection row")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    dev = args.shared / "realdata-dev"
    if not (dev / "labels.csv").is_file():
        print(f"no realdata-dev at {dev}: nothing to check", file=sys.stderr)
        return 2
    out = args.out or ROOT / "runs" / f"check_{args.experiment}"
    manifest = out.parent / "realdata_dev_manifest.csv"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    _cli("manifest", "precomputed", "--labels", dev / "labels.csv", "--input", f"flow={dev / 'flow'}",
         "--out", manifest)
    extra = [a for s in args.set for a in ("--set", s)] + (["--also-leaky"] if args.also_leaky else [])
    _cli("reproduce", args.experiment, "--data", manifest, "--out", out, "--jobs", args.jobs, *extra)
    return report(out)


def report(run_dir: Path) -> int:
    """Per dataset: ours, the same-fold linear SVM, the published rows; then the paired difference to the floor."""
    from mer_keras.evaluation.published import STSTNET_LOG_SUBSET, published_rows
    from mer_keras.evaluation.report import dataset_family, paired_differences

    doc = json.loads((run_dir / "results.json").read_text())
    published = published_rows("megc2019", dedupe=True)
    lines = [f"{'dataset':<9} {'row':<58} {'UF1':>7} {'UAR':>7}"]
    for name, variant in doc["variants"].items():
        rows = published[published["method"] == (variant.get("published") or "")]
        for dataset, scores in variant["scores"].items():
            floor = doc["baselines"]["linear_svm"]["scores"].get(dataset, {})
            lines.append(f"{dataset:<9} {name + ' (ours, leak-free)' * (not variant['leaky']):<58} "
                         f"{scores['uf1']:>7.4f} {scores['uar']:>7.4f}")
            lines.append(f"{'':<9} {'linear SVM on the same folds':<58} {floor.get('uf1', float('nan')):>7.4f} "
                         f"{floor.get('uar', float('nan')):>7.4f}")
            for r in rows[rows["dataset"].map(dataset_family) == dataset_family(dataset)].itertuples():
                lines.append(f"{'':<9} {r.method + ' published (' + r.table + ')':<58} {r.uf1:>7.4f} {r.uar:>7.4f}")
            if dataset == "all" and variant.get("published") == "STSTNet":  # the authors' run on these very clips
                lines.append(f"{'':<9} {'STSTNet release log, its 309 CASME II + SMIC clips':<58} "
                             f"{STSTNET_LOG_SUBSET['uf1']:>7.4f} {STSTNET_LOG_SUBSET['uar']:>7.4f}")
    print("\n".join(lines))
    pairs = paired_differences([run_dir], metrics=("uf1",))
    floor_pairs = pairs[pairs["b"].str.contains("linear_svm") | pairs["a"].str.contains("linear_svm")]
    print(floor_pairs[["a", "b", "difference", "low", "high", "verdict"]].to_string(index=False))
    main_label = doc["variants"][doc["config"]["variants"][0]]["label"]
    verdict = floor_pairs[(floor_pairs["a"] == main_label) & floor_pairs["b"].str.contains("linear_svm")]
    ok = len(verdict) == 1 and float(verdict["low"].iloc[0]) > 0
    print("CHECK", "PASSED: above the same-fold linear SVM, paired interval excludes 0" if ok else
          "FAILED: not distinguishably above the same-fold linear SVM")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
