"""Native dataset readers and the manifest they produce (one row per clip; see data_manifests/README.md).

``load_manifest(dataset, root, protocol=...)`` reads a dataset folder exactly as its owners ship
it and returns the validated manifest DataFrame; ``DATASETS`` lists the keys it accepts.
"""
from .load import load_manifest
from .manifest import (
    COLUMNS,
    ManifestError,
    Problem,
    read_manifest,
    summary,
    validate,
    write_manifest,
)
from .registry import DATASETS

__all__ = [
    "COLUMNS",
    "DATASETS",
    "ManifestError",
    "Problem",
    "load_manifest",
    "read_manifest",
    "summary",
    "validate",
    "write_manifest",
]
