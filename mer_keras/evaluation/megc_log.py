"""The MEGC 2019 evaluation log: one block per LOSO fold, in the organisers' native spelling.

Format (``shared/megc2019/README.md``)::

    casme2 sub01
    EP02_01f 1 1
    smic s01
    s01_ne_01 0 0
    samm 006
    006_1_2 0 2

a ``database subject`` header, then ``clip ground_truth predicted`` lines. Our manifest keys are
mapped back to the official list's spelling: ``smic-hs``/``-vis``/``-nir`` -> ``smic`` with subject
``s1`` -> ``s01`` and clip ``s1_ne_01`` -> ``s01_ne_01``; SAMM subjects zero-padded to three digits
(``samm/6`` -> ``006``); other datasets (``casme2``, ``synthme``, ...) keep their names, with the
dataset prefix of the subject key removed.
"""
from __future__ import annotations

import re

import pandas as pd

from ..files import atomic_write_text
from .metrics import check_predictions

LOG_COLUMNS = ("database", "subject", "clip", "y_true", "y_pred")
"""Columns of ``read_megc_log``'s DataFrame (spelling as in the log)."""

_SMIC_CLIP = re.compile(r"^s(\d+)_")


def megc_database(dataset: str) -> str:
    """Log name of a manifest dataset key (``smic-hs`` -> ``smic``; others unchanged)."""
    d = str(dataset).strip().lower()
    return "smic" if d == "smic" or d.startswith("smic-") else d


def megc_subject(dataset: str, subject: str) -> str:
    """Native subject spelling of a qualified key ('smic-hs/s1' -> 's01', 'samm/6' -> '006')."""
    s = str(subject)
    prefix = f"{dataset}/"
    if s.startswith(prefix):
        s = s[len(prefix):]
    elif "/" in s:
        raise ValueError(f"subject {subject!r} is not qualified by its dataset {dataset!r}")
    db = megc_database(dataset)
    if db == "smic":
        m = re.fullmatch(r"s(\d+)", s)
        if m is None:
            raise ValueError(f"SMIC subject {subject!r} is not of the form s<number>")
        return f"s{int(m.group(1)):02d}"
    if db == "samm" and s.isdigit():
        return f"{int(s):03d}"
    return s


def megc_clip(dataset: str, clip: str) -> str:
    """Native clip spelling of the official list (SMIC 's1_ne_01' -> 's01_ne_01'; others unchanged)."""
    c = str(clip)
    if megc_database(dataset) == "smic":
        c = _SMIC_CLIP.sub(lambda m: f"s{int(m.group(1)):02d}_", c)
    return c


def _token(value, what: str) -> str:
    text = str(value)
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"{what} {value!r} is empty or holds whitespace; the log is space-separated")
    return text


def format_megc_log(predictions: pd.DataFrame) -> str:
    """The log text: blocks in the order the folds first appear in ``predictions``."""
    check_predictions(predictions)
    if len(predictions) == 0:
        raise ValueError("no predictions to write to a MEGC log")
    lines = []
    for (dataset, subject), block in predictions.groupby(["dataset", "subject"], sort=False):
        db = _token(megc_database(dataset), "database")
        lines.append(f"{db} {_token(megc_subject(dataset, subject), 'subject')}")
        for clip, t, p in zip(block["clip"], block["y_true"], block["y_pred"]):
            lines.append(f"{_token(megc_clip(dataset, clip), 'clip')} {int(t)} {int(p)}")
    return "\n".join(lines) + "\n"


def write_megc_log(predictions: pd.DataFrame, path):
    """Write the MEGC 2019 evaluation log of pooled predictions atomically (usually ``megc_log.txt``)."""
    return atomic_write_text(path, format_megc_log(predictions))


def read_megc_log(path) -> pd.DataFrame:
    """Parse a MEGC log into rows ``database, subject, clip, y_true, y_pred`` (blank lines skipped)."""
    rows = []
    header = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            parts = raw.split()
            if not parts:
                continue
            if len(parts) == 2:
                header = parts
            elif len(parts) == 3:
                if header is None:
                    raise ValueError(f"{path}:{number}: clip line before any 'database subject' header")
                try:
                    truth, pred = int(parts[1]), int(parts[2])
                except ValueError:
                    raise ValueError(
                        f"{path}:{number}: ground truth and prediction must be integers: {raw.strip()!r}"
                    ) from None
                rows.append((header[0], header[1], parts[0], truth, pred))
            else:
                raise ValueError(
                    f"{path}:{number}: expected 'database subject' or 'clip truth predicted', "
                    f"got {raw.strip()!r}"
                )
    return pd.DataFrame(rows, columns=list(LOG_COLUMNS))
