"""Shared test setup: make ``tests.fixtures`` importable however pytest is started, and start TensorFlow with the
package's default thread count (one intra-op thread per fold), so in-process runs at the default need no worker."""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # read when TensorFlow starts; set before any test imports it

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
