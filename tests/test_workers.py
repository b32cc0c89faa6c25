"""Stopping a run stops its worker processes: a fold trains for minutes, and a worker left running after its
command has gone keeps the cores busy and races the resumed run for the same fold files.

Ctrl-C reaches every process of the terminal's group; ``kill PID`` (SIGTERM, a scheduler's time limit) and
SIGKILL reach only the command, so the command has to stop its workers, and a worker whose command is gone
has to exit by itself."""
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mer_keras.workers import worker_pool
from tests.fixtures.precomputed_layouts import SMALL, htnet_csv, write_flat
from tests.test_bad_input import REPO, cli

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")


def test_an_exception_in_the_block_terminates_the_running_workers():
    """``with ProcessPoolExecutor`` would wait for the ten-minute tasks here; ``worker_pool`` ends them."""
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        for _ in range(2):
            pool.submit(time.sleep, 600)
        workers = [p for p in multiprocessing.active_children() if p not in before]
        assert len(workers) == 2
        raise KeyboardInterrupt
    assert not any(p.is_alive() for p in workers)
    assert set(multiprocessing.active_children()) <= before


def test_a_block_that_ends_normally_waits_for_its_tasks():
    with worker_pool(2) as pool:
        squares = [pool.submit(pow, n, 2) for n in range(5)]
    assert [f.result() for f in squares] == [0, 1, 4, 9, 16]


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    write_flat(root / "flow", SMALL)
    labels = htnet_csv(root / "labels.csv", SMALL)
    made = cli("manifest", "precomputed", "--labels", labels, "--input", f"flow={root / 'flow'}",
               "--out", root / "m.csv", cwd=root)
    assert made.returncode == 0, made.stderr
    return root / "m.csv"


@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_no_worker_running(manifest, tmp_path, signum):
    """``reproduce --jobs 2`` with folds that would train for many minutes, killed once both workers run."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "mer_keras", "reproduce", "liong2019_ststnet", "--data", str(manifest),
               "--jobs", "2", "--set", "finetune.epochs=1000000", "--set", "baselines=false",
               "--out", str(tmp_path / "run")]
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        def workers():
            return [pid for pid in _children(run.pid)
                    if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

        assert _wait_for(lambda: len(workers()) == 2, 120), run.stderr.read() if run.poll() is not None else ""
        started = workers()
        time.sleep(3)  # into their first fold
        assert run.poll() is None and all(map(_alive, started))
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=60)
        assert _wait_for(lambda: not any(map(_alive, started)), 30), f"workers {started} outlived the command"
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    if signum == signal.SIGTERM:  # the command stopped as on Ctrl-C, with SIGTERM's exit status
        assert run.returncode == 143, stderr[-3000:]
        assert "interrupted: finished work is kept" in stderr
        assert "Traceback" not in stderr, stderr[-3000:]
