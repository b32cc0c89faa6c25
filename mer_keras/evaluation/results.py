"""Run-directory outputs that must survive interruption: results.json and per-fold predictions.

Every file is written to a temporary sibling and moved into place with ``os.replace``, so a crash
or Ctrl-C leaves either the previous file or the complete new one, never half a file; a fold whose
CSV exists is therefore finished, which is what lets an interrupted run resume. Beside each fold
CSV, ``<stem>.written.json`` records its SHA-256, row count and clip ids as written, so a fold
file torn or edited later (a copy cut short, a hand edit) or brought in from another run is
refused by name on read-back instead of being pooled on fewer or other clips.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..files import (  # the writers live in files (training writes through them too); importable here as before
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,  # noqa: F401
    subject_file_stem,
)
from .metrics import ALL, PREDICTION_COLUMNS, check_predictions

logger = logging.getLogger("mer_keras")

RESULTS_FILE = "results.json"
RUN_OWNER = "experiment.json"
"""Beside results.json: the experiment a run folder belongs to (``claim_run_dir``)."""
SCHEMA_VERSION = 1
SCORE_KEYS = ("uf1", "uar", "accuracy")

# distribution names to try, in order, for each library reported in results.json
VERSION_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "keras": ("keras",),
    "sklearn": ("scikit-learn",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "opencv": (
        "opencv-contrib-python-headless",
        "opencv-contrib-python",
        "opencv-python-headless",
        "opencv-python",
    ),
    "dlib": ("dlib", "dlib-bin"),
    "matplotlib": ("matplotlib",),
    "mer_keras": ("mer-keras",),
}


def library_versions() -> dict:
    """Installed versions of the libraries a result depends on (None when not installed).

    Read from package metadata so that writing results never imports TensorFlow or dlib.
    """
    versions = {"python": platform.python_version()}
    for key, names in VERSION_DISTRIBUTIONS.items():
        versions[key] = None
        for name in names:
            try:
                versions[key] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _check_scores(scores, where: str) -> dict:
    if not isinstance(scores, dict) or ALL not in scores:
        raise ValueError(f"{where} must be a dict with an '{ALL}' entry (as pooled_scores returns)")
    for name, entry in scores.items():
        missing = [k for k in SCORE_KEYS if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise ValueError(f"{where}[{name!r}] lacks {missing}; each entry needs {list(SCORE_KEYS)}")
    return scores


def write_results_json(
    run_dir, *, config, scores, variants=None, timings=None, seeds=None, extra=None, baselines=None
) -> Path:
    """Write ``run_dir/results.json``: config, versions, seeds, timings and pooled scores.

    ``scores`` is ``pooled_scores(...)`` of the run's main model. ``variants`` maps a variant name to
    ``{"scores": ..., "leaky": bool, "description": str}`` when one experiment trains several models
    (ablation rows, or a leaky option kept for comparison with a paper). ``extra`` is stored as is under
    ``"extra"``; reports read ``extra["paper"]``, ``extra["experiment"]`` and ``extra["synthetic"]``.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "written_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "config": config,
        "versions": library_versions(),
        "seeds": seeds if seeds is not None else {},
        "timings": timings if timings is not None else {},
        "scores": _check_scores(scores, "scores"),
    }
    if variants:
        doc["variants"] = {}
        for name, v in variants.items():
            if not isinstance(v, dict) or "scores" not in v:
                raise ValueError(f"variant {name!r} must be a dict with a 'scores' entry")
            entry = dict(v)
            entry["scores"] = _check_scores(v["scores"], f"variants[{name!r}].scores")
            entry["leaky"] = bool(v.get("leaky", False))
            entry["description"] = str(v.get("description", ""))
            doc["variants"][str(name)] = entry
    if baselines:  # same-fold floors: {"majority": {"label", "scores", "intervals"}, ...}
        doc["baselines"] = {str(k): dict(v, scores=_check_scores(v["scores"], f"baselines[{k!r}].scores"))
                            for k, v in baselines.items()}
    if extra is not None:
        if not isinstance(extra, dict):
            raise TypeError(f"extra must be a dict, got {type(extra).__name__}")
        doc["extra"] = extra
    return atomic_write_json(Path(run_dir) / RESULTS_FILE, doc)


def fold_details(run_dir, variant: str) -> list[dict]:
    """The per-fold sidecars (history, head, timings) of the variant's fold CSVs."""
    folder = Path(run_dir) / "folds" / variant
    return [json.loads(p.with_suffix(".json").read_text()) for p in sorted(folder.glob("*.csv"))
            if p.with_suffix(".json").is_file()]


def read_results_json(run_dir) -> dict:
    """The ``results.json`` of a run directory (or the file itself), with a clear error if absent."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {RESULTS_FILE} at {path}: is this a finished mer-keras run directory?")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} cannot be read as JSON ({e}): not a mer-keras {RESULTS_FILE}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path} holds a JSON {type(doc).__name__}, not the object a mer-keras {RESULTS_FILE} is")
    try:
        _check_scores(doc.get("scores"), f"{path} 'scores'")
    except ValueError as e:
        raise InputError(str(e)) from None
    return doc


def check_run_dir(run_dir, experiment: str) -> None:
    """A run folder belongs to one experiment (``RUN_OWNER``, else its results.json says which): another's
    variants would be merged into this one's results and relabelled, so that is refused by name."""
    run_dir = Path(run_dir)
    owner = run_dir / RUN_OWNER
    found = None
    if owner.is_file():
        try:
            found = json.loads(owner.read_text()).get("experiment")
        except (ValueError, AttributeError):
            raise InputError(f"{owner} is damaged: cannot tell which experiment {run_dir} belongs to") from None
    elif (run_dir / RESULTS_FILE).is_file():
        found = read_results_json(run_dir).get("config", {}).get("name")
    if found is not None and found != experiment:
        raise InputError(f"{run_dir} holds a run of experiment {found!r}; a run folder belongs to one experiment: "
                         f"give {experiment!r} another --out")


def claim_run_dir(run_dir, experiment: str) -> None:
    """``check_run_dir``, then create the folder and record its experiment (``RUN_OWNER``)."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir, experiment)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / RUN_OWNER).is_file():
        atomic_write_json(run_dir / RUN_OWNER, {"experiment": experiment})


class FoldStore:
    """Per-fold prediction CSVs under ``run_dir/folds/<variant>/``, one file per held-out subject.

    A training loop calls ``done(subject)`` before a fold and ``save(subject, df)`` right after it,
    so a rerun of the same command skips finished folds; ``load_all()`` gathers the predictions for
    ``pooled_scores`` and ``write_megc_log``.
    """

    def __init__(self, run_dir, variant: str = "main"):
        variant = str(variant)
        if not variant or "/" in variant or "\\" in variant or variant.startswith("."):
            raise ValueError(f"variant name {variant!r} must be a plain folder name")
        self.run_dir = Path(run_dir)
        self.variant = variant
        self.folder = self.run_dir / "folds" / variant

    def path_for(self, subject: str) -> Path:
        """The fold's CSV (sidecar files such as ``<stem>.json`` may sit beside it)."""
        return self.folder / f"{subject_file_stem(subject)}.csv"

    def check_path_for(self, subject: str) -> Path:
        """The sidecar recording what ``save`` wrote: SHA-256, rows and clip ids of the fold CSV."""
        return self.folder / f"{subject_file_stem(subject)}.written.json"

    def done(self, subject: str) -> bool:
        return self.path_for(subject).is_file()

    def save(self, subject: str, predictions: pd.DataFrame) -> Path:
        """Write one fold's predictions (columns ``dataset, subject, clip, y_true, y_pred``, more allowed)."""
        check_predictions(predictions)
        if len(predictions) == 0:
            raise ValueError(f"fold {subject!r} has no predictions to save")
        others = sorted(set(predictions["subject"].astype(str)) - {str(subject)})
        if others:
            raise ValueError(f"predictions saved for fold {subject!r} hold other subject(s) {others}")
        buf = io.StringIO()
        predictions.to_csv(buf, index=False)
        data = buf.getvalue().encode("utf-8")
        # the sidecar first: a crash between the two leaves no CSV, so the fold is simply recomputed
        atomic_write_json(self.check_path_for(subject), {
            "file": self.path_for(subject).name, "subject": str(subject), "rows": len(predictions),
            "sha256": hashlib.sha256(data).hexdigest(), "clips": _clips_digest(predictions)})
        return atomic_write_bytes(self.path_for(subject), data)

    def load(self, subject: str, clips=None) -> pd.DataFrame:
        """One fold's predictions, checked against what ``save`` wrote (``InputError`` naming the file).

        ``clips``: the (dataset, subject, clip) ids the fold must hold (a fold from another run or
        another manifest is refused even when its checksum is intact). A CSV without its
        ``.written.json`` (written before checksums were kept) is read with a warning.
        """
        path = self.path_for(subject)
        return self._read(path, str(subject), clips)

    def _read(self, path: Path, subject: str | None, clips=None) -> pd.DataFrame:
        hint = "delete it to recompute that fold"
        if not path.is_file():
            raise InputError(f"fold file {path} does not exist; run the fold (or the whole command) again")
        data = path.read_bytes()
        check = path.with_name(f"{path.stem}.written.json")
        if check.is_file():
            written = json.loads(check.read_text(encoding="utf-8"))
            if hashlib.sha256(data).hexdigest() != written.get("sha256"):
                rows = max(len(data.decode("utf-8", "replace").splitlines()) - 1, 0)
                raise InputError(f"fold file {path} is torn or was changed after it was written ({rows} row(s) now, "
                                 f"{written.get('rows')} written); {hint}")
        else:
            logger.warning("fold file %s has no %s (written before fold checksums were kept): read unverified",
                           path, check.name)
        try:
            df = pd.read_csv(io.BytesIO(data), dtype={"dataset": str, "subject": str, "clip": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise InputError(f"fold file {path} cannot be read as a CSV file ({e}); {hint}") from None
        missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(f"fold file {path} lacks the column(s) {missing}; {hint}")
        if subject is None:  # load_all: the file's name says whose fold it is
            held = sorted(set(df["subject"].astype(str)))
            subject = held[0] if len(held) == 1 and subject_file_stem(held[0]) == path.stem else None
            if subject is None:
                raise InputError(f"fold file {path} holds subject(s) {held}, not the one its name says (a copy "
                                 f"or a file from another run?); {hint}")
        else:
            others = sorted(set(df["subject"].astype(str)) - {subject})
            if others:
                raise InputError(f"fold file {path} of subject {subject} holds predictions of other subject(s) "
                                 f"{others} (from another run?); {hint}")
        if df[["y_true", "y_pred"]].isna().any().any():
            raise InputError(f"fold file {path} has empty y_true/y_pred cells; {hint}")
        if clips is not None:
            want = sorted(tuple(map(str, c)) for c in clips)
            got = sorted(map(tuple, df[["dataset", "subject", "clip"]].astype(str).to_numpy()))
            if got != want:
                extra, lost = sorted(set(got) - set(want)), sorted(set(want) - set(got))
                raise InputError(f"fold file {path} does not hold exactly the {len(want)} clips of subject {subject} "
                                 f"({len(got)} row(s); {len(lost)} missing, first {lost[:1]}; {len(extra)} foreign, "
                                 f"first {extra[:1]}): torn or from another run; {hint}")
        return df

    def completed(self) -> list[str]:
        """Subjects whose fold file exists, read from the files themselves (sorted)."""
        if not self.folder.is_dir():
            return []
        subjects = set()
        for p in self.folder.glob("*.csv"):
            subjects.update(pd.read_csv(p, usecols=["subject"], dtype={"subject": str})["subject"])
        return sorted(subjects)

    def load_all(self) -> pd.DataFrame:
        """All saved folds in one DataFrame (sorted by file name; empty with the columns if none)."""
        files = sorted(self.folder.glob("*.csv")) if self.folder.is_dir() else []
        if not files:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PREDICTION_COLUMNS})
        parts = [self._read(p, None) for p in files]
        return check_predictions(pd.concat(parts, ignore_index=True))


def _clips_digest(predictions: pd.DataFrame) -> str:
    ids = sorted("/".join(map(str, r)) for r in predictions[["dataset", "subject", "clip"]].to_numpy())
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
