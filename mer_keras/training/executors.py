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
import pickle
from concurrent.futures import as_completed

from .. import quiet
from ..errors import ConfigError
from ..workers import worker_pool
from . import fold as fold_module
from .fold import FoldResult
from .networks import RunSettings, configure_threads, usable_core_ids, usable_cores

logger = logging.getLogger("mer_keras")
DEFAULT_SETTINGS = RunSettings()


def run_task(task, inputs, progress=None) -> FoldResult:
    """One fold task on the arrays of ``inputs``."""
    return fold_module.run_fold(task.variant, inputs.fold(task), seed=task.seed, macro_weights=task.macro_weights,
                    pretrain_path=task.pretrain_path, progress=progress)


def _portable(result: FoldResult) -> FoldResult:
    """The result without its live Keras model and head (they stay in the worker)."""
    return dataclasses.replace(result, model=None, head=None)


class SequentialExecutor:
    """Folds one after the other in this process (models are built and traced once)."""

    def __init__(self, settings: RunSettings = DEFAULT_SETTINGS):
        self.threads_per_fold = settings.threads or usable_cores()

    def run(self, tasks, inputs, progress=None):
        for task in tasks:
            yield task, run_task(task, inputs, progress and (lambda *a, t=task: progress(t, *a)))


# ------------------------------------------------------------------------------------------ worker processes
_WORKER: dict = {}


def _init_worker(inputs, settings: RunSettings, cores_queue):
    """Pin the worker to its share of cores, then apply the run settings (thread pools included)."""
    cores = cores_queue.get()
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    settings.apply()
    _WORKER["inputs"] = inputs


def _worker_run(task) -> FoldResult:
    return _portable(run_task(task, _WORKER["inputs"]))


class ProcessExecutor:
    """Folds in ``jobs`` worker processes (spawned, so TensorFlow starts clean in each), each pinned to
    ``cores // jobs`` cores with ``settings.threads`` intra-op threads (0: as many as its cores). The arrays are
    sent once per worker."""

    def __init__(self, jobs: int, settings: RunSettings = DEFAULT_SETTINGS):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs, self.settings = int(jobs), settings
        self.threads_per_fold = settings.threads or self.core_sets()[1]

    def core_sets(self):
        cores = usable_core_ids()
        share = max(1, len(cores) // self.jobs)
        return [cores[i * share:(i + 1) * share] or cores for i in range(self.jobs)], share

    def run(self, tasks, inputs, progress=None):
        tasks = list(tasks)
        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        sets, _ = self.core_sets()
        queue = context.Queue()  # handed to each worker as it starts (no manager process)
        for cores in sets:
            queue.put(cores)
        settings = dataclasses.replace(self.settings, threads=self.threads_per_fold)
        # the initializer and its arrays travel pickled inside one bytes payload, so a worker silences TensorFlow
        # (``quiet.boot_worker``) before unpickling them imports it
        payload = pickle.dumps((_init_worker, inputs, settings), protocol=pickle.HIGHEST_PROTOCOL)
        # stopping the run (Ctrl-C, SIGTERM, an error) terminates the workers: a fold can train for minutes
        with worker_pool(min(self.jobs, len(tasks)), quiet.boot_worker, (quiet.QUIET, payload, queue)) as pool:
            futures = {pool.submit(_worker_run, task): task for task in tasks}
            for future in as_completed(futures):
                yield futures[future], future.result()


# ------------------------------------------------------------------------------------------------------ Ray
class RayExecutor:
    """Fold tasks on a Ray cluster (``address="auto"`` joins a running one; None starts a local instance).
    The arrays go to the object store once; each task asks for ``settings.threads`` CPUs (at least 1) and runs
    with as many intra-op threads."""

    def __init__(self, address=None, settings: RunSettings = DEFAULT_SETTINGS, num_cpus=None):
        try:
            import ray
        except ModuleNotFoundError:
            raise ConfigError("--executor ray needs Ray: pip install 'mer-keras[cluster]'") from None
        self.ray, self.address, self.num_cpus = ray, address, num_cpus
        self.settings = dataclasses.replace(settings, threads=settings.threads or 1)
        self.threads_per_fold = self.settings.threads

    def run(self, tasks, inputs, progress=None):
        ray = self.ray
        tasks = list(tasks)
        if not tasks:
            return
        if not ray.is_initialized():
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.num_cpus}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        remote = ray.remote(num_cpus=self.settings.threads)(_ray_fold)
        inputs_ref = ray.put(inputs)
        pending = {remote.remote(task, inputs_ref, self.settings): task for task in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)


def _ray_fold(task, inputs, settings: RunSettings) -> FoldResult:
    if not settings.apply():  # Ray reuses a worker only for tasks of the same resource shape
        logger.warning("this Ray worker's TensorFlow already runs with other thread pools than %d", settings.threads)
    return _portable(run_task(task, inputs))


def make_executor(kind: str = "sequential", jobs: int = 1, address=None, settings: RunSettings = DEFAULT_SETTINGS):
    """The executor for ``kind`` / ``jobs``, applying ``settings`` wherever folds train. A sequential run whose
    process already started TensorFlow with other thread pools than ``settings.threads`` runs its folds in one
    worker process instead, so that the count holds."""
    if kind == "ray":
        return RayExecutor(address=address, settings=settings)
    if kind == "processes" or jobs > 1:
        return ProcessExecutor(jobs, settings)
    if not configure_threads(settings.threads):
        logger.info("TensorFlow already runs in this process with other thread pools: folds run in one worker "
                    "process with %d intra-op threads", settings.threads)
        return ProcessExecutor(1, settings)
    return SequentialExecutor(settings)
