"""Shared test setup: make ``tests.fixtures`` importable however pytest is started, and start TensorFlow with the
package's default thread count (one intra-op thread per fold), so in-process runs at the default need no worker.
TensorFlow's graph optimiser is off (``MER_KERAS_GRAPH_OPTIMIZER``, inherited by the CLI and worker processes the
tests start): the tests' runs are a few steps per network, where its rewrites cost more than they save (about
half of a tiny ``reproduce``); the default of a user's run is unchanged and tested on its own."""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # read when TensorFlow starts; set before any test imports it
os.environ.setdefault("MER_KERAS_GRAPH_OPTIMIZER", "off")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_finish(session):
    """The graph optimiser setting applied in this process too (tests that train without ``reproduce``)."""
    from mer_keras.training.networks import (
        configure_graph_optimizer,
        graph_optimizer_setting,
    )

    configure_graph_optimizer(graph_optimizer_setting())
