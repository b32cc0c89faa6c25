"""Issue 10, bad input and faults: each case builds its broken input and runs the real CLI in a subprocess.

Every error case must exit 2 with one message naming the file / row / key, print no traceback, and
leave nothing a later run would read as valid. A few behaviours that are not errors (a fallback, a
stale cache entry, a gap in the frame numbering, a torn fold file read back by the library) are
checked in-process beside them. Inputs are tiny: a 3-subject SynthME corpus at 96 px and the
native-layout fixtures.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mer_keras.datasets import load_manifest
from mer_keras.datasets.manifest import write_manifest
from mer_keras.datasets.synthme import generate
from mer_keras.errors import CacheEntryError, InputError
from mer_keras.evaluation.results import FoldStore
from mer_keras.preprocessing import prepare
from mer_keras.preprocessing.face import FaceAligner
from tests.fixtures import native_layouts as nl

REPO = Path(__file__).resolve().parent.parent
PREP = ("--size", "32", "--n-jobs", "1", "--no-progress")


def cli(*args, cwd, timeout=120) -> subprocess.CompletedProcess:
    # the CLI's own TensorFlow log level is what the rows check: a level the caller exported (an older Makefile
    # set 2, which lets TensorFlow's error lines such as a failed cuInit through) is the caller's choice
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "mer_keras", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """3 subjects x 2 clips of SynthME at 96 px (about 1 s to generate)."""
    return generate(tmp_path_factory.mktemp("synth") / "s", subjects=3, clips_per_subject=2, size=96,
                    progress=False)


@pytest.fixture
def corpus(synth, tmp_path) -> tuple[Path, Path, pd.DataFrame]:
    """A private copy of the corpus (cases damage it) and its manifest CSV."""
    root = Path(shutil.copytree(synth, tmp_path / "corpus"))
    df = load_manifest("synthme", root)
    df.attrs.clear()
    csv = write_manifest(df, tmp_path / "m.csv")
    return root, csv, df


def one_row(corpus, tmp_path, **changes) -> Path:
    """The first manifest row alone (with ``changes``), as a CSV: prepare cases touch one clip only."""
    _, _, df = corpus
    row = df.iloc[[0]].copy()
    for k, v in changes.items():
        row[k] = v
    return write_manifest(row, tmp_path / "one.csv")


def frame_of(df, i=0, which="apex") -> Path:
    row = df.iloc[i]
    return Path(row["frames_dir"]) / str(row["frame_files"]).split("|")[int(row[f"{which}_idx"])]


def npz_count(folder: Path) -> int:
    return len(list(folder.rglob("*.npz"))) if folder.exists() else 0


# --- the table ----------------------------------------------------------------------------------------

@dataclass
class Case:
    """``build(tmp_path, corpus)`` damages the input and returns (CLI args, a check that nothing valid
    was written); the message must match ``expect`` (a regex) and name ``names`` (filled from the build)."""

    build: Callable
    expect: str


def truncated_jpeg_validate(tmp, corpus):
    _, csv, df = corpus
    bad = frame_of(df)
    bad.write_bytes(bad.read_bytes()[:700])  # a copy cut short
    return ["manifest", "--validate", csv, "--check-frames"], [bad.name], lambda: None


def truncated_jpeg_prepare(tmp, corpus):
    _, _, df = corpus
    bad = frame_of(df)
    bad.write_bytes(bad.read_bytes()[:700])
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache, *PREP],
            [bad.name], lambda: npz_count(cache) == 0)


def corrupt_jpeg_prepare(tmp, corpus):
    _, _, df = corpus
    bad = frame_of(df)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2: len(data) // 2 + 60] = bytes(b ^ 0x55 for b in data[len(data) // 2: len(data) // 2 + 60])
    bad.write_bytes(bytes(data))  # decodes to a picture, but libjpeg warns "Corrupt JPEG data"
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache, *PREP],
            [bad.name, "damaged"], lambda: npz_count(cache) == 0)


def empty_sheet_megc(tmp, corpus):  # default protocol megc2019: used to crash with KeyError: 'emotion'
    root = tmp / "c2"
    nl.write_casme2(root)
    nl.write_sheet(root / "CASME2-coding-20140508.xlsx", nl.CASME2_COLUMNS, [])
    out = tmp / "out.csv"
    return ["manifest", "casme2", "--root", root, "--out", out], [], lambda: not out.exists()


def empty_sheet_all(tmp, corpus):  # other protocols wrote an empty manifest with exit 0
    root = tmp / "c2"
    nl.write_casme2(root)
    nl.write_sheet(root / "CASME2-coding-20140508.xlsx", nl.CASME2_COLUMNS, [])
    out = tmp / "out.csv"
    return (["manifest", "casme2", "--root", root, "--protocol", "all", "--keep-going", "--out", out], [],
            lambda: not out.exists())


def every_clip_folder_missing(tmp, corpus):
    root = tmp / "c2"
    nl.write_casme2(root)
    out = tmp / "out.csv"
    return (["manifest", "casme2", "--root", root, "--frames", tmp / "elsewhere", "--out", out, "--keep-going"],
            ["EP02_01f", "clip folder does not exist"], lambda: not out.exists())


def empty_label_cell(tmp, corpus):
    _, _, df = corpus
    broken = df.copy()
    broken["label"] = broken["label"].astype(object)
    broken.loc[2, "label"] = None
    csv = write_manifest(broken, tmp / "m.csv")
    return ["manifest", "--validate", csv], [r"line 4 \(", "m.csv"], lambda: None


def empty_onset_idx_cell(tmp, corpus):
    _, _, df = corpus
    broken = df.copy()
    broken["onset_idx"] = broken["onset_idx"].astype(object)
    broken.loc[1, "onset_idx"] = None
    csv = write_manifest(broken, tmp / "m.csv")
    return ["manifest", "--validate", csv], [r"line 3 \(", "onset_idx"], lambda: None


def onset_after_offset(tmp, corpus):
    _, _, df = corpus
    broken = df.copy()
    broken.loc[0, "onset"] = broken.loc[0, "offset"] + 5
    csv = write_manifest(broken, tmp / "m.csv")
    return ["manifest", "--validate", csv], [r"line 2 \(", r"onset \d+ is after offset \d+"], lambda: None


def apex_is_onset(tmp, corpus):  # one or two frames (or a wrong apex) give onset = apex: zero flow
    cache = tmp / "cache"
    csv = one_row(corpus, tmp, apex_idx=0, apex=corpus[2].iloc[0]["onset"])
    return (["prepare", "--manifest", csv, "--representation", "flow", "--cache", cache, *PREP],
            ["its apex is the onset frame", "--allow-zero-motion"], lambda: npz_count(cache) == 0)


def dangling_frame_link(tmp, corpus):
    root, _, df = corpus
    folder = Path(df.iloc[0]["frames_dir"])
    victim = frame_of(df, 0, "onset").with_name("img1000.jpg")
    victim.symlink_to(folder / "gone.jpg")
    out = tmp / "out.csv"
    return ["manifest", "synthme", "--root", root, "--out", out], ["img1000.jpg", "symbolic link"], \
        lambda: not out.exists()


def missing_frames_dir(tmp, corpus):
    cache = tmp / "cache"
    csv = one_row(corpus, tmp, frames_dir=str(tmp / "moved"))
    return (["prepare", "--manifest", csv, "--representation", "flow", "--cache", cache, *PREP],
            [f"frames folder {tmp / 'moved'} does not exist"], lambda: npz_count(cache) == 0)


def missing_manifest(tmp, corpus):
    return (["prepare", "--manifest", tmp / "nope.csv", "--representation", "flow", "--cache", tmp / "c"],
            ["nope.csv does not exist"], lambda: not (tmp / "c").exists())


def cache_is_a_file(tmp, corpus):  # found before any work (a read-only cache likewise: root ignores modes)
    cache = tmp / "cache"
    cache.write_text("not a folder")
    return (["prepare", "--manifest", corpus[1], "--representation", "flow", "--cache", cache, *PREP],
            [str(cache), "must be a folder"], lambda: cache.read_text() == "not a folder")


def out_is_a_folder(tmp, corpus):  # used to leave DIR.tmp behind
    (tmp / "dir").mkdir()
    return (["manifest", "synthme", "--root", corpus[0], "--out", tmp / "dir"], ["dir is a folder"],
            lambda: not list(tmp.glob("*tmp*")) and not any((tmp / "dir").iterdir()))


def out_under_a_file(tmp, corpus):
    (tmp / "f").write_text("x")
    return (["manifest", "synthme", "--root", corpus[0], "--out", tmp / "f" / "m.csv"],
            [f"{tmp / 'f'} is a file, not a folder"], lambda: (tmp / "f").read_text() == "x")


def root_missing(tmp, corpus):  # was "no CASME II coding sheet found"
    out = tmp / "out.csv"
    return (["manifest", "casme2", "--root", tmp / "CASME2", "--out", out],
            [f"casme2 folder {tmp / 'CASME2'} does not exist"], lambda: not out.exists())


def renamed_column(tmp, corpus):  # named all six columns' spellings, not the missing one
    cols = list(nl.CASME2_COLUMNS)
    cols[cols.index("ApexFrame")] = "PeakFrame"
    nl.write_casme2(tmp / "c2", columns=cols)
    out = tmp / "out.csv"
    return (["manifest", "casme2", "--root", tmp / "c2", "--out", out],
            ["has no column for 'apex'", "PeakFrame", "CASME2-coding-20140508.xlsx"], lambda: not out.exists())


def text_named_xlsx(tmp, corpus):
    nl.write_casme2(tmp / "c2")
    (tmp / "c2" / "CASME2-coding-20140508.xlsx").write_text("Subject,Filename\n01,EP02_01f\n")
    out = tmp / "out.csv"
    return (["manifest", "casme2", "--root", tmp / "c2", "--out", out],
            [r"CASME2-coding-20140508\.xlsx cannot be read as a \.xlsx workbook"], lambda: not out.exists())


def mask_typo(tmp, corpus):
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache,
             "--masks", "eyes,nosee", *PREP], [r"unknown mask\(s\) \['nosee'\]"], lambda: npz_count(cache) == 0)


def no_face_hint(tmp, corpus):  # the hint spells the CLI flag, not Python
    _, _, df = corpus
    for name in str(df.iloc[0]["frame_files"]).split("|"):
        cv2.imwrite(str(Path(df.iloc[0]["frames_dir"]) / name), np.full((96, 96, 3), 90, np.uint8))
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache, *PREP],
            ["no frontal face", "--on-no-face previous or center"], lambda: npz_count(cache) == 0)


# --- issue 25: a frame that does not belong, names that collide, runs that mix, labels that split a person ---

def _resize_frame(path: Path, w: int, h: int) -> None:
    cv2.imwrite(str(path), cv2.resize(cv2.imread(str(path)), (w, h)))


def other_size_frame_validate(tmp, corpus):  # passed --check-frames and gave flow 14x larger
    _, csv, df = corpus
    bad = frame_of(df)
    _resize_frame(bad, 80, 60)
    return ["manifest", "--validate", csv, "--check-frames"], [bad.name, "80x60", "96x96"], lambda: None


def other_size_frame_prepare(tmp, corpus):
    _, _, df = corpus
    bad = frame_of(df)
    _resize_frame(bad, 80, 60)
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache, *PREP],
            [bad.name, "80x60 px but the clip's frames are 96x96"], lambda: npz_count(cache) == 0)


def other_size_onset_frame_prepare_hsv(tmp, corpus):  # sibling: the onset resized, another representation
    _, _, df = corpus
    bad = frame_of(df, 1, "onset")
    _resize_frame(bad, 96, 72)
    cache = tmp / "cache"
    row = df.iloc[[1]].copy()
    return (["prepare", "--manifest", write_manifest(row, tmp / "one.csv"), "--representation", "flow_hsv",
             "--cache", cache, *PREP], [bad.name, r"96x72 \(as", frame_of(df, 1).name], lambda: npz_count(cache) == 0)


def _with_frame_entry(corpus, tmp, entry):
    _, _, df = corpus
    broken = df.copy()
    files = str(broken.loc[0, "frame_files"]).split("|")
    files[int(broken.loc[0, "apex_idx"])] = entry
    broken.loc[0, "frame_files"] = "|".join(files)
    return write_manifest(broken, tmp / "m.csv")


def dotdot_frame_prepare(tmp, corpus):  # read a frame of another clip
    _, _, df = corpus
    entry = os.path.relpath(frame_of(df, 1, "onset"), df.iloc[0]["frames_dir"])
    assert entry.startswith("..")
    assert (Path(df.iloc[0]["frames_dir"]) / entry).is_file()  # the path does lead to a real frame
    cache = tmp / "cache"
    return (["prepare", "--manifest", _with_frame_entry(corpus, tmp, entry), "--representation", "flow",
             "--cache", cache, *PREP], [r"line 2 \(", entry, "not a plain file name"], lambda: npz_count(cache) == 0)


def absolute_frame_validate(tmp, corpus):  # sibling: an absolute path in frame_files
    _, _, df = corpus
    entry = str(frame_of(df, 1, "apex"))
    return (["manifest", "--validate", _with_frame_entry(corpus, tmp, entry)], [entry, "not a plain file name"],
            lambda: None)


def _subjects_renamed(corpus, tmp, first, second):
    _, _, df = corpus
    broken = df.copy()
    subjects = list(pd.unique(broken["subject"]))
    broken["subject"] = broken["subject"].map({subjects[0]: first, subjects[1]: second}).fillna(broken["subject"])
    return write_manifest(broken, tmp / "m.csv")


def colliding_stems(tmp, corpus):  # x/y and x__y shared one fold file and one weights file
    csv = _subjects_renamed(corpus, tmp, "synthme/x/y", "synthme/x__y")
    return ["manifest", "--validate", csv], ["'synthme/x/y' and 'synthme/x__y'", "synthme__x__y"], lambda: None


def colliding_stems_by_case(tmp, corpus):  # sibling: one file on a case-insensitive file system
    csv = _subjects_renamed(corpus, tmp, "synthme/Ann", "synthme/ann")
    cache = tmp / "cache"
    return (["prepare", "--manifest", csv, "--representation", "flow", "--cache", cache, *PREP],
            ["'synthme/Ann' and 'synthme/ann'"], lambda: npz_count(cache) == 0)


def _foreign_run(tmp, experiment="liu2022_mobilevit"):
    from mer_keras.evaluation.results import write_results_json

    run = tmp / "run"
    scores = {"all": {"uf1": 0.5, "uar": 0.5, "accuracy": 0.5}}
    write_results_json(run, config={"name": experiment}, scores=scores,
                       variants={"mobilevit": {"scores": scores}})
    return run


def run_of_another_experiment(tmp, corpus):  # merged B's variant into A's results.json
    run = _foreign_run(tmp)
    before = (run / "results.json").read_text()
    return (["reproduce", "liu2022_shufflenet", "--out", run, "--cache", tmp / "cache"],
            ["'liu2022_mobilevit'", "'liu2022_shufflenet' another --out", str(run)],
            lambda: (run / "results.json").read_text() == before and not (tmp / "cache").exists())


def unfinished_run_of_another_experiment(tmp, corpus):  # sibling: B was interrupted before its results.json
    run = tmp / "run"
    run.mkdir()
    (run / "experiment.json").write_text('{"experiment": "liu2022_mobilevit"}')
    return (["reproduce", "liu2022_shufflenet", "--out", run, "--cache", tmp / "cache"],
            ["'liu2022_mobilevit'"], lambda: sorted(p.name for p in run.iterdir()) == ["experiment.json"])


def _label_csv(tmp, rows, header="dataset,subject,clip,emotion"):
    flow = tmp / "flow"
    flow.mkdir(exist_ok=True)
    for _, subject, clip, *_ in rows:
        np.save(flow / f"{subject}_{clip}.npy", np.zeros((4, 4, 3), np.float32) + len(clip))
    csv = tmp / "labels.csv"
    csv.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return csv, flow


LABELS = [("casme2", "sub01", "EP01", "happiness"), ("casme2", "sub01", "EP02", "surprise"),
          ("casme2", "sub02", "EP03", "disgust"), ("casme2", "sub02", "EP04", "surprise")]


def dataset_typo_in_labels(tmp, corpus):  # 'casme22' made a new subject and switched the protocol
    rows = [*LABELS[:3], ("casme22", "sub02", "EP04", "surprise")]
    csv, flow = _label_csv(tmp, rows)
    out = tmp / "out.csv"
    return (["manifest", "precomputed", "--labels", csv, "--input", f"flow={flow}", "--out", out],
            ["line 5", "'casme22'", "did you mean 'casme2'"], lambda: not out.exists())


def dataset_unknown_among_known(tmp, corpus):  # sibling: a name far from any, beside known ones
    rows = [*LABELS[:3], ("lab7", "sub02", "EP04", "surprise")]
    csv, flow = _label_csv(tmp, rows)
    out = tmp / "out.csv"
    return (["manifest", "precomputed", "--labels", csv, "--input", f"flow={flow}", "--out", out],
            ["line 5", "unknown dataset 'lab7'"], lambda: not out.exists())


def duplicate_label_row(tmp, corpus):  # dropped with a stdout line
    csv, flow = _label_csv(tmp, [*LABELS, LABELS[1]])
    out = tmp / "out.csv"
    return (["manifest", "precomputed", "--labels", csv, "--input", f"flow={flow}", "--out", out],
            ["line 6", "first at line 3", "casme2/sub01/EP02"], lambda: not out.exists())


def unknown_emotion(tmp, corpus):
    rows = [*LABELS[:3], ("casme2", "sub02", "EP04", "suprise")]
    csv, flow = _label_csv(tmp, rows)
    out = tmp / "out.csv"
    return (["manifest", "precomputed", "--labels", csv, "--input", f"flow={flow}", "--out", out],
            ["line 5", "unknown emotion 'suprise'"], lambda: not out.exists())


def repeated_input(tmp, corpus):  # kept B, dropped A
    csv, flow = _label_csv(tmp, LABELS)
    other = Path(shutil.copytree(flow, tmp / "flow2"))
    out = tmp / "out.csv"
    return (["manifest", "precomputed", "--labels", csv, "--input", f"flow={flow}", "--input", f"flow={other}",
             "--out", out], ["--input flow=", str(other)], lambda: not out.exists())


# --- issue 25: numbers that are not numbers, results of the wrong shape, tracebacks left -----------------

def nan_learning_rate(tmp, corpus):  # trained NaN weights
    out = tmp / "run"
    return (["reproduce", "liu2022_shufflenet", "--set", "finetune.learning_rate=NaN", "--out", out],
            ["finetune.learning_rate", "got nan"], lambda: not out.exists())


def infinite_l2(tmp, corpus):  # sibling: a setting with no upper bound took infinity
    out = tmp / "run"
    return (["reproduce", "liu2022_shufflenet", "--set", "network.l2=Infinity", "--out", out],
            ["network.l2", "inf"], lambda: not out.exists())


def only_finite_entries(cache: Path) -> bool:
    """The good files before the bad one may be cached; no entry may hold a non-finite value."""
    return all(np.isfinite(np.load(p)["array"]).all() for p in cache.rglob("*.npz"))


def _precomputed_manifest(tmp, arrays):
    rows = [("casme2", f"sub0{1 + k // 2}", f"EP0{k}", "surprise" if k % 2 else "happiness")
            for k in range(len(arrays))]
    flow = tmp / "flow"
    flow.mkdir()
    for (_, subject, clip, _), a in zip(rows, arrays):
        np.save(flow / f"{subject}_{clip}.npy", a)
    labels = tmp / "labels.csv"
    labels.write_text("dataset,subject,clip,emotion\n" + "".join(",".join(r) + "\n" for r in rows))
    out = tmp / "pre.csv"
    proc = cli("manifest", "precomputed", "--labels", labels, "--input", f"flow={flow}", "--out", out, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return out, flow


def all_nan_precomputed(tmp, corpus):  # cached, then an sklearn traceback
    good = np.ones((8, 8, 3), np.float32)
    csv, flow = _precomputed_manifest(tmp, [good, np.full((8, 8, 3), np.nan, np.float32), good, good])
    cache = tmp / "cache"
    return (["prepare", "--manifest", csv, "--representation", "flow", "--cache", cache, "--size", "8"],
            [str(flow / "sub01_EP01.npy"), "192 of its 192 values"], lambda: only_finite_entries(cache))


def one_infinite_value_precomputed(tmp, corpus):  # sibling: a single inf among finite values
    bad = np.ones((8, 8, 3), np.float32)
    bad[3, 4, 1] = np.inf
    good = np.ones((8, 8, 3), np.float32)
    csv, flow = _precomputed_manifest(tmp, [good, good, bad, good])
    cache = tmp / "cache"
    return (["prepare", "--manifest", csv, "--representation", "flow", "--cache", cache, "--size", "8"],
            [str(flow / "sub02_EP02.npy"), "1 of its 192 values"], lambda: only_finite_entries(cache))


def results_json_a_list(tmp, corpus):  # valid JSON of the wrong shape: AttributeError traceback
    run = tmp / "run"
    run.mkdir()
    (run / "results.json").write_text("[1, 2, 3]\n")
    return ["table", run], [str(run / "results.json"), "holds a JSON list"], lambda: None


def results_json_not_json(tmp, corpus):  # sibling: a results.json cut short
    run = tmp / "run"
    run.mkdir()
    (run / "results.json").write_text('{"scores": {"all": {"uf1": 0.5')
    return ["table", run], [str(run / "results.json"), "cannot be read as JSON"], lambda: None


def prepare_size_zero(tmp, corpus):  # cv2 error traceback
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache,
             "--size", "0", "--n-jobs", "1", "--no-progress"], ["size", "0"], lambda: npz_count(cache) == 0)


def reproduce_jobs_zero(tmp, corpus):  # was accepted silently and ran in one process
    return (["reproduce", "liong2019_ststnet", "--out", tmp / "run", "--jobs", "0"], ["--jobs", "at least 1"],
            lambda: not (tmp / "run").exists())


def prepare_n_jobs_zero(tmp, corpus):  # sibling
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "flow", "--cache", cache,
             "--n-jobs", "0", "--no-progress"], ["--n-jobs", "at least 1"], lambda: npz_count(cache) == 0)


def prepare_size_negative(tmp, corpus):  # sibling
    cache = tmp / "cache"
    return (["prepare", "--manifest", one_row(corpus, tmp), "--representation", "apex", "--cache", cache,
             "--size", "-5", "--n-jobs", "1", "--no-progress"], ["size", "-5"], lambda: npz_count(cache) == 0)


def one_subject_manifest(tmp, corpus):  # 'LOSO needs at least 2 subjects' as a traceback
    _, _, df = corpus
    csv = write_manifest(df[df["subject"] == df.iloc[0]["subject"]], tmp / "one_subject.csv")
    out = tmp / "run"
    return (["reproduce", "merkeras_flow", "--data", csv, "--out", out, "--cache", tmp / "cache"],
            ["LOSO needs at least 2 subjects", "one_subject.csv"], lambda: not (out / "results.json").exists())


# --- issue 25: heads and weights that do not belong to the export ------------------------------------------

def _fake_export(folder: Path, head: bool = True) -> Path:
    """An export's files as `reproduce --export` records them (the identity check runs before any model is
    built, so the bytes need not be a real model)."""
    from mer_keras.training.identity import export_identity

    folder.mkdir(parents=True)
    (folder / "model.weights.h5").write_bytes(f"weights of {folder.name}".encode())
    if head:
        (folder / "head.joblib").write_bytes(f"head of {folder.name}".encode())
    cfg = {"model": "shufflenet_v2", "classes": ["negative", "positive", "surprise"], "head": "svm" if head else
           "softmax", "input_shape": [32, 32, 3], "network": {},
           "identity": export_identity(folder / "model.weights.h5", folder / "head.joblib" if head else None)}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def head_of_another_export(tmp, corpus):  # used silently
    mine, other = _fake_export(tmp / "a"), _fake_export(tmp / "b")
    out = tmp / "pred.csv"
    return (["predict", corpus[1], "--weights", mine / "model.weights.h5", "--head", other / "head.joblib",
             "--out", out], [str(other / "head.joblib"), "not fitted on the embeddings"], lambda: not out.exists())


def weights_of_another_export(tmp, corpus):  # sibling: same architecture, another export's weights
    mine, other = _fake_export(tmp / "a"), _fake_export(tmp / "b")
    shutil.copy(other / "model.weights.h5", mine / "model.weights.h5")
    out = tmp / "pred.csv"
    return (["predict", corpus[1], "--weights", mine / "model.weights.h5", "--out", out],
            [str(mine / "model.weights.h5"), "not the weights"], lambda: not out.exists())


def head_given_to_a_softmax_export(tmp, corpus):  # sibling: an export without SVM head
    mine, other = _fake_export(tmp / "a", head=False), _fake_export(tmp / "b")
    out = tmp / "pred.csv"
    return (["predict", corpus[1], "--weights", mine / "model.weights.h5", "--head", other / "head.joblib",
             "--out", out], ["has no SVM head", "drop --head"], lambda: not out.exists())


# --- issue 25: silent gaps in reports -----------------------------------------------------------------------

def _two_variant_run(tmp) -> Path:
    """A finished run of two variants on the same 3 subjects, as reproduce lays it out (no training)."""
    from mer_keras.evaluation import pooled_scores
    from mer_keras.evaluation.results import write_results_json

    run = tmp / "run"
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    variants = {}
    for name in ("main", "other"):
        store = FoldStore(run, name)
        parts = []
        for s in ("d/s1", "d/s2", "d/s3"):
            fold = pd.DataFrame({"dataset": "d", "subject": s, "clip": [f"{s}_{k}" for k in range(4)],
                                 "y_true": [0, 1, 2, 0], "y_pred": rng.integers(0, 3, 4)})
            store.save(s, fold)
            parts.append(fold)
        variants[name] = {"scores": pooled_scores(pd.concat(parts), labels=[0, 1, 2]), "folds": 3, "label": name}
    write_results_json(run, config={"name": "x"}, scores=variants["main"]["scores"], variants=variants)
    return run


def table_with_a_deleted_fold_csv(tmp, corpus):  # dropped the paired comparisons without a word
    run = _two_variant_run(tmp)
    gone = run / "folds" / "other" / "d__s2.csv"
    gone.unlink()
    return ["table", run, "--n-boot", "20"], [str(gone), "paired comparisons cannot be made"], lambda: None


def table_with_a_fold_and_its_record_deleted(tmp, corpus):  # sibling: the .written.json deleted too
    run = _two_variant_run(tmp)
    for p in (run / "folds" / "main").glob("d__s3.*"):
        p.unlink()
    return (["table", run, "--n-boot", "20"], [str(run / "folds" / "main"), "1 of the 3 fold CSVs"],
            lambda: None)


CASES = {
    "1 truncated jpeg, manifest --validate --check-frames": Case(truncated_jpeg_validate, "is truncated"),
    "1 truncated jpeg, prepare": Case(truncated_jpeg_prepare, "is truncated"),
    "1 corrupt jpeg (decoder warning), prepare": Case(corrupt_jpeg_prepare, "Corrupt JPEG data"),
    "4 apex = onset, prepare flow": Case(apex_is_onset, "flow has no motion to show"),
    "4 dangling frame symlink, manifest": Case(dangling_frame_link, "missing"),
    "7 header-only sheet, megc2019": Case(empty_sheet_megc, "no clip survived .the annotation lists no clip."),
    "7 header-only sheet, protocol all": Case(empty_sheet_all, "no clip survived"),
    "7 every clip folder missing": Case(every_clip_folder_missing, "no clip survived: 6 problem"),
    "8 empty label cell": Case(empty_label_cell, r"1 problem\(s\).*label nan is not a class index"),
    "8 empty onset_idx cell": Case(empty_onset_idx_cell, "onset_idx must be an integer position"),
    "9 missing manifest": Case(missing_manifest, "mer-keras: error: manifest"),
    "9 cache is a file": Case(cache_is_a_file, "mer-keras: error: cache"),
    "9 --out is a folder": Case(out_is_a_folder, "mer-keras: error: --out"),
    "9 --out under a file": Case(out_under_a_file, "mer-keras: error: "),
    "10 root missing": Case(root_missing, "does not exist"),
    "10 renamed column": Case(renamed_column, "accepted spellings"),
    "10 text file named .xlsx": Case(text_named_xlsx, "is it really a spreadsheet"),
    "10 onset after offset": Case(onset_after_offset, "is after offset"),
    "10 missing frames_dir in prepare": Case(missing_frames_dir, "cannot be read"),
    "10 mask typo": Case(mask_typo, "expected a comma-separated list of eyes, static, nose"),
    "10 no-face hint spells the flag": Case(no_face_hint, "preprocess.on_no_face"),
    "25 frame of another size, manifest --check-frames": Case(other_size_frame_validate, "must have the clip's size"),
    "25 frame of another size, prepare flow": Case(other_size_frame_prepare, "must have the clip's size"),
    "25 onset frame of another size, prepare flow_hsv": Case(other_size_onset_frame_prepare_hsv, "clip's size"),
    "25 frame_files entry with ../, prepare": Case(dotdot_frame_prepare, "inside the clip folder"),
    "25 frame_files entry with an absolute path": Case(absolute_frame_validate, "inside the clip folder"),
    "25 subject stems collide x/y x__y": Case(colliding_stems, "same file name"),
    "25 subject stems collide by case, prepare": Case(colliding_stems_by_case, "same file name"),
    "25 run folder of another experiment": Case(run_of_another_experiment, "holds a run of experiment"),
    "25 unfinished run of another experiment": Case(unfinished_run_of_another_experiment, "belongs to one experiment"),
    "25 dataset typo in a label CSV": Case(dataset_typo_in_labels, "unknown dataset"),
    "25 unknown dataset beside known ones": Case(dataset_unknown_among_known, "unknown dataset"),
    "25 duplicated label row": Case(duplicate_label_row, "listed again"),
    "25 unknown emotion in a label CSV": Case(unknown_emotion, "no protocol knows it"),
    "25 repeated --input flow=A --input flow=B": Case(repeated_input, "give each representation once"),
    "25 --set finetune.learning_rate=NaN": Case(nan_learning_rate, "finite number"),
    "25 --set network.l2=Infinity": Case(infinite_l2, "finite number"),
    "25 all-NaN precomputed array, prepare": Case(all_nan_precomputed, "not finite numbers"),
    "25 one inf in a precomputed array, prepare": Case(one_infinite_value_precomputed, "not finite numbers"),
    "25 results.json is a JSON list, table": Case(results_json_a_list, "not the object"),
    "25 results.json cut short, table": Case(results_json_not_json, "not a mer-keras results.json"),
    "25 prepare --size 0": Case(prepare_size_zero, "mer-keras: error: "),
    "25 prepare --size -5": Case(prepare_size_negative, "mer-keras: error: "),
    "25 one-subject manifest, reproduce": Case(one_subject_manifest, "mer-keras: error: "),
    "23 reproduce --jobs 0": Case(reproduce_jobs_zero, "error: argument --jobs"),
    "23 prepare --n-jobs 0": Case(prepare_n_jobs_zero, "error: argument --n-jobs"),
    "25 predict --head of another export": Case(head_of_another_export, "use the export's own head"),
    "25 predict with another export's weights": Case(weights_of_another_export, "same export"),
    "25 predict --head on a softmax export": Case(head_given_to_a_softmax_export, "this export has no SVM head"),
    "25 table, a fold CSV deleted": Case(table_with_a_deleted_fold_csv, "fold file.s. missing"),
    "25 table, a fold CSV and its record deleted": Case(table_with_a_fold_and_its_record_deleted, "missing"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_a_named_message(name, corpus, tmp_path):
    case = CASES[name]
    args, names, nothing_valid_written = case.build(tmp_path, corpus)
    proc = cli(*args, cwd=tmp_path)
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err, err
    assert not re.search(r"absl::|oneDNN|cuda|^[IWE]0000 ", err, re.MULTILINE), f"TensorFlow's log lines: {err}"
    assert re.search(case.expect, err, re.DOTALL), err
    for part in names:  # a name with a backslash or a parenthesis is a regex, else plain text
        assert re.search(part, err) if "\\" in part or "(" in part else part in err, (part, err)
    assert nothing_valid_written() in (None, True), f"{name}: something a later run would read was written"


def test_debug_shows_the_traceback_and_flags_go_anywhere(tmp_path):
    quiet = cli("manifest", "--validate", tmp_path / "absent.csv", cwd=tmp_path)
    debug = cli("manifest", "--validate", tmp_path / "absent.csv", "--debug", cwd=tmp_path)
    assert quiet.returncode == debug.returncode == 2
    assert "Traceback" not in quiet.stderr and "Traceback (most recent call last)" in debug.stderr
    assert f"mer-keras: error: manifest {tmp_path / 'absent.csv'} does not exist" in debug.stderr


# --- not errors, but never silent -----------------------------------------------------------------------

def test_frame_gap_and_apex_at_onset_are_logged(corpus, tmp_path):
    root, _, df = corpus
    gap = Path(df.iloc[0]["frames_dir"]) / str(df.iloc[0]["frame_files"]).split("|")[2]
    gap.unlink()
    proc = cli("manifest", "synthme", "--root", root, "--out", tmp_path / "m2.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    number = int("".join(c for c in gap.stem if c.isdigit()))
    assert f"{df.iloc[0]['subject']}/{df.iloc[0]['clip']}" in proc.stderr
    assert "1 frame number(s) missing between onset" in proc.stderr and f"({number})" in proc.stderr
    quiet = cli("--quiet", "manifest", "synthme", "--root", root, "--out", tmp_path / "m3.csv", cwd=tmp_path)
    assert "missing between" in quiet.stderr  # a warning survives --quiet


def test_fallbacks_are_exposed_logged_and_kept_in_the_cache(corpus, tmp_path, caplog):
    _, _, df = corpus
    row = df.iloc[[0]].copy()
    for name in str(row.iloc[0]["frame_files"]).split("|"):
        cv2.imwrite(str(Path(row.iloc[0]["frames_dir"]) / name), np.full((96, 96, 3), 90, np.uint8))
    with caplog.at_level(logging.WARNING, logger="mer_keras"):
        res = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32, on_no_face="center")
    onset = int(row.iloc[0]["onset_idx"])
    [record] = res.fallback_records
    assert (record["clip"], record["frame"], record["kind"]) == (row.iloc[0]["clip"], onset, "center")
    assert record["frame_file"] == str(row.iloc[0]["frame_files"]).split("|")[onset]
    assert any("fallback (center)" in m and record["clip"] in m for m in caplog.messages)
    assert len(list((tmp_path / "c").rglob("*.fallbacks.json"))) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mer_keras"):
        again = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32, on_no_face="center")
    assert again.reused == 1 and again.fallback_records == res.fallback_records  # reused rows report theirs
    assert any("fallback (center)" in m for m in caplog.messages)


def test_verify_cache_recomputes_a_frame_changed_in_place(corpus, tmp_path):
    _, _, df = corpus
    row = df.iloc[[0]]
    first = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32)
    apex = frame_of(df)
    st = apex.stat()
    image = cv2.imread(str(apex))
    data = apex.read_bytes()
    altered = bytearray(data)
    altered[-40] ^= 0x01  # same size, same modification time, other content
    apex.write_bytes(bytes(altered))
    os.utime(apex, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cv2.imread(str(apex)) is not None and image is not None
    assert prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32).reused == 1  # documented
    checked = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32, verify_cache=True)
    assert (checked.computed, first.computed) == (1, 1)
    assert prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32, verify_cache=True).reused == 1


def test_a_damaged_cache_entry_is_recomputed_or_refused_by_name(corpus, tmp_path, caplog):
    """Issue 25: a truncated entry was reused even with --verify-cache and crashed reproduce with BadZipFile."""
    _, _, df = corpus
    row = df.iloc[[0]]
    first = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32)
    entry, clean = first.paths[0], first[0]
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(CacheEntryError, match=re.escape(str(entry)) + r" is damaged"):
        first[0]
    for damage in (lambda b: b[: len(b) // 2], lambda b: b[:400] + bytes([b[400] ^ 1]) + b[401:]):  # cut, bit flip
        entry.write_bytes(damage(whole))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mer_keras"):
            again = prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32, verify_cache=True)
        assert again.computed == 1, "a damaged entry was reused"
        assert any(str(entry) in m and "damaged" in m and "recomputing" in m for m in caplog.messages)
        np.testing.assert_array_equal(again[0], clean)
    assert prepare(row, "flow", tmp_path / "c", n_jobs=1, progress=False, size=32).reused == 1


def test_the_manifest_report_file_and_the_log_count_what_was_left_out(tmp_path):
    rows = [*LABELS, ("casme2", "sub03", "EP05", "others"), ("casme2", "sub03", "EP06", "happiness")]
    labels, flow = _label_csv(tmp_path, rows)
    out = tmp_path / "m.csv"
    proc = cli("--quiet", "manifest", "precomputed", "--labels", labels, "--input", f"flow={flow}", "--out", out,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "left out 1 clip(s)" in proc.stderr and "emotion not in protocol megc2019" in proc.stderr  # a warning
    report = pd.read_csv(tmp_path / "m.report.csv")
    assert report[["kind", "subject", "clip", "emotion"]].values.tolist() == \
        [["left out", "casme2/sub03", "EP05", "others"]]


def test_table_warns_when_the_compared_runs_used_other_package_versions(tmp_path):
    """Issue 25: the same command gave other numbers under other library versions; table says when it compares such
    runs (and stays quiet when they match)."""
    a = _two_variant_run(tmp_path / "a")
    b = Path(shutil.copytree(a, tmp_path / "b"))
    same = cli("table", a, b, "--no-pairs", cwd=tmp_path)
    assert same.returncode == 0 and "different package versions" not in same.stderr, same.stderr
    doc = json.loads((b / "results.json").read_text())
    doc["versions"]["numpy"] = "1.26.4"
    (b / "results.json").write_text(json.dumps(doc))
    differ = cli("table", a, b, "--no-pairs", cwd=tmp_path)
    assert differ.returncode == 0, differ.stderr
    assert "different package versions" in differ.stderr and f"1.26.4 ({b})" in differ.stderr, differ.stderr


def test_mask_names_as_one_string_are_names_not_letters():
    assert FaceAligner(32, masks="eyes").masks == ("eyes",)
    assert FaceAligner(32, masks="eyes,static").masks == ("eyes", "static")


def test_a_torn_or_foreign_fold_file_is_refused_by_name(tmp_path):
    store = FoldStore(tmp_path, "main")
    fold = pd.DataFrame({"dataset": "d", "subject": "d/s1", "clip": ["a", "b", "c"], "y_true": [0, 1, 2],
                         "y_pred": [0, 1, 1]})
    path = store.save("d/s1", fold)
    whole = path.read_text()
    path.write_text("\n".join(whole.splitlines()[:-1]) + "\n")  # the last row lost
    for read in (store.load_all, lambda: store.load("d/s1")):
        with pytest.raises(InputError, match=r"d__s1\.csv is torn .*2 row\(s\) now, 3 written"):
            read()
    path.write_text(whole)
    clips = fold[["dataset", "subject", "clip"]].to_numpy()
    assert len(store.load("d/s1", clips)) == 3 and len(store.load_all()) == 3
    path.write_text(whole.replace("1,1\n", "1,2\n"))  # same rows, edited
    with pytest.raises(InputError, match=r"d__s1\.csv is torn or was changed"):
        store.load_all()
    other = FoldStore(tmp_path / "other", "main")
    other.save("d/s1", fold.assign(clip=["x", "y", "z"]))
    shutil.copy(other.path_for("d/s1"), path)  # a fold of another run, with its own checksum
    shutil.copy(other.check_path_for("d/s1"), store.check_path_for("d/s1"))
    with pytest.raises(InputError, match=r"d__s1\.csv does not hold exactly the 3 clips of subject d/s1"):
        store.load("d/s1", clips)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigkill_of_prepare_leaves_no_worker_behind(corpus, tmp_path):
    _, csv, _ = corpus
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "mer_keras", "prepare", "--manifest", csv, "--representation",
                             "rrs", "--cache", tmp_path / "c", "--size", "64", "--n-jobs", "2", "--no-progress"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        children = _descendants(proc.pid)
        if len(children) >= 3:  # two workers and the resource tracker
            break
        time.sleep(0.1)
    if proc.poll() is not None:
        pytest.skip("prepare finished before its workers could be seen")
    time.sleep(1.0)  # let the workers pick up rows
    children = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(p) for p in children):
        time.sleep(0.2)
    left = [p for p in children if _alive(p)]
    for p in left:  # do not leave them running if the test fails
        os.kill(p, signal.SIGKILL)
    assert children and not left, f"left running after SIGKILL of prepare: {left}"


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
