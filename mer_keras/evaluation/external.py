"""Another codebase's predictions beside a run, subject by subject (``mer-keras table RUN --against FILE``).

Public MER code rarely writes clip names, but most of it prints each LOSO subject's truths and predictions
(STSTNet's release log: ``Subject: sub01`` / ``Predicted : [0, 0, 1]`` / ``Ground Truth: [0, 0, 1]``). A run
of ours on the same clips can then be compared with it by a paired subject bootstrap
(``bootstrap.subject_paired_bootstrap``), which for pooled UF1 / UAR / accuracy needs only each subject's counts
of (truth, prediction). The file's subjects are matched to the run's by name (``sub01``, ``casme2/sub01``, and
``s01`` for ``smic-hs/s1``: letters and number, leading zeros aside); each matched subject must hold the same
class counts in both (a check that also catches another class coding). Subjects of the file that the run does
not hold (SAMM's, for a run on CASME II + SMIC) are named and left out; a run subject the file lacks is an error.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .bootstrap import subject_paired_bootstrap
from .metrics import pooled_scores
from .report import dataset_family, fold_predictions
from .results import read_results_json

LOG_BLOCK = re.compile(r"^\s*Subject\s*:\s*(?P<subject>\S+)\s*\n\s*Predicted\s*:\s*\[(?P<pred>[^\]]*)\]\s*\n"
                       r"\s*Ground Truth\s*:\s*\[(?P<true>[^\]]*)\]", re.MULTILINE)
"""One subject's block of an STSTNet-style log (other lines, such as running scores, are skipped)."""
CSV_COLUMNS = ("subject", "y_true", "y_pred")
EXTERNAL_COLUMNS = ("run_variant", "dataset", "n", "ours_uf1", "ours_uar", "theirs_uf1", "theirs_uar",
                    "uf1_difference", "uf1_low", "uf1_high", "uar_difference", "uar_low", "uar_high")


def _codes(text: str, where: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise InputError(f"{where}: expected a list of integer class codes, got [{text.strip()}]") from None


def _where(path, text: str, block: re.Match, group: str) -> str:
    """``FILE line N (subject S)`` of one group of a log block."""
    return f"{path} line {text.count(chr(10), 0, block.start(group)) + 1} (subject {block['subject']})"


def read_external_predictions(path) -> pd.DataFrame:
    """``subject, y_true, y_pred`` (one row per clip) from a CSV with those columns or an STSTNet-style log."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        table = pd.read_csv(path, dtype={"subject": str})
        missing = [c for c in CSV_COLUMNS if c not in table.columns]
        if missing:
            raise InputError(f"{path}: lacks column(s) {missing}; expected {list(CSV_COLUMNS)}")
        for column in ("y_true", "y_pred"):
            bad = pd.to_numeric(table[column], errors="coerce").isna() | table["subject"].isna()
            if bad.any():
                row = int(bad.idxmax()) + 2  # line number: header is line 1
                raise InputError(f"{path} line {row}: expected a subject and integer class codes in y_true, y_pred")
        return table[list(CSV_COLUMNS)].astype({"y_true": int, "y_pred": int})
    text = path.read_text(encoding="utf-8", errors="replace")
    rows, blocks = [], list(LOG_BLOCK.finditer(text))
    for block in blocks:
        subject = block["subject"]
        truth, pred = (_codes(block[group], _where(path, text, block, group)) for group in ("true", "pred"))
        if len(truth) != len(pred):
            raise InputError(f"{_where(path, text, block, 'subject')}: {len(pred)} predictions for {len(truth)} "
                             "ground-truth labels")
        rows += [(subject, t, p) for t, p in zip(truth, pred)]
    subject_lines = len(re.findall(r"^\s*Subject\s*:", text, re.MULTILINE))
    if not blocks or subject_lines != len(blocks):
        raise InputError(f"{path}: expected a CSV with columns {list(CSV_COLUMNS)}, or a log of blocks "
                         "'Subject: NAME' / 'Predicted : [..]' / 'Ground Truth: [..]'; read "
                         f"{len(blocks)} such blocks of {subject_lines} 'Subject:' lines")
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    repeated = [s for s, n in pd.Series([b["subject"] for b in blocks]).value_counts().items() if n > 1]
    if repeated:
        raise InputError(f"{path}: subject(s) {repeated[:3]} appear in more than one block")
    return frame


def _name_key(subject: str):
    """``smic-hs/s1`` and ``s01`` -> ('s', 1); a name without a trailing number is its own key."""
    name = str(subject).rsplit("/", 1)[-1].strip().lower()
    m = re.fullmatch(r"([a-z_\-]*?)0*(\d+)", name)
    return (m[1], int(m[2])) if m else name


def match_subjects(theirs, ours) -> dict:
    """``{their subject: our subject}`` for every subject of ``theirs`` that names one of ``ours``."""
    ours = [str(s) for s in ours]
    by_key: dict = {}
    for s in ours:
        by_key.setdefault(_name_key(s), []).append(s)
    matched = {}
    for t in dict.fromkeys(str(s) for s in theirs):
        if t in ours:
            matched[t] = t
            continue
        candidates = by_key.get(_name_key(t), [])
        if len(candidates) > 1:
            raise InputError(f"subject {t!r} of the file could be any of {candidates} of the run")
        if candidates:
            matched[t] = candidates[0]
    return matched


def _of_family(preds: pd.DataFrame, family: str) -> pd.DataFrame:
    return preds if family == "all" else preds[preds["dataset"].map(dataset_family) == family]


def external_comparison(run_dir, path, n_boot: int = 1000, seed: int = 0,
                        level: float = 0.95) -> tuple[pd.DataFrame, list[str]]:
    """Each variant and baseline of the run beside the file's predictions, per dataset and pooled: ours, theirs
    and the paired difference (ours minus theirs) with its subject-bootstrap interval. Returns the table
    (``EXTERNAL_COLUMNS``) and the file's subjects left out (not in the run)."""
    found = fold_predictions(Path(run_dir), read_results_json(run_dir))
    if not found:
        raise InputError(f"{run_dir}: no fold predictions to compare")
    theirs = read_external_predictions(path)
    first = next(iter(found.values()))
    subject_dataset = first.groupby("subject")["dataset"].first()
    matched = match_subjects(theirs["subject"], subject_dataset.index)
    left_out = [s for s in dict.fromkeys(theirs["subject"]) if s not in matched]
    lacking = sorted(set(subject_dataset.index) - set(matched.values()))
    if lacking:
        raise InputError(f"{path}: holds no predictions for {len(lacking)} subject(s) of the run (first "
                         f"{lacking[:3]}); a comparison needs every subject the run tested")
    theirs = theirs[theirs["subject"].isin(matched)].copy()
    theirs["subject"] = theirs["subject"].map(matched)
    theirs["dataset"] = theirs["subject"].map(subject_dataset)
    theirs["clip"] = "#" + (theirs.groupby("subject").cumcount() + 1).astype(str)  # clips unnamed in the file
    rows = []
    for label, ours in found.items():
        families = ["all"] + sorted({dataset_family(d) for d in ours["dataset"]})
        for family in families:
            a, b = _of_family(ours, family), _of_family(theirs, family)
            try:
                diff = subject_paired_bootstrap(a, b, n_boot=n_boot, seed=seed, level=level)
            except ValueError as e:
                raise InputError(f"{path} against {run_dir} [{label}]: {e}") from None
            sa, sb = pooled_scores(a)["all"], pooled_scores(b)["all"]
            rows.append({"run_variant": label, "dataset": family, "n": len(a),
                         "ours_uf1": sa["uf1"], "ours_uar": sa["uar"], "theirs_uf1": sb["uf1"], "theirs_uar": sb["uar"],
                         **{f"{m}_{k}": v for m in ("uf1", "uar")
                            for k, v in zip(("difference", "low", "high"), diff[m])}})
    return pd.DataFrame(rows, columns=list(EXTERNAL_COLUMNS)), left_out


def format_external(df: pd.DataFrame, path, left_out, level: float = 0.95) -> str:
    """The comparison as text: one line per (variant, dataset)."""
    lines = [f"Against {path} (theirs), paired by subject ({level:.0%} subject-bootstrap intervals, ours minus theirs):"]
    if left_out:
        lines.append(f"  {len(left_out)} subject(s) of the file are not in the run and are left out: "
                     f"{', '.join(left_out[:8])}{' ...' if len(left_out) > 8 else ''}")
    for r in df.itertuples():
        lines.append(f"  {r.run_variant} | {r.dataset} ({r.n} clips): ours UF1 {r.ours_uf1:.3f} / UAR {r.ours_uar:.3f}, "
                     f"theirs {r.theirs_uf1:.3f} / {r.theirs_uar:.3f}; UF1 {r.uf1_difference:+.3f} "
                     f"[{r.uf1_low:+.3f}, {r.uf1_high:+.3f}], UAR {r.uar_difference:+.3f} "
                     f"[{r.uar_low:+.3f}, {r.uar_high:+.3f}]")
    return "\n".join(lines) + "\n"
