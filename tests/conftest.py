"""Shared test setup: make ``tests.fixtures`` importable however pytest is started, and start TensorFlow with the
package's default thread count (one intra-op thread per fold), so in-process runs at the default need no worker.
TensorFlow runs eagerly (``MER_KERAS_GRAPH_OPTIMIZER=eager``, inherited by the CLI and worker processes the tests
start): the tests' runs are a few steps per network, where tracing a graph costs more than it saves (about a
third of a tiny ``reproduce``). The default of a user's run (graphs, optimised) is unchanged;
``tests/test_training_graph_optimizer.py`` still trains a traced graph (optimiser off) and checks that a resume
with another value is refused."""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # read when TensorFlow starts; set before any test imports it
os.environ.setdefault("MER_KERAS_GRAPH_OPTIMIZER", "eager")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_finish(session):
    """The graph setting applied in this process too (tests that train without ``reproduce``)."""
    from mer_keras.training.networks import (
        configure_graph_optimizer,
        graph_optimizer_setting,
    )

    configure_graph_optimizer(graph_optimizer_setting())
