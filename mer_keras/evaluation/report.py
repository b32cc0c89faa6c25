"""UF1 / UAR / accuracy tables of finished runs, with the same paper's published numbers alongside.

A run directory's ``results.json`` tells which published numbers belong next to it: ``paper``
(in ``extra`` or in ``config``; a key of ``published.PAPERS`` or a list of them) and
``config["protocol"]`` (``"megc2019"`` adds the MEGC 2019 baselines and challenge entries). A run row is marked not
comparable when its numbers cannot be set against a paper's: scores on SynthME (synthetic data:
a ``synthme`` dataset, ``extra["synthetic"]`` or ``config["data"] == "synthme"``), or a variant
flagged ``leaky`` (for instance best-test-epoch selection, kept only to show how a
paper's number may have been obtained).

Uncertainty and floors (issue 16). When ``results.json`` holds them, a run row shows its bootstrap interval
beside each score (``variants[name]["intervals"] = {"uf1": [lo, hi], ...}``, for the composite; a
per-dataset form ``{"all": {...}, "casme2": {...}}`` is read too), and the same-fold baselines
(``results["baselines"][kind] = {"label", "scores", "intervals"}``) are printed directly under the run's
rows, marked as baselines, never comparable with published numbers. Older files without these keys print
as before. ``paired_differences`` compares every two variants of a run scored on the same clips, from the
fold CSVs under ``RUN_DIR/folds/<variant>/``.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .bootstrap import METRICS, format_interval, paired, paired_bootstrap
from .metrics import ALL
from .published import PAPERS, SELECTION, published_rows
from .results import FoldStore, read_results_json

INTERVAL_COLUMNS = tuple(f"{m}_{end}" for m in METRICS for end in ("low", "high"))
TABLE_COLUMNS = ("dataset", "method", "kind", "uf1", "uar", "accuracy", "n", "comparable", "note", "source",
                 *INTERVAL_COLUMNS)
DATASET_ORDER = (ALL, "casme2", "smic", "samm", "mmew")
SYNTHETIC_DATASETS = ("synthme",)
SYNTHETIC_NOTE = "SynthME (synthetic), not comparable to published"
OVERRIDDEN_NOTE = "settings changed with --set (see results.json config.overrides)"
LEAKY_NOTE = "leaky option"
COLLAPSE_NOTE = ("COLLAPSE: the network predicts one class for every training clip in {n} of {folds} folds "
                 "(inference mode)")
BASELINE_NOTE = "baseline on the run's folds ({label}), not comparable with published numbers"
NOT_COMPARABLE_PREFIX = "not comparable: "
"""A published row whose table note starts so (paper 001's per-sample Table 1) is marked NO in the comparable
column, its reason (the note up to its first parenthesis) in the note column, as a run row's reasons are."""
KIND_ORDER = {"run": 0, "baseline": 1, "published": 2}
PAIR_COLUMNS = ("run", "a", "b", "n", "metric", "difference", "low", "high", "verdict")


def dataset_family(dataset: str) -> str:
    """Key shared by our dataset names and the papers' ('smic-hs' and 'SMIC' -> 'smic')."""
    d = str(dataset).lower()
    return "smic" if d.startswith("smic") else d


def _extra(doc: dict) -> dict:
    return doc.get("extra") or {}


def _papers_of(doc: dict) -> list[str]:
    config = doc.get("config", {})
    papers = _extra(doc).get("paper") or config.get("paper") or []
    papers = [papers] if isinstance(papers, str) else list(papers)
    if str(config.get("protocol", "")).lower() == "megc2019":
        papers.append("megc2019")
    unknown = [p for p in papers if p not in PAPERS]
    if unknown:
        raise ValueError(f"results.json names unknown paper(s) {unknown}; known: {sorted(PAPERS)}")
    return list(dict.fromkeys(papers))


def _leak_description(variant: dict) -> str:
    if variant.get("description"):
        return str(variant["description"])
    checkpoint = (variant.get("config") or {}).get("finetune", {}).get("checkpoint")
    return f"checkpoint '{checkpoint}' chosen on the test subject" if checkpoint else "selection on the test subject"


def _is_synthetic(doc: dict) -> bool:
    config = doc.get("config", {})
    datasets = [d for d in doc["scores"] if d != ALL] + [str(_extra(doc).get("dataset", "")),
                                                         str(config.get("data", ""))]
    return bool(_extra(doc).get("synthetic")) or any(dataset_family(d) in SYNTHETIC_DATASETS for d in datasets)


def _interval_cells(intervals, dataset: str) -> dict:
    """``{"uf1_low": ..., ...}`` of one dataset's row; the flat form (``{"uf1": [lo, hi]}``) is the composite's."""
    cells = dict.fromkeys(INTERVAL_COLUMNS)
    if not isinstance(intervals, dict) or not intervals:
        return cells
    if not any(m in intervals for m in METRICS):  # per-dataset form
        intervals = intervals.get(dataset)
    elif dataset != ALL:
        return cells
    for m in METRICS:
        pair = (intervals or {}).get(m)
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and None not in pair:
            cells[f"{m}_low"], cells[f"{m}_high"] = float(pair[0]), float(pair[1])
    return cells


def _score_rows(scores, intervals, **fields) -> list[dict]:
    return [{"dataset": dataset, **fields, "uf1": s.get("uf1"), "uar": s.get("uar"), "accuracy": s.get("accuracy"),
             "n": s.get("n"), **_interval_cells(intervals, dataset)} for dataset, s in scores.items()]


def run_baselines(doc: dict) -> dict:
    """The same-fold baselines of a ``results.json`` (``{}`` in files written before issue 16)."""
    baselines = doc.get("baselines") or _extra(doc).get("baselines") or {}
    return {str(k): v for k, v in baselines.items() if isinstance(v, dict) and isinstance(v.get("scores"), dict)}


def baseline_row_label(kind: str) -> str:
    """How a same-fold baseline's row is named beside the run's variants (tables, pairs, figures)."""
    return f"baseline: {kind}"


def _run_name(run_dir: Path, doc: dict) -> str:
    config = doc.get("config", {})
    return str(_extra(doc).get("experiment") or config.get("name") or run_dir.name)


def _run_rows(run_dir: Path, doc: dict) -> list[dict]:
    """Rows of one run: its headline scores, each variant whose scores differ from them, then its baselines."""
    config = doc.get("config", {})
    name = _run_name(run_dir, doc)
    headline = [name, doc["scores"], bool(config.get("leaky", False)), str(config.get("leaky_description", "")),
                doc.get("intervals"), None]
    models = [headline]
    for variant, v in (doc.get("variants") or {}).items():
        label = f"{name} [{v.get('label') or variant}]"
        leaky = bool(v.get("leaky"))
        if v["scores"] == doc["scores"] and headline[0] == name:  # the headline model is this variant
            headline[0], headline[2] = label, headline[2] or leaky
            headline[3] = headline[3] or (_leak_description(v) if leaky else "")
            headline[4] = headline[4] or v.get("intervals")
            headline[5] = v
            continue
        models.append([label, v["scores"], leaky, _leak_description(v) if leaky else "", v.get("intervals"), v])
    synthetic = _is_synthetic(doc)
    rows = []
    for method, scores, leaky, description, intervals, v in models:
        reasons = []
        provenance = (v or {}).get("provenance")
        # each variant records the overrides it ran with; older files only say whether the last run had any
        overridden = bool(provenance["overrides"]) if provenance else bool(_extra(doc).get("overridden"))
        if synthetic:
            reasons.append(SYNTHETIC_NOTE)
        if overridden:
            reasons.append(OVERRIDDEN_NOTE)
        reasons += [r for r in (v or {}).get("not_comparable_because", [])
                    if r.startswith("not the ") or "not checked" in r]  # the clip set is not the protocol's
        if leaky:
            reasons.append(f"{LEAKY_NOTE}: {description}" if description else LEAKY_NOTE)
        warnings = [COLLAPSE_NOTE.format(n=v["collapsed_folds"], folds=v.get("folds", "?"))] \
            if (v or {}).get("collapsed_folds") else []
        rows += _score_rows(scores, intervals, method=method, kind="run", comparable=not reasons,
                            note="; ".join(warnings + reasons), source=str(run_dir))
    for kind, b in run_baselines(doc).items():
        rows += _score_rows(b["scores"], b.get("intervals"), method=f"{name} [{baseline_row_label(kind)}]",
                            kind="baseline", comparable=False, note=BASELINE_NOTE.format(label=b.get("label") or kind),
                            source=str(run_dir))
    return rows


def _published_rows(papers, families) -> list[dict]:
    rows = []
    for paper in papers:
        table = published_rows(paper, dedupe=True)
        matching = table[table["dataset"].map(dataset_family).isin(families)]
        for r in (matching if len(matching) else table).itertuples():
            rows.append({
                "dataset": r.dataset, "method": f"{r.method} (published)", "kind": "published",
                "uf1": r.uf1, "uar": r.uar, "accuracy": r.accuracy, "n": None,
                "comparable": False if str(r.note).startswith(NOT_COMPARABLE_PREFIX) else None, "note": r.note,
                "source": f"{r.table}: {r.source}", "table": r.table,
            })
    return rows


def results_table(run_dirs, with_published: bool = True) -> pd.DataFrame:
    """One row per (model, dataset): our runs first, then the published rows of the same papers.

    Published rows are limited to the datasets the runs report (all of a paper's rows when none
    match, as for a SynthME run). Columns: ``TABLE_COLUMNS``.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    rows, papers, families = [], [], set()
    for order, run_dir in enumerate(run_dirs):
        run_dir = Path(run_dir)
        doc = read_results_json(run_dir)
        rows += [dict(r, _run=order) for r in _run_rows(run_dir, doc)]
        papers += _papers_of(doc)
        families |= {dataset_family(d) for d in doc["scores"]}
    if with_published:
        rows += _published_rows(list(dict.fromkeys(papers)), families)
    df = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, "_run"])
    rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    df["_d"] = df["dataset"].map(lambda d: (rank.get(dataset_family(d), len(rank)), dataset_family(d)))
    # within a dataset: each run's rows with its baselines right under them, then the published rows
    df["_p"] = (df["kind"] == "published").astype(int)
    df["_r"] = df["_run"].fillna(-1)
    df["_k"] = df["kind"].map(KIND_ORDER)
    df = df.reset_index().sort_values(["_d", "_p", "_r", "_k", "index"], kind="stable")
    return df.drop(columns=["_d", "_p", "_r", "_k", "_run", "index"]).reset_index(drop=True)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _score_cell(r, metric: str) -> str:
    low, high = getattr(r, f"{metric}_low", None), getattr(r, f"{metric}_high", None)
    value = getattr(r, metric)
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high, value)):
        return _cell(value)
    return format_interval(value, low, high)


def format_table(df: pd.DataFrame) -> str:
    """Plain-text table, grouped by dataset; published sources (and table notes) become numbered footnotes.

    A score with a bootstrap interval prints as ``0.611 [0.56, 0.66]``; baseline rows say ``NO (baseline)``.
    """
    footnotes: dict[str, int] = {}
    lines = []
    header = ["dataset", "method", "UF1", "UAR", "Acc", "n", "comparable", "note", "source"]
    body = []
    for r in df.itertuples():
        note = r.note or ""
        if r.kind == "published":  # source and table note go to a footnote shared by the table's rows
            ref = footnotes.setdefault(f"{r.source}" + (f" ({note})" if note else ""), len(footnotes) + 1)
            source, comparable, note = f"[{ref}]", "(published)", ""
            if not pd.isna(r.comparable) and not r.comparable:  # e.g. paper 001's per-sample protocol: NO, with the reason beside it
                comparable, note = "NO (published)", r.note.split(" (")[0]
        else:
            source, comparable = r.source, "yes" if r.comparable else "NO"
            comparable += " (baseline)" if r.kind == "baseline" else ""
        n = "-" if r.n is None or (isinstance(r.n, float) and math.isnan(r.n)) else str(int(r.n))
        body.append([r.dataset, r.method, _score_cell(r, "uf1"), _score_cell(r, "uar"), _score_cell(r, "accuracy"),
                     n, comparable, note, source])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append(fmt.format(*header).rstrip())
    lines.append(fmt.format(*("-" * w for w in widths)).rstrip())
    previous = None
    for row in body:
        family = dataset_family(row[0])
        if previous is not None and family != previous:
            lines.append("")
        previous = family
        lines.append(fmt.format(*row).rstrip())
    if footnotes:
        lines.append("")
        lines += [f"[{i}] {src}" for src, i in footnotes.items()]
    return "\n".join(lines) + "\n"


def fold_predictions(run_dir: Path, doc: dict) -> dict:
    """``{label: predictions}`` of the run's variants (and baselines saved as ``folds/baseline_<kind>``)."""
    found = {}
    names = [(n, v.get("label") or n) for n, v in (doc.get("variants") or {}).items()]
    names += [(f"baseline_{k}", baseline_row_label(k)) for k in run_baselines(doc)]
    recorded = {n: v.get("folds") for n, v in (doc.get("variants") or {}).items()}
    missing = []
    for folder, label in names:
        store = FoldStore(run_dir, folder)
        missing += missing_fold_files(store, recorded.get(folder))
        if store.folder.is_dir() and any(store.folder.glob("*.csv")):
            found[str(label)] = store.load_all()
    if missing:  # a pair on fewer clips is not a pair: say so instead of dropping it
        raise InputError(f"{run_dir}: {len(missing)} fold file(s) missing, so the paired comparisons cannot be made: "
                         f"{'; '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}; run the same `reproduce` "
                         "command with this --out to recompute them")
    return found


def version_differences(run_dirs) -> list[str]:
    """Libraries whose recorded version differs between the runs (and resumed variants) a table compares: their
    numbers may differ by the library alone (``results.json`` ``versions``, each variant's ``provenance``)."""
    seen: dict = {}  # library -> {version: [where]}
    for run_dir in run_dirs:
        doc = read_results_json(run_dir)
        records = [(str(run_dir), doc.get("versions"))]
        records += [(f"{run_dir} [{name}]", (v.get("provenance") or {}).get("versions"))
                    for name, v in (doc.get("variants") or {}).items() if isinstance(v, dict)]
        for where, versions in records:
            for lib, version in (versions or {}).items() if isinstance(versions, dict) else ():
                seen.setdefault(lib, {}).setdefault(str(version), []).append(where)
    return [f"{lib}: " + "; ".join(f"{v} ({', '.join(dict.fromkeys(w))})" for v, w in by.items())
            for lib, by in sorted(seen.items()) if len(by) > 1]


def missing_fold_files(store: FoldStore, recorded_folds=None) -> list[str]:
    """Fold CSVs that were written (their ``.written.json`` is there) or counted in results.json but are gone."""
    folder = store.folder
    csvs = {p.stem for p in folder.glob("*.csv")} if folder.is_dir() else set()
    written = {p.name[: -len(".written.json")] for p in folder.glob("*.written.json")} if folder.is_dir() else set()
    gone = [str(folder / f"{stem}.csv") for stem in sorted(written - csvs)]
    if not gone and isinstance(recorded_folds, int) and len(csvs) < recorded_folds:
        gone = [f"{folder}: {recorded_folds - len(csvs)} of the {recorded_folds} fold CSVs results.json counts"]
    return gone


MAJORITY_LABEL = baseline_row_label("majority")


def paired_differences(run_dirs, metrics=("uf1", "uar"), n_boot: int = 1000, seed=0, level: float = 0.95,
                       across_runs: bool = False) -> pd.DataFrame:
    """Paired-bootstrap ``a - b`` for every two variants of a run scored on the same clips (``PAIR_COLUMNS``).

    Predictions come from the fold CSVs of each variant named in ``results.json`` (``RUN_DIR/folds/<variant>/``);
    pairs whose clips or labels differ are left out, as are runs with fewer than two variants on disk.
    ``across_runs`` also pairs every variant and baseline of one run with every one of each later run on the same
    clips: two runs of one experiment that differ by one ``--set`` give that setting's effect, paired, and a
    network against the other run's floor (the majority baseline, which reads no input, is not paired across
    runs). Runs of one experiment are told apart by their folder's name.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    runs = []
    for run_dir in map(Path, run_dirs):
        doc = read_results_json(run_dir)
        runs.append((run_dir, _run_name(run_dir, doc), list(fold_predictions(run_dir, doc).items())))
    names = [name for _, name, _ in runs]
    labels = [f"{name} ({run_dir.name})" if names.count(name) > 1 else name for run_dir, name, _ in runs]
    rows = []

    def add(run_label, a, pa, b, pb):
        try:
            paired(pa, pb)
        except ValueError:
            return  # not run on the same clips: nothing to pair
        for metric, d in paired_bootstrap(pa, pb, metrics, n_boot=n_boot, seed=seed, level=level).items():
            rows.append({"run": run_label, "a": a, "b": b, "n": len(pa), "metric": metric,
                         "difference": d.difference, "low": d.low, "high": d.high, "verdict": d.verdict})

    for label, (_, _, preds) in zip(labels, runs):
        for i, (a, pa) in enumerate(preds):
            for b, pb in preds[i + 1:]:
                add(label, a, pa, b, pb)
    if across_runs:
        for i, (label_i, (_, _, preds_i)) in enumerate(zip(labels, runs)):
            for label_j, (_, _, preds_j) in zip(labels[i + 1:], runs[i + 1:]):
                for a, pa in preds_i:
                    for b, pb in preds_j:
                        if MAJORITY_LABEL not in (a, b):
                            add(f"{label_i} vs {label_j}", f"{label_i}: {a}", pa, f"{label_j}: {b}", pb)
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def format_pairs(df: pd.DataFrame, n_boot: int = 1000, level: float = 0.95) -> str:
    """One line per pair: each metric's ``a - b`` with its interval and verdict (empty string when no pair)."""
    if df.empty:
        return ""
    lines = [f"Paired differences a - b (same clips, subjects resampled {n_boot} times, {level:.0%} interval):"]
    body = []
    for (run, a, b, n), part in df.groupby(["run", "a", "b", "n"], sort=False):
        cells = [f"{r.metric.upper() if r.metric != 'accuracy' else 'Acc'} "
                 f"{format_interval(r.difference, r.low, r.high, sign=True)} {r.verdict}" for r in part.itertuples()]
        body.append([run, a, b, str(n), "; ".join(cells)])
    header = ["run", "a", "b", "n", "difference"]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append(fmt.format(*header).rstrip())
    lines.append(fmt.format(*("-" * w for w in widths)).rstrip())
    lines += [fmt.format(*row).rstrip() for row in body]
    lines.append(SEED_NOTE)
    return "\n".join(lines) + "\n"


SEED_NOTE = ("(the intervals resample subjects, not training runs: two seeds of one recipe can differ "
             "distinguishably; on realdata-dev they did by -0.073 UF1, so compare recipes over several seeds)")


MEGC_DATASETS = (("all", "Full"), ("smic", "SMIC"), ("casme2", "CASME II"), ("samm", "SAMM"))
MEGC_COLUMNS = ("method", "source", "leak_free",
                *(f"{label} {m}" for _, label in MEGC_DATASETS for m in ("UF1", "UAR")))


def _leak_free(r) -> str:
    if r.kind == "published":
        return SELECTION.get(r.table, "not stated")
    if r.kind == "baseline":
        return "yes (baseline)"
    return "no (test-fold selection)" if LEAKY_NOTE in str(r.note) else "yes"


def megc_comparison_table(run_dirs) -> pd.DataFrame:
    """The MEGC 2019 comparison table in the shape of STSTNet's Table III (published_numbers 5.2): one row per
    system, UF1 and UAR on the composite (Full), SMIC, CASME II and SAMM; our runs (each variant and same-fold
    baseline) first, then every published MEGC 2019 row, with a column that says which rows are leak-free
    (``published.SELECTION``: a published rule is known only where code and logs show it). A dataset a run
    did not hold is NaN; our "Full" is the composite of the datasets the run held."""
    df = results_table(run_dirs, with_published=False)
    published = pd.DataFrame(_published_rows(["megc2019"], {d for d, _ in MEGC_DATASETS}))
    df = pd.concat([df, published], ignore_index=True)
    df["family"] = df["dataset"].map(dataset_family)
    rows = {}
    for r in df.itertuples():
        if r.family not in dict(MEGC_DATASETS):
            continue
        method = r.method.removesuffix(" (published)")  # the source column says so
        key = (method, "published" if r.kind == "published" else "ours")
        row = rows.setdefault(key, {"method": method, "source": key[1], "leak_free": _leak_free(r)})
        label = dict(MEGC_DATASETS)[r.family]
        row[f"{label} UF1"], row[f"{label} UAR"] = r.uf1, r.uar
    return pd.DataFrame(list(rows.values()), columns=list(MEGC_COLUMNS))


def format_megc_table(df: pd.DataFrame) -> str:
    """``megc_comparison_table`` as plain text, 4 decimals, '-' where a value is unknown."""
    body = [[_cell(v) if isinstance(v, float) else str(v) for v in row] for row in df.itertuples(index=False)]
    header = list(MEGC_COLUMNS)
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    lines += [fmt.format(*row).rstrip() for row in body]
    return "\n".join(lines) + "\n"
