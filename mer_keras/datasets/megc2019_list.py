"""The official MEGC 2019 list: its identifiers, its per-dataset classes and the selection of its clips.

The organisers' ``combined_3class_gt.csv`` (no header, rows ``database,subject,clip,label``; its ``-2``
copy has an empty row after each data row) names the composite's clips; without it the 3-class mapping
plus the list's two CASME II omissions select them. The list spells identifiers differently from the
native folders: SAMM subject ``6`` is folder ``006``, SMIC subject ``s01`` and clip ``s01_ne_01`` are
folders ``s1`` and ``s1_ne_01``; ``native_key`` maps them. Below the loaders (each dataset's selection
under protocol ``megc2019``) and the composite (``megc2019``), which both use it. The official file is
the user's to obtain: the package never ships or downloads it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .labels import three_class
from .schema import ManifestError, Problem

LIST_DATABASES = {"casme2": "casme2", "samm": "samm", "smic": "smic-hs"}
"""Database name in the official list -> dataset key in the manifest."""

OMISSIONS = {
    ("casme2/sub04", "EP12_01f"): "not in the official MEGC 2019 list (its ApexFrame is '/')",
    ("casme2/sub05", "EP09_05f"): "not in the official MEGC 2019 list",
}
"""Clips the 3-class mapping keeps but the official list leaves out (DATASETS.md B.3)."""

LIST_COLUMNS = ("database", "subject", "clip", "label")

CASME2_CLASSES = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}
"""CASME II under MEGC 2019: negative is Disgust + Repression only; fear, sadness, others dropped."""


def megc2019_class(dataset: str):
    """The emotion -> class mapper of one dataset under MEGC 2019 (the organisers' per-dataset text).

    SAMM and SMIC use the general 3-class mapping (negative = anger, contempt, disgust, fear,
    sadness; SMIC folders are already negative/positive/surprise); CASME II keeps only disgust and
    repression as negative.
    """
    if dataset == "casme2":
        return lambda emotion: CASME2_CLASSES.get(str(emotion).strip().lower())
    return three_class


def native_key(database: str, subject: str, clip: str) -> tuple[str, str, str]:
    """(dataset, subject key, clip) on disk for an entry of the official list.

    >>> native_key("samm", "6", "006_1_2")
    ('samm', 'samm/006', '006_1_2')
    >>> native_key("smic", "s01", "s01_ne_01")
    ('smic-hs', 'smic-hs/s1', 's1_ne_01')
    """
    db = database.strip().lower()
    if db not in LIST_DATABASES:
        raise ValueError(f"unknown database {database!r}; expected one of {sorted(LIST_DATABASES)}")
    dataset, subject, clip = LIST_DATABASES[db], subject.strip(), clip.strip()
    if db == "samm":
        subject = f"{int(subject):03d}" if subject.isdigit() else subject
    elif db == "smic":
        subject = re.sub(r"^s0*(\d+)$", lambda m: f"s{int(m.group(1))}", subject)
        clip = re.sub(r"^s0*(\d+)_", lambda m: f"s{int(m.group(1))}_", clip)
    elif db == "casme2":
        subject = re.sub(r"^(?:sub)?0*(\d+)$", lambda m: f"sub{int(m.group(1)):02d}", subject)
    return dataset, f"{dataset}/{subject}", clip


def read_official_list(path) -> pd.DataFrame:
    """The official list as a DataFrame (database, subject, clip, label, line, dataset, key_subject, key_clip).

    Accepts the original file (no header, CRLF), its ``-2`` copy (empty ``,,,`` rows) and copies
    with a header such as ``data,subject,clip,label``. Every malformed line is reported.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError([Problem("-", "", str(path), "MEGC 2019 list not found (--megc-gt)" if not path.exists()
                                     else "MEGC 2019 list (--megc-gt) is a folder, not a file")])
    rows, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        cells = [c.strip() for c in line.split(",")]
        if not any(cells):
            continue
        if n == 1 and cells[-1].lower() == "label":
            continue
        if len(cells) != 4 or not cells[3].isdigit() or int(cells[3]) not in (0, 1, 2):
            problems.append(Problem(f"line {n}", "", str(path), f"expected 'database,subject,clip,label' "
                                    f"with label 0/1/2, got {line!r}"))
            continue
        try:
            dataset, subject, clip = native_key(*cells[:3])
        except ValueError as e:
            problems.append(Problem(f"line {n}", "", str(path), str(e)))
            continue
        rows.append({"database": cells[0].lower(), "subject": cells[1], "clip": cells[2],
                     "label": int(cells[3]), "line": n, "dataset": dataset,
                     "key_subject": subject, "key_clip": clip})
    if problems:
        raise ManifestError(problems)
    if not rows:
        raise ManifestError([Problem("-", "", str(path), "the MEGC 2019 list holds no 'database,subject,clip,label' "
                                     "line")])
    df = pd.DataFrame(rows)
    dup = df.duplicated(subset=["dataset", "key_subject", "key_clip"], keep=False)
    if dup.any():
        raise ManifestError([Problem(f"line {r.line}", f"{r.subject}/{r.clip}", str(path), "listed twice")
                             for r in df[dup].itertuples()])
    return df


def select(rows: pd.DataFrame, dataset: str, megc_gt=None):
    """Keep the composite's clips of one dataset; return (kept rows, skipped records, problems).

    With ``megc_gt`` (path or DataFrame from ``read_official_list``): the listed clips, each
    checked against the list's label; listed clips not read are problems. Without it: every row
    (the 3-class mapping then drops other emotions) less ``OMISSIONS``.
    """
    skipped, problems = [], []
    keys = list(zip(rows["subject"], rows["clip"]))
    if megc_gt is None:
        keep = [k not in OMISSIONS for k in keys]
        for (subject, clip), emotion, k in zip(keys, rows["emotion"], keep):
            if not k:
                skipped.append({"dataset": dataset, "subject": subject, "clip": clip, "emotion": emotion,
                                "reason": OMISSIONS[(subject, clip)]})
        return rows.loc[pd.Series(keep, index=rows.index, dtype=bool)].reset_index(drop=True), skipped, problems
    official = megc_gt if isinstance(megc_gt, pd.DataFrame) else read_official_list(megc_gt)
    source = str(megc_gt) if not isinstance(megc_gt, pd.DataFrame) else "official list"
    mapper = megc2019_class(dataset)
    mine = official[official["dataset"] == dataset]
    listed = {(r.key_subject, r.key_clip): r for r in mine.itertuples()}
    keep = []
    for (subject, clip), emotion in zip(keys, rows["emotion"]):
        entry = listed.get((subject, clip))
        keep.append(entry is not None)
        if entry is None:
            skipped.append({"dataset": dataset, "subject": subject, "clip": clip, "emotion": emotion,
                            "reason": "not in the official MEGC 2019 list"})
        elif mapper(emotion) != entry.label:
            problems.append(Problem(f"line {entry.line}", f"{subject}/{clip}", source,
                                    f"list label {entry.label} disagrees with emotion {emotion!r} "
                                    f"(MEGC 2019 class {mapper(emotion)})"))
    found = set(keys)
    for key, entry in listed.items():
        if key not in found:
            problems.append(Problem(f"line {entry.line}", f"{entry.subject}/{entry.clip}", source,
                                    f"listed clip {key[0]}/{key[1]} was not read from the dataset folder"))
    # a boolean Series, not a list: rows[[]] of an empty table would select no *columns*
    return rows.loc[pd.Series(keep, index=rows.index, dtype=bool)].reset_index(drop=True), skipped, problems
