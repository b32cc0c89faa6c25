"""Where folds run: in this process, in worker processes on this machine, or on a Ray cluster.

An executor has one method, ``run(tasks, inputs, progress) -> iterator of (task, FoldResult)``, yielding each
fold as it finishes (any order). Every fold's result depends only on its settings, seed, data and TensorFlow's
intra-op thread count (initial weights are keyed by seed, not by process history; CPU kernels split sums by
thread count), so executors running folds with the same ``threads`` give bit-identical fold files; the runner
writes each fold's file through the same atomic store whichever executor ran it.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from . import fold as fold_module
from .fold import FoldResult
from .networks import configure_threads

logger = logging.getLogger("mer_keras")


def run_task(task, inputs, progress=None) -> FoldResult:
    """One fold task on the arrays of ``inputs``."""
    return fold_module.run_fold(task.variant, inputs.fold(task), seed=task.seed, macro_weights=task.macro_weights,
                    pretrain_path=task.pretrain_path, progress=progress)


def _portable(result: FoldResult) -> FoldResult:
    """The result without its live Keras model and head (they stay in the worker)."""
    return dataclasses.replace(result, model=None, head=None)


class SequentialExecutor:
    """Folds one after the other in this process (models are built and traced once)."""

    def run(self, tasks, inputs, progress=None):
        for task in tasks:
            yield task, run_task(task, inputs, progress and (lambda *a, t=task: progress(t, *a)))


# ------------------------------------------------------------------------------------------ worker processes
_WORKER: dict = {}


def _init_worker(inputs, cores_queue, threads, deterministic, precision):
    """Pin the worker to its share of cores and size TensorFlow's thread pools (``threads``)."""
    cores = cores_queue.get()
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    from .networks import configure_determinism, configure_precision, configure_threads

    configure_threads(threads)
    configure_determinism(deterministic)
    configure_precision(precision)
    _WORKER["inputs"] = inputs


def _worker_run(task) -> FoldResult:
    return _portable(run_task(task, _WORKER["inputs"]))


class ProcessExecutor:
    """Folds in ``jobs`` worker processes (spawned, so TensorFlow starts clean in each), each pinned to
    ``cores // jobs`` cores with ``threads`` intra-op threads (0: as many as its cores). The arrays are sent
    once per worker."""

    def __init__(self, jobs: int, deterministic: bool = True, precision: str = "float32", threads: int = 0):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs, self.deterministic, self.precision, self.threads = int(jobs), deterministic, precision, threads

    def core_sets(self):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count()))
        share = max(1, len(cores) // self.jobs)
        return [cores[i * share:(i + 1) * share] or cores for i in range(self.jobs)], share

    def run(self, tasks, inputs, progress=None):
        tasks = list(tasks)
        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        sets, share = self.core_sets()
        queue = context.Queue()  # handed to each worker as it starts (no manager process)
        for cores in sets:
            queue.put(cores)
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=context,
                                 initializer=_init_worker,
                                 initargs=(inputs, queue, self.threads or share, self.deterministic,
                                           self.precision)) as pool:
            futures = {pool.submit(_worker_run, task): task for task in tasks}
            for future in as_completed(futures):
                yield futures[future], future.result()


# ------------------------------------------------------------------------------------------------------ Ray
class RayExecutor:
    """Fold tasks on a Ray cluster (``address="auto"`` joins a running one; None starts a local instance).
    The arrays go to the object store once; each task asks for ``cpus_per_fold`` CPUs and runs with as many
    intra-op threads."""

    def __init__(self, address=None, cpus_per_fold: int = 1, deterministic: bool = True, num_cpus=None,
                 precision: str = "float32"):
        try:
            import ray
        except ModuleNotFoundError:
            from ..errors import ConfigError

            raise ConfigError("--executor ray needs Ray: pip install 'mer-keras[cluster]'") from None
        self.ray, self.address, self.cpus = ray, address, int(cpus_per_fold)
        self.deterministic, self.num_cpus, self.precision = deterministic, num_cpus, precision

    def run(self, tasks, inputs, progress=None):
        ray = self.ray
        tasks = list(tasks)
        if not tasks:
            return
        if not ray.is_initialized():
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        remote = ray.remote(num_cpus=self.cpus)(_ray_fold)
        inputs_ref = ray.put(inputs)
        pending = {remote.remote(task, inputs_ref, self.cpus, self.deterministic, self.precision): task for task in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)


def _ray_fold(task, inputs, threads, deterministic, precision) -> FoldResult:
    from .networks import configure_determinism, configure_precision, configure_threads

    if not configure_threads(threads):  # Ray reuses a worker only for tasks of the same resource shape
        logger.warning("this Ray worker's TensorFlow already runs with other thread pools than %d", threads)
    configure_determinism(deterministic)
    configure_precision(precision)
    return _portable(run_task(task, inputs))


def make_executor(kind: str = "sequential", jobs: int = 1, address=None, deterministic: bool = True,
                  precision: str = "float32", threads: int = 0):
    """The executor for ``kind`` / ``jobs``. ``threads`` (0: the executor's default) is applied in every one; a
    sequential run whose process already started TensorFlow with other pools runs its folds in one worker."""
    if kind == "ray":
        return RayExecutor(address=address, cpus_per_fold=threads or 1, deterministic=deterministic,
                           precision=precision)
    if kind == "processes" or jobs > 1:
        return ProcessExecutor(jobs, deterministic=deterministic, precision=precision, threads=threads)
    if not configure_threads(threads):
        logger.info("TensorFlow already runs in this process with other thread pools: folds run in one worker "
                    "process with %d intra-op threads", threads)
        return ProcessExecutor(1, deterministic=deterministic, precision=precision, threads=threads)
    return SequentialExecutor()
