"""Folds in worker processes, on a local Ray cluster, or one at a time (--subject): byte-identical fold files
at the same per-fold thread count."""
import shutil
import subprocess
import sys

import pytest

from mer_keras.errors import InputError
from mer_keras.training.networks import usable_cores
from mer_keras.training.reproduce import reproduce

TINY = {
    "preprocess": {"size": 32},
    "network": {"stage_repeats": [1, 1, 1]},  # a shallow network: the tests are about executors, not depth
    "pretrain": {"kind": "none"},
    "finetune": {"epochs": 1, "batch_size": 8},
    "head": {"kind": "softmax"},
    "synthme": {"subjects": 3, "clips_per_subject": 4},
    "baselines": False,  # threads: the default (one intra-op thread per fold, whatever the executor)
}


# session-scoped: built once per xdist worker (a module-scoped fixture can be torn down and built again when the
# worker turns to another module's tests in between)
@pytest.fixture(scope="session")
def sequential(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("runs") / "sequential"
    reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY)
    return out, cache


def _fold_files(run_dir):
    folder = run_dir / "folds" / "shufflenet_ghost_vit"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _same_fold_files(run_a, run_b):
    """Identical clips, predicted classes and scores, byte for byte (both runs at the default thread count)."""
    a, b = _fold_files(run_a), _fold_files(run_b)
    assert len(a) == 3
    assert a == b


@pytest.mark.slow
def test_two_worker_processes_give_the_sequential_predictions(sequential, tmp_path):
    out, cache = sequential
    parallel = tmp_path / "jobs2"
    reproduce("liu2022_shufflenet", out=parallel, cache=cache, overrides=TINY, jobs=2)
    _same_fold_files(parallel, out)


@pytest.mark.slow
def test_a_local_ray_cluster_gives_the_sequential_predictions(sequential, tmp_path):
    ray = pytest.importorskip("ray")
    out, cache = sequential
    on_ray = tmp_path / "ray"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        reproduce("liu2022_shufflenet", out=on_ray, cache=cache, overrides=TINY, executor="ray")
    finally:
        ray.shutdown()
    _same_fold_files(on_ray, out)


def test_one_subject_per_invocation_then_gathered(sequential, tmp_path):
    """SLURM-array style: each call runs one fold; a final call without --subject pools them."""
    out, cache = sequential
    split = tmp_path / "split"
    subjects = sorted(p.stem.replace("__", "/") for p in (out / "folds" / "shufflenet_ghost_vit").glob("*.csv"))
    first = reproduce("liu2022_shufflenet", out=split, cache=cache, overrides=TINY, subjects=[subjects[0]])
    assert first.get("partial") and len(_fold_files(split)) == 1 and not (split / "results.json").exists()
    args = ["--set", "preprocess.size=32", "--set", "network.stage_repeats=[1,1,1]", "--set", 'pretrain.kind="none"',
            "--set", "finetune.epochs=1",
            "--set", "finetune.batch_size=8", "--set", 'head.kind="softmax"', "--set", "synthme.subjects=3",
            "--set", "synthme.clips_per_subject=4", "--set", "baselines=false"]
    done = subprocess.run([sys.executable, "-m", "mer_keras", "reproduce", "liu2022_shufflenet", "--out",
                           str(split), "--cache", str(cache), "--subject", subjects[1], *args],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "run again without --subject" in done.stdout
    reproduce("liu2022_shufflenet", out=split, cache=cache, overrides=TINY, subjects=subjects[2:])
    assert _fold_files(split) == _fold_files(out)
    gathered = reproduce("liu2022_shufflenet", out=split, cache=cache, overrides=TINY)
    assert gathered["scores"]["all"]["n"] == 11
    with pytest.raises(ValueError, match="not a subject"):
        reproduce("liu2022_shufflenet", out=split, cache=cache, overrides=TINY, subjects=["nobody"])
    shutil.rmtree(split)


def test_the_thread_count_changes_the_numbers_so_it_is_a_recorded_setting(sequential, tmp_path):
    """The reason the default is one fixed count: with two intra-op threads the same fold's scores differ
    (TensorFlow's CPU kernels split sums by thread count); the run records which count produced its numbers and a
    resume with another count is refused."""
    out, cache = sequential
    if usable_cores() < 2:
        pytest.skip("needs two cores")
    two = tmp_path / "threads2"
    results = reproduce("liu2022_shufflenet", out=two, cache=cache, overrides={**TINY, "threads": 2})
    recorded = results["variants"]["shufflenet_ghost_vit"]["provenance"]
    assert (recorded["threads"], recorded["threads_per_fold"]) == (2, 2)
    assert _fold_files(two) != _fold_files(out)
    with pytest.raises(InputError, match=r"threads, threads_per_fold differ"):  # a resume may not mix counts
        reproduce("liu2022_shufflenet", out=two, cache=cache, overrides=TINY)
