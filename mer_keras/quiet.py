"""TensorFlow's start-up lines kept off a user's terminal, in the CLI's process and in the worker processes it
spawns (issue 23, "quiet by default"). A module of its own, light on imports: a spawned worker loads it before
anything that imports TensorFlow."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import pickle
import sys
import tempfile

QUIET = False
"""Whether this process silenced TensorFlow (``quiet_tensorflow``); worker processes then do the same."""


class _QuietTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: the first ``import tensorflow`` (wherever a command makes it) runs with file descriptor 2 sent
    to a temporary file. absl writes its "before absl::InitializeLog()", oneDNN and CUDA lines there whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; a command that refuses its input before needing TensorFlow never imports it."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finder does the work
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        self.loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with tempfile.TemporaryFile() as sink:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
            try:
                self.loader.exec_module(module)
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))  # a failed import shows what it said
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        try:
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
        except ImportError:
            pass


def quiet_tensorflow() -> None:
    """TensorFlow's C++ logging off (``TF_CPP_MIN_LOG_LEVEL=3`` unless the user set it) and its start-up lines
    swallowed when it is first imported (``_QuietTensorFlow``), so an error is the package's one line."""
    global QUIET
    QUIET = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())


def boot_worker(quiet: bool, payload: bytes, *args) -> None:
    """A spawned worker's initializer: silence TensorFlow as its parent did, then unpickle ``payload``
    (``(initializer, *arguments)``, whose modules import TensorFlow) and run it with ``payload``'s arguments
    followed by ``args`` (those that must travel unpickled, such as a queue)."""
    if quiet:
        quiet_tensorflow()
    initializer, *arguments = pickle.loads(payload)
    initializer(*arguments, *args)
