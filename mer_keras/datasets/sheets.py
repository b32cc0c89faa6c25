"""Annotation spreadsheets as the datasets ship them: find the header, accept every spelling.

Releases differ in sheet version and column spelling (CASME II ``OnsetFrame``, SAMM ``Onset Frame``,
SMIC-E ``OnsetF``) and SAMM puts 13 preamble rows above its header. ``read_sheet`` finds the header
row by looking for the required columns, renames the columns to canonical keys and keeps each
row's spreadsheet row number so every error can name it.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from .manifest import ManifestError, Problem

HEADER_SEARCH_ROWS = 40
"""How many leading rows may hold a title/preamble before the header (SAMM has 13)."""

SHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")

# Canonical key -> accepted header spellings, compared after ``normalise``.
COMMON_COLUMNS = {
    "subject": ("subject", "sub", "subjectid", "subid"),
    "clip": ("filename", "clip", "video", "sample", "foldname", "material"),
    "onset": ("onsetframe", "onset", "onsetf"),
    "apex": ("apexframe", "apex", "apexf"),
    "offset": ("offsetframe", "offset", "offsetf"),
    "emotion": ("estimatedemotion", "emotion", "emotions", "estimatedemotions"),
    "action_units": ("actionunits", "au", "aus"),
}

ROW_NUMBER = "sheet_row"
"""Column added by ``read_sheet``: the 1-based row number as a spreadsheet program shows it."""


def normalise(name) -> str:
    """Header cell -> comparison key: lower case, letters and digits only ('Onset Frame' -> 'onsetframe')."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_sheet(root, patterns, what: str) -> Path:
    """The one annotation file under ``root`` (depth <= 2) matching ``patterns``; clear error otherwise."""
    root = Path(root)
    found = []
    for depth in ("", "*/", "*/*/"):
        for pattern in patterns:
            found += [
                p for p in root.glob(depth + pattern)
                if p.is_file() and p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith("~$")
            ]
    found = sorted(set(found))
    if not found:
        raise ManifestError([Problem("-", "", str(root), f"no {what} found (looked for {list(patterns)} "
                                     "up to two folders deep); pass the file explicitly with sheet=")])
    if len(found) > 1:
        names = ", ".join(str(p) for p in found)
        raise ManifestError([Problem("-", "", str(root), f"several {what} files found ({names}); "
                                     "choose one with sheet=")])
    return found[0]


def _raw_tables(path: Path) -> dict[str, pd.DataFrame]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return {"csv": pd.read_csv(path, header=None, dtype=object, keep_default_na=False,
                                   na_values=[""], skip_blank_lines=False)}
    try:
        # .xls (CASME2_label_Ver_2.xls) is read by xlrd, a dependency (recent pandas would ask for calamine)
        return pd.read_excel(path, sheet_name=None, header=None, dtype=object,
                             **({"engine": "xlrd"} if suffix == ".xls" else {}))
    except ImportError as e:
        raise ManifestError([Problem("-", "", str(path), f"cannot read {suffix} files: {e}; "
                                     "save the sheet as .xlsx or .csv")]) from None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as e:  # a text or damaged file named .xlsx
        raise ManifestError([Problem("-", "", str(path), f"{path.name} cannot be read as a {suffix} workbook "
                                     f"({type(e).__name__}: {e}); is it really a spreadsheet?")]) from None


def _header_position(table: pd.DataFrame, columns: dict[str, tuple[str, ...]], required) -> tuple[int, dict] | None:
    for r in range(min(HEADER_SEARCH_ROWS, len(table))):
        cells = {normalise(v): j for j, v in enumerate(table.iloc[r]) if not pd.isna(v)}
        mapping = {}
        for key, spellings in columns.items():
            hit = next((cells[s] for s in spellings if s in cells), None)
            if hit is not None:
                mapping[key] = hit
        if all(k in mapping for k in required):
            return r, mapping
    return None


def read_sheet(path, required, columns=None) -> pd.DataFrame:
    """Rows of an annotation sheet with canonical column names and a ``sheet_row`` column.

    ``required`` lists canonical keys that must be present; ``columns`` maps canonical keys to
    accepted spellings (default ``COMMON_COLUMNS``). Every sheet of a workbook is searched; the
    first one whose header holds the required columns is used. Fully empty rows (the ``,,,``
    lines of some copies, trailing blanks) are skipped; they hold no clip.
    """
    path = Path(path)
    columns = dict(COMMON_COLUMNS if columns is None else columns)
    if not path.is_file():
        raise ManifestError([Problem("-", "", str(path), "annotation sheet not found")])
    tables = _raw_tables(path)
    for name, table in tables.items():
        found = _header_position(table, columns, required)
        if found is None:
            continue
        r, mapping = found
        body = table.iloc[r + 1:]
        out = pd.DataFrame({key: body.iloc[:, j].to_numpy() for key, j in mapping.items()})
        out[ROW_NUMBER] = [r + 2 + k for k in range(len(body))]
        empty = out.drop(columns=ROW_NUMBER).isna().all(axis=1)
        out = out[~empty].reset_index(drop=True)
        out.attrs["sheet"] = f"{path.name}:{name}" if len(tables) > 1 else path.name
        out.attrs["path"] = str(path)
        return out
    sheet, row, found = _best_header(tables, columns, required)
    if found:  # a header row lacks some columns: say which, and how they may be spelled
        missing = {k: list(columns[k]) for k in required if k not in found}
        cells = [str(v) for v in tables[sheet].iloc[row] if not pd.isna(v)]
        where = f" of sheet {sheet!r}" if len(tables) > 1 else ""
        raise ManifestError([Problem("-", "", str(path), f"header row {row + 1}{where} has no column for "
                                     f"{', '.join(repr(k) for k in missing)} (accepted spellings {missing}, ignoring "
                                     f"case, spaces and punctuation); it holds {cells}")])
    first = next(iter(tables.values()), pd.DataFrame())
    seen = [str(v) for v in (first.iloc[0] if len(first) else []) if not pd.isna(v)]
    missing = {k: list(columns[k]) for k in required}
    raise ManifestError([Problem("-", "", str(path), f"no header row with the columns {missing} "
                                 f"(compared ignoring case, spaces and punctuation) in the first "
                                 f"{HEADER_SEARCH_ROWS} rows of any sheet; first row holds {seen}")])


def _best_header(tables, columns, required):
    """(sheet, row, keys found) of the row holding most required columns (at least two), else (None, None, {})."""
    best = (None, None, {})
    for name, table in tables.items():
        for r in range(min(HEADER_SEARCH_ROWS, len(table))):
            cells = {normalise(v) for v in table.iloc[r] if not pd.isna(v)}
            found = {k for k in required if any(s in cells for s in columns[k])}
            if len(found) >= 2 and len(found) > len(best[2]):
                best = (name, r, found)
    return best


def as_int(value) -> int | None:
    """A frame number cell as int (46, 46.0, '46', ' 46 '), or None when it is not one ('/', '', NaN)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(float(text))
    return None


def as_text(value) -> str:
    """A cell as stripped text; integers stored as floats lose their '.0'; empty cells give ''."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
