"""Precomputed inputs: a manifest whose rows point at ready input files instead of frame folders.

Researchers often hold derived data rather than the raw releases: the STSTNet-style ``norm_u_v_os``
flow images (28x28x3: u, v, optical strain, each min-max scaled to 0-255 per image) and the 224x224
apex face crops of the 442 MEGC 2019 clips are widely shared. A *precomputed manifest* has the usual
identity and label columns (``dataset, subject, clip, emotion, label, class_name, protocol``), empty
frame columns, ``apex_source = "precomputed"`` (the apex is whatever the files' maker used), and one
``input_<representation>`` column per representation holding the absolute path of that clip's file
(an image, ``.npy`` or ``.npz``): ``input_flow``, ``input_apex``... ``prepare`` reads the file of
the representation a stage asks for (``preprocessing.precomputed``) and never recomputes it.

Layouts read by ``read`` (schema and examples in ``data_manifests/README.md``):

* a flat folder of per-clip files named ``<subject>_<clip>`` (``sub01_EP02_01f.png``,
  ``s01_s01_ne_01.png``, ``006_006_1_2.png``; a space before the extension is tolerated), labelled by
  a CSV (``dataset, sub, filename_o, label, imagename`` as HTNet ships it, or the generic
  ``dataset, subject, clip, label|emotion[, file]``) and/or by the official MEGC 2019 list;
* the per-fold tree ``<fold>/u_train|u_test/<label>/<name>.png`` the same images are shared in:
  read as one manifest, each clip once, labelled by its class folder. The tree's fold split is not
  kept: the package makes its own LOSO folds by subject.

Identifiers are matched the way ``megc2019.native_key`` maps the official list to the native folders
(SMIC ``s01`` = ``s1``, ``s01_ne_01`` = ``s1_ne_01``; SAMM ``6`` = ``006``; CASME II ``1`` = ``sub01``),
so subjects are the same keys as a manifest read from the raw release (``smic-hs/s1``).
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import PROTOCOL_MAPPERS, classes_for
from .megc2019_list import (
    LIST_DATABASES,
    megc2019_class,
    native_key,
    read_official_list,
)
from .reading import SKIPPED_COLUMNS, check_on_error
from .registry import ALIASES, DATASETS
from .schema import (  # input_columns, is_precomputed, representations: importable here as before
    COLUMNS,
    IMAGE_EXTENSIONS,
    INPUT_PREFIX,
    PRECOMPUTED_APEX,
    ManifestError,
    Problem,
    input_columns,  # noqa: F401
    is_precomputed,  # noqa: F401
    representations,  # noqa: F401
)
from .sheets import as_text, normalise
from .validation import validate_precomputed

SUFFIXES = IMAGE_EXTENSIONS + (".npy", ".npz")
FOLD_SPLITS = ("u_train", "u_test")
MEGC_DATASETS = tuple(LIST_DATABASES.values())

LABEL_COLUMNS = {
    "dataset": ("dataset", "data", "database", "db", "dbtype"),
    "subject": ("subject", "sub", "subjectid", "subid"),
    "clip": ("clip", "filenameo", "filename", "video", "sample", "material"),
    "label": ("label", "class", "labelfor3"),
    "emotion": ("emotion", "estimatedemotion", "emotions"),
    "file": ("imagename", "image", "file", "filepath", "path"),
}
"""Accepted header spellings of a label CSV (compared after ``sheets.normalise``)."""

NAME_PATTERNS = (
    ("casme2", re.compile(r"(?i)(sub\d+)_(.+)")),
    ("smic", re.compile(r"(?i)(s\d+)_(s\d+_[a-z]+_\d+)")),
    ("samm", re.compile(r"(\d+)_(\d+_\d+_\d+)")),
)
"""``<subject>_<clip>`` file stems of the STSTNet-style releases, per database of the MEGC list."""


KNOWN_DATASETS = frozenset(DATASETS) | frozenset(ALIASES) | frozenset(LIST_DATABASES)
"""Dataset names a label CSV may use; any other (``casme22``) is a problem naming its line, since it
would make a new subject of the same person and change the protocol silently."""
LEFT_OUT_EMOTIONS = frozenset({"others", "other", "neutral", "fear", "contempt", "repression", "sadness", "sad"})
"""Emotions that exist in the datasets but that some protocols leave out (counted, not a problem)."""


def normalise_dataset(name) -> str:
    return str(name).strip().lower()


def known_emotion(emotion: str) -> bool:
    """Whether any protocol maps ``emotion`` (or it is a known left-out one): else it is a typo."""
    e = str(emotion).strip().lower()
    return e in LEFT_OUT_EMOTIONS or any(m(e) is not None for m in PROTOCOL_MAPPERS.values())


def unknown_dataset(name) -> str:
    close = difflib.get_close_matches(normalise_dataset(name), sorted(KNOWN_DATASETS), n=1, cutoff=0.75)
    return (f"unknown dataset {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; expected one of {sorted(KNOWN_DATASETS)}, or one name of your own for every row")


def own_dataset(names) -> str | None:
    """The one dataset name of the user's own (``mydata``) when it is the only name a label CSV uses and is not a
    near miss of a known one; None otherwise (every unknown name is then a problem)."""
    used = {normalise_dataset(n) for n in names if n}
    if len(used) != 1 or used <= KNOWN_DATASETS:
        return None
    name = next(iter(used))
    return None if difflib.get_close_matches(name, sorted(KNOWN_DATASETS), n=1, cutoff=0.75) else name


def canonical(dataset: str, subject, clip) -> tuple[str, str, str]:
    """(dataset key, qualified subject, clip) with the MEGC list's identifier traps resolved."""
    db = str(dataset).strip().lower()
    subject, clip = as_text(subject), as_text(clip)
    if db in LIST_DATABASES:
        return native_key(db, subject, clip)
    if db in MEGC_DATASETS:  # 'smic-hs' spelled as the manifest spells it
        return native_key({v: k for k, v in LIST_DATABASES.items()}[db], subject, clip)
    return db, f"{db}/{subject}", clip


def parse_name(name: str):
    """(dataset, subject, clip) of an STSTNet-style file stem, or None (``006_006_1_2 `` -> samm/006)."""
    stem = Path(str(name).strip()).stem.strip() if Path(str(name).strip()).suffix.lower() in SUFFIXES \
        else str(name).strip()
    for db, rx in NAME_PATTERNS:
        m = rx.fullmatch(stem)
        if m:
            return canonical(db, m.group(1), m.group(2))
    return None


def _stem(path: Path) -> str:
    return path.stem.strip().lower()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def is_fold_tree(folder: Path) -> bool:
    """Whether ``folder`` is the per-fold tree ``<fold>/u_train|u_test/<label>/``."""
    return any(c.is_dir() and any((c / s).is_dir() for s in FOLD_SPLITS) for c in folder.iterdir())


class _Scan:
    """The files of one ``--input NAME=DIR``: by parsed key and by stem, with the tree's labels."""

    def __init__(self, name: str, folder, problems: list):
        self.name, self.folder = name, Path(folder)
        self.by_key: dict = {}
        self.by_stem: dict = {}
        self.tree_labels: dict = {}
        if not self.folder.is_dir():
            problems.append(Problem("-", "", str(self.folder), f"input {name!r}: folder does not exist"))
            return
        if is_fold_tree(self.folder):
            self._tree(problems)
        else:
            for path in _files(self.folder):
                self._add(path, problems)
        if not self.by_stem:
            problems.append(Problem("-", "", str(self.folder), f"input {name!r}: no image, .npy or .npz "
                                    "files found"))

    def _add(self, path: Path, problems, key=None):
        key = key or parse_name(path.name)
        stem = _stem(path)
        if stem in self.by_stem and self.by_stem[stem] != path:
            problems.append(Problem("-", path.stem.strip(), str(self.folder),
                                    f"input {self.name!r}: several files for one clip "
                                    f"({self.by_stem[stem].name!r}, {path.name!r})"))
            return
        self.by_stem[stem] = path
        if key is not None:
            self.by_key[key] = path

    def _tree(self, problems):
        """Each clip once (its ``u_test`` copy, else a ``u_train`` one); labels must agree across folds."""
        for split in ("u_test", "u_train"):
            for label_dir in sorted(self.folder.glob(f"*/{split}/*")):
                if not label_dir.is_dir():
                    continue
                if not label_dir.name.isdigit():
                    problems.append(Problem("-", "", str(label_dir), f"input {self.name!r}: class folder "
                                            f"{label_dir.name!r} is not a class index"))
                    continue
                for path in _files(label_dir):
                    stem, label = _stem(path), int(label_dir.name)
                    seen = self.tree_labels.get(stem)
                    if seen is not None and seen[0] != label:
                        problems.append(Problem("-", path.stem.strip(), str(path), f"input {self.name!r}: "
                                                f"class {label} here but {seen[0]} in {seen[1]}"))
                    if stem not in self.tree_labels:
                        self.tree_labels[stem] = (label, path)
                        self._add(path, problems)

    def find(self, key, names) -> Path | None:
        hit = self.by_key.get(key)
        if hit is not None:
            return hit
        for n in names:
            n = str(n).strip()
            if n and n.lower() != "nan":
                hit = self.by_stem.get(Path(n).stem.strip().lower() if Path(n).suffix.lower() in SUFFIXES
                                       else n.lower())
                if hit is not None:
                    return hit
        return None


def read_labels(path) -> pd.DataFrame:
    """A label CSV as rows (dataset, subject, clip, label, emotion, file, line); every bad line reported."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError([Problem("-", "", str(path), "label CSV not found")])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    header = {normalise(c): c for c in table.columns}
    cols = {key: next((header[s] for s in spellings if s in header), None) for key, spellings in LABEL_COLUMNS.items()}
    missing = [k for k in ("subject", "clip") if cols[k] is None and cols["file"] is None]
    if missing or (cols["label"] is None and cols["emotion"] is None):
        want = {k: list(LABEL_COLUMNS[k]) for k in ("subject", "clip", "label", "emotion")}
        raise ManifestError([Problem("-", "", str(path), f"label CSV needs subject and clip (or a file name) "
                                     f"and label or emotion columns; accepted spellings {want}; "
                                     f"its header is {list(table.columns)}")])
    out = pd.DataFrame({k: (table[c].str.strip() if c is not None else "") for k, c in cols.items()})
    out["line"] = np.arange(len(table)) + 2  # the CSV line, header = line 1
    return out


def _protocol(datasets, protocol):
    if protocol:
        classes_for(protocol)
        return protocol
    return "megc2019" if set(datasets) <= set(MEGC_DATASETS) else "three-class"


class _Entries:
    """The labelled clips found so far, by (dataset, subject, clip): each a dict of label, emotion, where, file
    and the file names to look for. A clip named again fills in what was missing; a different label is a
    problem."""

    def __init__(self, problems: list):
        self.by_key: dict = {}
        self.problems = problems

    def add(self, key, rec) -> None:
        if key in self.by_key:
            prev = self.by_key[key]
            if rec.get("label") is not None and prev.get("label") is not None and rec["label"] != prev["label"]:
                self.problems.append(Problem(rec["where"], f"{key[1]}/{key[2]}", rec["file"],
                                             f"label {rec['label']} disagrees with {prev['label']} ({prev['where']})"))
            for k, v in rec.items():
                if prev.get(k) in (None, "") and v not in (None, ""):
                    prev[k] = v
            return
        self.by_key[key] = rec


def read(inputs: dict, labels=None, megc_gt=None, *, dataset=None, protocol=None, on_error="raise") -> pd.DataFrame:
    """The precomputed manifest of ``inputs`` ({representation: folder}) labelled by ``labels`` (a CSV),
    the official list ``megc_gt``, or the per-fold tree's class folders.

    With ``megc_gt`` only the listed clips are kept (others are counted in ``attrs["skipped"]``) and a
    listed clip without a file is a problem; a label CSV given too is checked against the list.
    ``dataset`` names the dataset of rows whose CSV has no dataset column and whose names say none.
    Raises ``ManifestError`` with every problem unless ``on_error="report"``.
    """
    check_on_error(on_error)
    if not inputs:
        raise ManifestError([Problem("-", "", "", "give at least one input: inputs={'flow': folder}")])
    problems: list[Problem] = []
    skipped: list[dict] = []
    scans = {name: _Scan(name, folder, problems) for name, folder in inputs.items()}
    entries = _Entries(problems)
    if labels is not None:
        _add_label_csv(entries, labels, dataset)
    if megc_gt is not None:
        _add_official_list(entries, megc_gt, skipped)
    if labels is None and megc_gt is None:
        _add_tree_labels(entries, scans, dataset)
    rows, used = _rows(entries.by_key, scans, _protocol([k[0] for k in entries.by_key], protocol), problems,
                       skipped)
    for name, scan in scans.items():
        for path in sorted(set(scan.by_stem.values()) - used[name]):
            skipped.append({"dataset": "", "subject": "", "clip": path.name, "emotion": "",
                            "reason": f"input {name!r}: file without a label"})
    df = pd.DataFrame(rows, columns=list(COLUMNS) + [INPUT_PREFIX + n for n in scans])
    problems += validate_precomputed(df, check_frames=False, raise_on_error=False)
    if problems and on_error == "raise":
        raise ManifestError(problems)
    df.attrs["problems"] = problems
    df.attrs["skipped"] = skipped
    return df


def _add_label_csv(entries: _Entries, labels, dataset) -> None:
    """The clips of a label CSV; a line naming an unknown dataset, no dataset, a clip again, a label that is not
    an index or an unknown emotion is a problem naming that line."""
    first_line: dict = {}  # key -> the label CSV line that named it first
    table = read_labels(labels)
    own = own_dataset([d or dataset for d in table["dataset"]])

    def problem(r, key, message):
        entries.problems.append(Problem(f"line {r.line}", f"{key[1]}/{key[2]}", str(labels), message))

    for r in table.itertuples():
        db = r.dataset or dataset
        if db and normalise_dataset(db) not in KNOWN_DATASETS | {own}:  # a typo would make a new subject
            problem(r, (None, r.subject, r.clip), unknown_dataset(db))
            continue
        key = canonical(db, r.subject, r.clip) if db and r.subject and r.clip else parse_name(r.file or "")
        if key is None:
            problem(r, (None, r.subject, r.clip), "cannot tell the dataset: add a dataset column or pass dataset=")
            continue
        if key in first_line:
            problem(r, key, f"the clip is listed again (first at line {first_line[key]}): remove the repeated row")
            continue
        first_line[key] = r.line
        label = r.label if r.label != "" else None
        if label is not None and not label.lstrip("-").isdigit():
            problem(r, key, f"label {label!r} is not a class index")
            continue
        emotion = r.emotion.lower()
        if emotion and not known_emotion(emotion):
            problem(r, key, f"unknown emotion {r.emotion!r} (no protocol knows it: a typo?)")
            continue
        entries.add(key, {"label": None if label is None else int(label), "emotion": r.emotion.lower(),
                          "where": f"line {r.line}", "file": str(labels),
                          "names": [r.file, f"{r.subject}_{r.clip}", r.clip]})


def _add_official_list(entries: _Entries, megc_gt, skipped: list) -> None:
    """The clips of the official MEGC 2019 list; a clip labelled elsewhere but not listed is skipped."""
    official = megc_gt if isinstance(megc_gt, pd.DataFrame) else read_official_list(megc_gt)
    listed = set()
    for r in official.itertuples():
        key = (r.dataset, r.key_subject, r.key_clip)
        listed.add(key)
        entries.add(key, {"label": int(r.label), "emotion": "", "where": f"line {r.line}", "file": str(megc_gt),
                          "names": [f"{r.subject}_{r.clip}"]})
    for key in [k for k in entries.by_key if k not in listed]:
        e = entries.by_key.pop(key)
        skipped.append({"dataset": key[0], "subject": key[1], "clip": key[2], "emotion": e["emotion"],
                        "reason": "not in the official MEGC 2019 list"})


def _add_tree_labels(entries: _Entries, scans: dict, dataset) -> None:
    """The clips of the per-fold trees, labelled by their class folders (the only labels given)."""
    trees = [s for s in scans.values() if s.tree_labels]
    if not trees:
        raise ManifestError([Problem("-", "", "", "no labels: give labels= (a CSV), megc_gt= (the official "
                                     "list) or a per-fold tree <fold>/u_train|u_test/<label>/")])
    for scan in trees:
        for label, path in scan.tree_labels.values():
            stem = path.stem.strip()
            key = parse_name(stem) or (canonical(dataset, *stem.split("_", 1)) if dataset and "_" in stem
                                       else None)
            if key is None:
                entries.problems.append(Problem("-", stem, str(path), "file name is not <subject>_<clip> of "
                                                "CASME II, SMIC or SAMM; pass dataset="))
                continue
            entries.add(key, {"label": label, "emotion": "", "where": str(path.parent), "file": str(path),
                              "names": [stem]})


def _rows(entries: dict, scans: dict, chosen: str, problems: list, skipped: list):
    """(manifest rows, {input name: files used}): a row per labelled clip that has a file in every input and a
    class under protocol ``chosen``; a missing file or a label out of range is a problem."""
    used = {name: set() for name in scans}
    rows = []
    classes = classes_for(chosen) if chosen != "all" else ()
    for key, e in entries.items():
        ds, subject, clip = key
        found = {}
        for name, scan in scans.items():
            path = scan.find(key, e["names"])
            if path is None:
                problems.append(Problem(e["where"], f"{subject}/{clip}", str(scan.folder),
                                        f"no {name!r} file for this clip (looked for {[n for n in e['names'] if n]})"))
            else:
                found[name] = path
                used[name].add(path)
        if len(found) < len(scans):
            continue
        label = e.get("label")
        if label is None:
            mapper = megc2019_class(ds) if chosen == "megc2019" else PROTOCOL_MAPPERS.get(chosen)
            label = mapper(e["emotion"]) if mapper else None
            if label is None:
                skipped.append({"dataset": ds, "subject": subject, "clip": clip, "emotion": e["emotion"],
                                "reason": f"emotion not in protocol {chosen}"})
                continue
        if not 0 <= label < len(classes):
            problems.append(Problem(e["where"], f"{subject}/{clip}", e["file"],
                                    f"label {label} is not a class index of protocol {chosen} {classes}"))
            continue
        row = {"dataset": ds, "subject": subject, "clip": clip, "emotion": e["emotion"] or classes[label],
               "label": int(label), "class_name": classes[label], "protocol": chosen,
               "onset": None, "apex": None, "offset": None, "onset_idx": None, "apex_idx": None,
               "offset_idx": None, "frames_dir": "", "frame_files": "", "apex_source": PRECOMPUTED_APEX,
               "fps": None, "source": f"{e['file']} {e['where']}"}
        row.update({INPUT_PREFIX + name: str(path.resolve()) for name, path in found.items()})
        rows.append(row)
    return rows, used


def skipped_counts(df) -> pd.DataFrame:
    return pd.DataFrame(df.attrs.get("skipped", []), columns=list(SKIPPED_COLUMNS))
