"""``mer-keras manifest``: a native dataset folder (or the MEGC 2019 trio) -> manifest CSV.

Exit status: 0 written cleanly; 1 written with ``--keep-going`` but problems were reported;
2 problems found and nothing written (the default) or an existing CSV failed ``--validate``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

logger = logging.getLogger("mer_keras")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "manifest",
        help="read a dataset folder as shipped and write its validated manifest CSV",
        description="Read a dataset's native folder (or the CASME II + SAMM + SMIC trio for the MEGC 2019 "
        "composite) and write the manifest CSV: one row per clip, checked against the frames on disk. "
        "Rows left out on purpose are counted per emotion; every problem is printed with its row and file.",
    )
    p.add_argument("dataset", nargs="?", help="dataset key (casme2, samm, smic-hs, smic-vis, smic-nir, smic-hs-e, "
                   "smic-vis-e, smic-nir-e, mmew, casme3, ck+, oulu-casia, jaffe, mug, synthme, synthme-macro) or "
                   "megc2019 for the composite")
    p.add_argument("--root", help="the dataset's folder as shipped")
    p.add_argument("--protocol", help="megc2019, casme2-5class, casme2-4class-jin2024, jin2024-samm4, three-class, casme3-3class, "
                   "casme3-4class, all, or "
                   "liu2022-macro (paper 004's macro "
                   "images of ck+, oulu-casia, mug, jaffe: one row per selected frame) (default: the dataset's)")
    p.add_argument("--megc-gt", help="official MEGC 2019 combined_3class_gt.csv (selects the listed clips)")
    p.add_argument("--casme2", help="CASME II root (composite)")
    p.add_argument("--samm", help="SAMM root (composite)")
    p.add_argument("--smic", help="SMIC root (composite; HS is used)")
    p.add_argument("--sheet", help="annotation sheet, when the root holds several or none")
    p.add_argument("--frames", help="folder holding the subject folders, when the root holds raw and cropped")
    p.add_argument("--missing-apex", choices=("middle", "drop", "error"),
                   help="CASME II/SAMM/MMEW/CAS(ME)^3 rows whose apex is not a number (default middle)")
    p.add_argument("--apex", choices=("given", "spot"), default="given",
                   help="spot: replace every estimated (middle-frame) apex, SMIC's and SMIC-E's, by the frame of "
                   "peak face motion from the onset (apex_source spotted; preprocessing.spotting); annotated apexes "
                   "are kept (default given)")
    p.add_argument("--labels", help="precomputed: label CSV (dataset, sub, filename_o, label, imagename as HTNet ships "
                   "it, or dataset, subject, clip, label|emotion); see data_manifests/README.md")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIR",
                   help="precomputed: a folder of per-clip files of representation NAME (flow, apex, ...): flat "
                   "<subject>_<clip>.png or the per-fold tree <fold>/u_train|u_test/<label>/ (repeatable)")
    p.add_argument("--out", help="manifest CSV to write")
    p.add_argument("--keep-going", action="store_true",
                   help="write the valid rows even when some rows have problems (all are printed)")
    p.add_argument("--validate", metavar="CSV", help="check an existing manifest CSV instead of reading a dataset")
    p.add_argument("--check-frames", action="store_true",
                   help="with --validate: also decode every frame file (missing, truncated or corrupt frames are "
                   "problems)")
    p.set_defaults(func=run)


def report_path(out) -> Path:
    """The manifest's report: every clip left out on purpose and every problem (``--keep-going``), one row each."""
    out = Path(out)
    return out.with_name(f"{out.stem}.report.csv")


def write_report(out, skipped, problems) -> Path:
    """Write the report beside the manifest (an old report of the same name is replaced, never left stale)."""
    import pandas as pd

    from .manifest import write_manifest

    rows = [{"kind": "left out", **r} for r in skipped.to_dict("records")]
    rows += [{"kind": "problem", "where": str(p.row), "clip": p.clip, "reason": p.message, "file": p.file}
             for p in problems]
    table = pd.DataFrame(rows, columns=["kind", "dataset", "subject", "clip", "emotion", "reason", "where", "file"])
    return write_manifest(table, report_path(out))


def _reader_options(args) -> dict:
    """The reader options given on the command line; one the dataset's reader does not take is an error."""
    import inspect

    from .registry import get

    opts = {"sheet": args.sheet, "frames": args.frames, "missing_apex": args.missing_apex}
    opts = {k: v for k, v in opts.items() if v is not None}
    accepted = inspect.signature(get(args.dataset).function()).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(opts) - set(accepted))
        if unknown:
            raise ValueError(f"{args.dataset} does not take {', '.join('--' + u.replace('_', '-') for u in unknown)}")
    return opts


class _Usage(Exception):
    """Arguments that cannot work together: the message is printed as is, exit status 2, nothing written."""


def run(args) -> int:
    from .manifest import ManifestError, write_manifest
    from .reading import skipped_table

    if args.validate:
        return _validate(args)
    if not args.dataset or not args.out:
        print("mer-keras manifest: give DATASET and --out (or --validate CSV)", file=sys.stderr)
        return 2
    try:
        df = _read(args, "report" if args.keep_going else "raise")
    except _Usage as e:
        print(e, file=sys.stderr)
        return 2
    except ManifestError as e:
        print(f"nothing written: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"mer-keras manifest {args.dataset}: {e}", file=sys.stderr)
        return 2
    problems = df.attrs.get("problems", [])
    if len(df) == 0:
        from .load import no_rows_error

        e = no_rows_error(args.root or "the given roots", problems, df.attrs.get("skipped", []))
        print(f"nothing written: {e}", file=sys.stderr)
        return 2
    skipped = skipped_table(df)
    df.attrs.clear()
    if args.apex == "spot":
        df = _spot(df)
    write_manifest(df, args.out)
    report = write_report(args.out, skipped, problems)
    _print_written(args, df)
    if len(skipped):
        _print_left_out(skipped, report)
    if problems:
        print(f"{len(problems)} problem(s); those rows are not in {args.out}:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    return 0


def _validate(args) -> int:
    """``--validate CSV``: 0 with the clips per dataset and class, 2 with every problem."""
    import pandas as pd

    from .manifest import ManifestError, read_manifest

    try:
        df = read_manifest(args.validate, check_frames=args.check_frames, decode_frames=args.check_frames)
    except ManifestError as e:
        print(f"{args.validate}: {e}", file=sys.stderr)
        return 2
    print(f"{args.validate}: {len(df)} rows, all valid")
    print(pd.crosstab(df["dataset"], df["class_name"], margins=True, margins_name="total").to_string())
    return 0


def _read(args, on_error: str):
    """The manifest of the command line's dataset: precomputed inputs, the MEGC 2019 composite or one dataset."""
    from .load import load_manifest

    if args.dataset.lower() == "precomputed":  # ready input files (datasets.precomputed)
        return _read_precomputed(args, on_error)
    if args.dataset.lower() == "megc2019":
        roots = {"casme2": args.casme2, "samm": args.samm, "smic": args.smic}
        if args.root or not any(roots.values()):
            raise _Usage("mer-keras manifest megc2019: give --casme2/--samm/--smic roots (not --root)")
        if args.sheet or args.frames:
            raise _Usage("mer-keras manifest megc2019: --sheet/--frames name one dataset's files; point each root "
                         "at a single release instead (or call megc2019.composite with casme2_sheet=...)")
        opts = {f"{prefix}_missing_apex": args.missing_apex for prefix in ("casme2", "samm")
                if args.missing_apex and roots[prefix]}
        return load_manifest("megc2019", megc_gt=args.megc_gt, on_error=on_error,
                             **{k: v for k, v in roots.items() if v}, **opts)
    if not args.root:
        raise _Usage(f"mer-keras manifest {args.dataset}: give --root")
    return load_manifest(args.dataset, args.root, protocol=args.protocol, megc_gt=args.megc_gt,
                         on_error=on_error, **_reader_options(args))


def _read_precomputed(args, on_error: str):
    """``manifest precomputed --input NAME=DIR ...``: each representation named once."""
    from .precomputed import read as read_precomputed

    bad = [s for s in args.input if "=" not in s]
    if not args.input or bad:
        raise _Usage("mer-keras manifest precomputed: give --input NAME=DIR (e.g. --input flow=norm_u_v_os)"
                     + (f"; not NAME=DIR: {bad}" if bad else ""))
    pairs = [s.split("=", 1) for s in args.input]
    repeated = sorted({n for n, _ in pairs if [m for m, _ in pairs].count(n) > 1})
    if repeated:
        folders = [d for n, d in pairs if n == repeated[0]]
        raise _Usage(f"mer-keras manifest precomputed: --input {repeated[0]}= is given {len(folders)} times "
                     f"({', '.join(folders)}); give each representation once")
    return read_precomputed(dict(pairs), labels=args.labels, megc_gt=args.megc_gt, protocol=args.protocol,
                            on_error=on_error)


def _spot(df):
    """``--apex spot``: the frame of peak motion replaces every estimated apex; prints how many were found."""
    from ..preprocessing.spotting import spot_apexes

    estimated = int(df["apex_source"].eq("middle").sum())
    df = spot_apexes(df)
    done = int(df["apex_source"].eq("spotted").sum())
    print(f"apex spotted for {done} of {estimated} clip(s) with an estimated apex"
          + (f"; {estimated - done} without motion keep the middle frame" if done < estimated else ""))
    return df


def _print_written(args, df) -> None:
    """What was written: clips (or images) and subjects, the table per dataset and class, the paper's counts."""
    import pandas as pd

    from ..evaluation.protocols import counts_beside_published
    from .labels import IMAGE_PROTOCOLS

    print(f"wrote {args.out}: {len(df)} {'images' if args.protocol in IMAGE_PROTOCOLS else 'clips'}, "
          f"{df['subject'].nunique()} subjects")
    print(pd.crosstab(df["dataset"], df["class_name"], margins=True, margins_name="total").to_string())
    if args.protocol in IMAGE_PROTOCOLS:
        from .liu2022_macro import compare_with_paper

        print(compare_with_paper(df))
    beside = counts_beside_published(df, args.protocol) if args.protocol else None
    if beside:  # a paper that prints its clips per class (casme2-4class-jin2024: 246 clips, other 51.2 %)
        print(beside)


def _print_left_out(skipped, report) -> None:
    """The clips left out on purpose, counted per dataset, reason and emotion (listed one by one in ``report``)."""
    print(f"left out {len(skipped)} clip(s):")
    counts = skipped.groupby(["dataset", "reason", "emotion"]).size().rename("clips")
    print(counts.to_string())
    logger.warning("left out %d clip(s) (%s); listed in %s", len(skipped), "; ".join(
        f"{n} {d}: {r}" for (d, r), n in skipped.groupby(["dataset", "reason"]).size().items()), report)
