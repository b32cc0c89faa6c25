"""Worker processes that never outlive the command that started them.

``prepare --jobs`` and ``reproduce --jobs`` run on a ``ProcessPoolExecutor`` of spawned workers (never forked: a
forked child inherits OpenCV's and TensorFlow's thread pools in a broken state). Leaving its ``with`` block on an
exception waits for the running tasks, and a fold of a long experiment runs for minutes: a user who stops a
run (Ctrl-C, ``kill``, a scheduler's SIGTERM) would find its workers still training. ``worker_pool`` terminates
them instead, and each worker also watches its parent and exits when it is gone (killed with SIGKILL, say).
A module of its own, light on imports: a spawned worker loads it before anything that imports TensorFlow.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

JOIN_TIMEOUT_S = 30.0
"""How long ``worker_pool`` waits for a terminated worker to exit before it goes on."""


def _exit_with_parent(parent_pid: int, period: float = 0.5) -> None:
    """Exit this process once its parent is gone: an orphan is re-parented, so its parent id changes."""
    while os.getppid() == parent_pid:
        time.sleep(period)
    os._exit(1)


def _boot(parent_pid: int, initializer, initargs) -> None:
    """A worker's initializer: start the parent watcher, then the caller's own initializer."""
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True, name="exit-with-parent").start()
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def worker_pool(max_workers: int, initializer=None, initargs=()):
    """A ``ProcessPoolExecutor`` of ``max_workers`` spawned workers (``initializer(*initargs)`` run in each).

    Leaving the block normally waits for the pool as ``with ProcessPoolExecutor`` does; leaving it on any
    exception (KeyboardInterrupt, a closed generator, an error) cancels the queued tasks and terminates the
    workers started for this pool, so no task keeps running after the command has stopped."""
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_boot, initargs=(os.getpid(), initializer, tuple(initargs)))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        started = [p for p in multiprocessing.active_children() if p not in before]
        for process in started:
            process.terminate()
        for process in started:
            process.join(JOIN_TIMEOUT_S)
        raise
    pool.shutdown(wait=True)
