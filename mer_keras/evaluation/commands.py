"""`mer-keras table`: the results tables of finished runs, from the command line."""
from __future__ import annotations

import sys


def table_command(args) -> int:
    """Print (and optionally save as CSV) the table ``results_table`` builds for the run directories."""
    from .report import format_table, results_table

    try:
        df = results_table(args.run_dirs, with_published=not args.no_published)
    except (FileNotFoundError, ValueError) as e:
        print(f"mer-keras table: {e}", file=sys.stderr)
        return 2
    print(format_table(df), end="")
    if args.csv:
        from .results import atomic_write_text

        atomic_write_text(args.csv, df.to_csv(index=False))
        print(f"table written to {args.csv}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "table",
        help="UF1/UAR/accuracy of finished runs beside the published numbers",
        description="Read RUN_DIR/results.json of each run and print UF1 / UAR / accuracy per dataset, "
        "with the published numbers of the same paper and protocol alongside; rows that cannot be "
        "compared (SynthME, leaky options) are marked.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directory holding results.json")
    p.add_argument("--no-published", action="store_true", help="leave out the published rows")
    p.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    p.set_defaults(func=table_command)
