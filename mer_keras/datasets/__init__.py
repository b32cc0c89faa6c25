"""Native dataset readers and the manifest they produce (one row per clip; see data_manifests/README.md).

``load_manifest(dataset, root, protocol=...)`` reads a dataset folder exactly as its owners ship
it and returns the validated manifest DataFrame; ``DATASETS`` lists the keys it accepts.
"""
from ..lazy import lazy_exports

_EXPORTS = {
    "load_manifest": ".load", "COLUMNS": ".manifest", "ManifestError": ".manifest", "Problem": ".manifest",
    "read_manifest": ".manifest", "summary": ".manifest", "validate": ".manifest", "write_manifest": ".manifest",
    "DATASETS": ".registry",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

