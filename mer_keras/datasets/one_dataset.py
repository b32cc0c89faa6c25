"""One dataset folder -> validated manifest under a protocol (the MEGC 2019 composite calls this per dataset).

Order of work: read (every sheet row checked against the frames on disk), validate every row read
(whatever its emotion), apply the MEGC 2019 selection when asked, then the protocol's class mapping.
Rows left out on purpose (emotion outside the protocol, neutral, unlabelled, not in the MEGC list)
are listed in ``attrs["skipped"]`` with a reason; invalid rows are problems.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, InputError, InputNotFoundError
from .labels import IMAGE_PROTOCOLS
from .liu2022_macro import select_images
from .megc2019_list import megc2019_class, select
from .reading import SKIPPED_COLUMNS, check_on_error
from .registry import MEGC2019_DATASETS, get
from .schema import ManifestError, Problem, missing_numbers, select_protocol
from .validation import validate

logger = logging.getLogger("mer_keras")
logger = logging.getLogger("mer_keras")


def check_root(root, dataset: str) -> Path:
    """The dataset folder, or an error saying it does not exist (rather than "no sheet found" in it)."""
    path = Path(root)
    if not path.exists():
        raise InputNotFoundError(f"{dataset} folder {path} does not exist")
    if not path.is_dir():
        raise InputError(f"{dataset} folder {path} is a file; expected the folder the dataset ships as")
    return path


def warn_about_motion(rows: pd.DataFrame) -> None:
    """Log the rows a motion representation will read wrongly: apex = onset (no motion), frame numbers
    missing between onset and offset (a gap the positions jump over). Neither is an error here: a
    single-image dataset has apex = onset, and a release may lack frames outside the annotated span."""
    for r in rows.itertuples():
        where = f"{r.subject}/{r.clip} ({r.source or r.frames_dir})"
        if r.apex_source != "single" and r.apex == r.onset and r.offset != r.onset:
            logger.warning("%s: apex %d is the onset frame: its onset->apex flow is zero", where, r.apex)
        gap = missing_numbers(str(r.frame_files).split("|"), r.onset, r.offset)
        if gap:
            shown = ", ".join(map(str, gap[:5])) + (", ..." if len(gap) > 5 else "")
            logger.warning("%s: %d frame number(s) missing between onset %d and offset %d (%s) in %s",
                           where, len(gap), r.onset, r.offset, shown, r.frames_dir)


def no_rows_error(where, problems, skipped) -> ManifestError:
    """Zero surviving rows is never a manifest: the error says why (the problems, the reasons rows were left
    out, or an annotation that lists no clip at all)."""
    reasons = Counter(s["reason"] for s in skipped)
    why = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common()) or "none"
    empty = " (the annotation lists no clip)" if not problems and not skipped else ""
    summary = Problem("-", "", str(where), f"no clip survived{empty}: {len(problems)} problem(s), left out on "
                      f"purpose: {why}")
    return ManifestError([summary, *problems])


def load_dataset(dataset, root, protocol=None, megc_gt=None, on_error="raise", **kwargs) -> pd.DataFrame:
    """Manifest DataFrame of one dataset under ``protocol``: ``load_manifest`` for every key but ``megc2019``
    (its arguments and ``attrs`` are the same)."""
    check_on_error(on_error)
    spec = get(dataset)
    check_root(root, spec.key)
    protocol = protocol or spec.default_protocol
    if protocol == "megc2019" and spec.key not in MEGC2019_DATASETS:
        raise ConfigError(f"protocol megc2019 applies to {MEGC2019_DATASETS} only, not {spec.key}; "
                         "use three-class")
    if megc_gt is not None and protocol != "megc2019":
        raise ConfigError("--megc-gt (megc_gt) is only used with protocol megc2019")
    rows = spec.read(root, on_error="report", **kwargs) if spec.reports else spec.read(root, **kwargs)
    problems = list(rows.attrs.get("problems", []))
    skipped = list(rows.attrs.get("skipped", []))

    everything, _ = select_protocol(rows, "all")
    row_problems = validate(everything, check_frames=False, raise_on_error=False)
    bad = {p.row for p in row_problems}
    # the table index means nothing to a user: each problem already names its sheet row in `file`
    problems += [Problem(None, p.clip, p.file, p.message) for p in row_problems]
    good = rows.reset_index(drop=True)
    good = good.loc[~good.index.isin(list(bad))].reset_index(drop=True)

    mapper = None
    if protocol == "megc2019":
        good, megc_skipped, megc_problems = select(good, spec.key, megc_gt)
        skipped += megc_skipped
        problems += megc_problems
        mapper = megc2019_class(spec.key)
    kept, dropped = select_protocol(good, protocol, mapper=mapper)
    if len(dropped):
        dropped = dropped.assign(reason=f"emotion not in protocol {protocol}")
        skipped += dropped[list(SKIPPED_COLUMNS)].to_dict("records")
    if protocol in IMAGE_PROTOCOLS:  # one row per image the paper's frame rule selects (paper 004)
        kept = select_images(kept, spec.key)
    if problems and on_error == "raise":
        raise ManifestError(problems)
    warn_about_motion(kept)
    kept.attrs["problems"] = problems
    kept.attrs["skipped"] = skipped
    return kept
