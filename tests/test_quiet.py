"""Quiet by default (issue 23): TensorFlow's start-up lines (absl, oneDNN, CUDA) stay off the terminal in the
CLI's process and in the worker processes ``--jobs`` spawns; ``--debug`` lets them through."""
import re

from tests.fixtures.precomputed_layouts import SMALL, htnet_csv, write_flat
from tests.test_bad_input import cli

TENSORFLOW_LINES = re.compile(r"absl::|oneDNN|cuda|^[IWE]0000 ", re.MULTILINE)


def test_a_run_in_two_worker_processes_prints_no_tensorflow_lines(tmp_path):
    write_flat(tmp_path / "flow", SMALL)
    labels = htnet_csv(tmp_path / "labels.csv", SMALL)
    made = cli("manifest", "precomputed", "--labels", labels, "--input", f"flow={tmp_path / 'flow'}",
               "--out", tmp_path / "m.csv", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    args = ("reproduce", "liong2019_ststnet", "--data", tmp_path / "m.csv", "--jobs", "2",
            "--set", "finetune.epochs=1", "--set", "baselines=false", "--set", 'head.kind="softmax"')
    run = cli(*args, "--out", tmp_path / "run", cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fold 6/6" in run.stdout + run.stderr  # the folds ran (in the workers)
    assert not TENSORFLOW_LINES.search(run.stderr), run.stderr[-3000:]
    assert not TENSORFLOW_LINES.search(run.stdout), run.stdout[-3000:]
