"""UF1 / UAR / accuracy tables of finished runs, with the same paper's published numbers alongside.

A run directory's ``results.json`` tells which published numbers belong next to it: ``paper``
(in ``extra`` or in ``config``; a key of ``published.PAPERS`` or a list of them) and
``config["protocol"]`` (``"megc2019"`` adds the MEGC 2019 baselines and challenge entries). A run row is marked not
comparable when its numbers cannot be set against a paper's: scores on SynthME (synthetic data:
a ``synthme`` dataset, ``extra["synthetic"]`` or ``config["data"] == "synthme"``), or a variant
flagged ``leaky`` (for instance best-test-epoch selection, kept only to show how a
paper's number may have been obtained).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .metrics import ALL
from .published import PAPERS, published_rows
from .results import read_results_json

TABLE_COLUMNS = ("dataset", "method", "kind", "uf1", "uar", "accuracy", "n", "comparable", "note", "source")
DATASET_ORDER = (ALL, "casme2", "smic", "samm", "mmew")
SYNTHETIC_DATASETS = ("synthme",)
SYNTHETIC_NOTE = "SynthME (synthetic), not comparable to published"
OVERRIDDEN_NOTE = "settings changed with --set (see results.json config.overrides)"
LEAKY_NOTE = "leaky option"


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


def _run_rows(run_dir: Path, doc: dict) -> list[dict]:
    """Rows of one run: its headline scores, then each variant whose scores differ from them."""
    config = doc.get("config", {})
    name = str(_extra(doc).get("experiment") or config.get("name") or run_dir.name)
    headline = [name, doc["scores"], bool(config.get("leaky", False)), str(config.get("leaky_description", ""))]
    models = [headline]
    for variant, v in (doc.get("variants") or {}).items():
        label = f"{name} [{v.get('label') or variant}]"
        leaky = bool(v.get("leaky"))
        if v["scores"] == doc["scores"] and headline[0] == name:  # the headline model is this variant
            headline[0], headline[2] = label, headline[2] or leaky
            headline[3] = headline[3] or (_leak_description(v) if leaky else "")
            continue
        models.append([label, v["scores"], leaky, _leak_description(v) if leaky else ""])
    synthetic = _is_synthetic(doc)
    overridden = bool(_extra(doc).get("overridden"))
    rows = []
    for method, scores, leaky, description in models:
        reasons = []
        if synthetic:
            reasons.append(SYNTHETIC_NOTE)
        if overridden:
            reasons.append(OVERRIDDEN_NOTE)
        if leaky:
            reasons.append(f"{LEAKY_NOTE}: {description}" if description else LEAKY_NOTE)
        for dataset, s in scores.items():
            rows.append({
                "dataset": dataset, "method": method, "kind": "run",
                "uf1": s.get("uf1"), "uar": s.get("uar"), "accuracy": s.get("accuracy"), "n": s.get("n"),
                "comparable": not reasons, "note": "; ".join(reasons), "source": str(run_dir),
            })
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
                "comparable": None, "note": r.note, "source": f"{r.table}: {r.source}",
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
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        doc = read_results_json(run_dir)
        rows += _run_rows(run_dir, doc)
        papers += _papers_of(doc)
        families |= {dataset_family(d) for d in doc["scores"]}
    if with_published:
        rows += _published_rows(list(dict.fromkeys(papers)), families)
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    rank = {d: i for i, d in enumerate(DATASET_ORDER)}
    df["_d"] = df["dataset"].map(lambda d: (rank.get(dataset_family(d), len(rank)), dataset_family(d)))
    df["_k"] = (df["kind"] == "published").astype(int)
    df = df.reset_index().sort_values(["_d", "_k", "index"], kind="stable")
    return df.drop(columns=["_d", "_k", "index"]).reset_index(drop=True)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_table(df: pd.DataFrame) -> str:
    """Plain-text table, grouped by dataset; published sources (and table notes) become numbered footnotes."""
    footnotes: dict[str, int] = {}
    lines = []
    header = ["dataset", "method", "UF1", "UAR", "Acc", "n", "comparable", "note", "source"]
    body = []
    for r in df.itertuples():
        note = r.note or ""
        if r.kind == "published":  # source and table note go to a footnote shared by the table's rows
            ref = footnotes.setdefault(f"{r.source}" + (f" ({note})" if note else ""), len(footnotes) + 1)
            source, comparable, note = f"[{ref}]", "(published)", ""
        else:
            source, comparable = r.source, "yes" if r.comparable else "NO"
        n = "-" if r.n is None or (isinstance(r.n, float) and math.isnan(r.n)) else str(int(r.n))
        body.append([r.dataset, r.method, _cell(r.uf1), _cell(r.uar), _cell(r.accuracy), n, comparable, note,
                     source])
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
