"""`mer-keras table`: the results tables of finished runs, from the command line."""
from __future__ import annotations

import logging
import sys

from ..argtypes import positive_int

FLOOR_CHOICES = ("linear_svm", "linear_svm_mirrored", "majority")
"""``--floor``: the kinds of ``evaluation.baselines`` (spelled out: the CLI does not import scikit-learn to list them)."""


def table_command(args) -> int:
    """Print (and optionally save as CSV) the table ``results_table`` builds, then the paired differences."""
    from .report import format_pairs, format_table, paired_differences, results_table

    try:
        df = results_table(args.run_dirs, with_published=not args.no_published)
    except (FileNotFoundError, ValueError) as e:
        print(f"mer-keras table: {e}", file=sys.stderr)
        return 2
    print(format_table(df), end="")
    from .report import version_differences

    differ = version_differences(args.run_dirs)
    if differ:
        logging.getLogger("mer_keras").warning(
            "warning: the runs compared here were made with different package versions, so their numbers may differ "
            "by that alone (install from constraints.txt for the README's set):\n  %s", "\n  ".join(differ))
    if args.megc:
        from .report import format_megc_table, megc_comparison_table

        print("\nMEGC 2019 comparison (the shape of STSTNet's Table III; ours beside published):")
        print(format_megc_table(megc_comparison_table(args.run_dirs)), end="")
    if args.stages:
        print()
        print(stages_text(args.run_dirs), end="")
    if args.seeds:
        from .seeds import format_seed_summary, seed_summary

        try:
            summary = seed_summary(args.run_dirs, n_boot=args.n_boot, seed=args.seed, floor=args.floor)
        except (FileNotFoundError, ValueError) as e:
            print(f"mer-keras table: {e}", file=sys.stderr)
            return 2
        print()
        print(format_seed_summary(summary, floor=args.floor), end="")
    if args.against:
        from .external import external_comparison, format_external

        for run_dir in args.run_dirs:
            try:
                compared, left_out = external_comparison(run_dir, args.against, n_boot=args.n_boot, seed=args.seed)
            except (FileNotFoundError, ValueError) as e:
                print(f"mer-keras table: {e}", file=sys.stderr)
                return 2
            print()
            print(format_external(compared, args.against, left_out), end="")
    if args.csv:
        from ..files import atomic_write_text

        atomic_write_text(args.csv, df.to_csv(index=False))
        print(f"table written to {args.csv}")
    if args.no_pairs:
        return 0
    try:  # a damaged fold folder must not hide the table printed above
        pairs = paired_differences(args.run_dirs, n_boot=args.n_boot, seed=args.seed, across_runs=args.across_runs)
    except (FileNotFoundError, ValueError) as e:
        print(f"mer-keras table: no paired differences: {e}", file=sys.stderr)
        return 2
    if not pairs.empty:
        print()
        print(format_pairs(pairs, n_boot=args.n_boot), end="")
    return 0


def stages_text(run_dirs) -> str:
    """The stage report of every variant of each run, from its fold sidecars (older runs: what they hold)."""
    from .results import fold_details, read_results_json
    from .stage_report import format_stages, stage_summary

    parts = []
    for run_dir in run_dirs:
        doc = read_results_json(run_dir)
        classes = (doc.get("config") or {}).get("classes") or []
        for name, variant in doc.get("variants", {}).items():
            if not variant.get("model"):  # a same-fold baseline: no network, no stages
                continue
            details = fold_details(run_dir, name)
            if not details:
                parts.append(f"{name}: no fold sidecars under {run_dir}/folds/{name}: no stage report\n")
                continue
            parts.append(format_stages(name, stage_summary(details), 1 / len(classes) if classes else None))
    return "Stage report (training subjects only):\n" + "\n".join(parts)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "table",
        help="UF1/UAR/accuracy of finished runs beside the published numbers",
        description="Read RUN_DIR/results.json of each run and print UF1 / UAR / accuracy per dataset, "
        "with the published numbers of the same paper and protocol alongside; rows that cannot be "
        "compared (SynthME, leaky options) are marked. Bootstrap intervals and same-fold baselines are printed "
        "when results.json holds them, and every two variants scored on the same clips are compared "
        "(paired subject bootstrap on the fold predictions under RUN_DIR/folds/).",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directory holding results.json")
    p.add_argument("--no-published", action="store_true", help="leave out the published rows")
    p.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    p.add_argument("--megc", action="store_true",
                   help="also print one MEGC 2019 comparison table (Full, SMIC, CASME II, SAMM; UF1 / UAR), ours "
                        "beside every published row, with a column saying which rows are leak-free")
    p.add_argument("--stages", action="store_true",
                   help="also print each variant's stage report: per stage trained with an inner split, the "
                        "network's inner-validation UAR per epoch and linear probes (raw input, embedding before "
                        "and after the stage), and the folds that collapsed to one class")
    p.add_argument("--no-pairs", action="store_true",
                   help="leave out the paired differences between the variants of a run")
    p.add_argument("--across-runs", action="store_true",
                   help="also compare every variant and baseline of one run with every one of each later run "
                        "scored on the same clips (two runs of one experiment that differ by one --set: that "
                        "setting's effect, paired; a network against the other run's floor)")
    p.add_argument("--seeds", action="store_true",
                   help="the runs are one setting made with different --seed: print each seed's UF1 and its paired "
                        "difference to its own same-fold linear SVM, then the mean, the spread and how many seeds "
                        "clear the floor (the subject-bootstrap intervals do not cover training seeds)")
    p.add_argument("--floor", default="linear_svm", choices=FLOOR_CHOICES,
                   help="the same-fold floor --seeds reads each seed against (default linear_svm; "
                        "linear_svm_mirrored: the linear SVM trained with mirrors, in runs made with "
                        "mirrored_floor = true)")
    p.add_argument("--against", metavar="FILE",
                   help="another codebase's predictions on the same clips, per subject (a CSV subject,y_true,y_pred "
                        "or an STSTNet-style log of 'Subject:' / 'Predicted :' / 'Ground Truth:' blocks): each variant "
                        "beside it, paired by subject")
    p.add_argument("--n-boot", type=positive_int, default=1000, metavar="N",
                   help="subject resamples of the paired bootstrap (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the paired bootstrap (default 0)")
    p.set_defaults(func=table_command)
