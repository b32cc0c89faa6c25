"""``Prepared``: the rows ``prepare`` made (computed or read from precomputed inputs), read from the cache on access.

Its own module so ``prepare`` and ``precomputed`` both build one without importing each other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .cache import read_entry, read_info
from .face import apply_affine


class Prepared:
    """The prepared rows in manifest order; arrays are read from the cache on access."""

    def __init__(self, manifest: pd.DataFrame, representation: str, params: dict, paths, computed: int,
                 fallback_records=()):
        self.manifest = manifest
        self.representation = representation
        self.params = params
        self.paths = list(paths)
        self.computed = computed
        self.reused = len(self.paths) - computed
        self.fallback_records = list(fallback_records)
        """Every fallback, one dict each (``FALLBACK_COLUMNS``: row, dataset, subject, clip, frame as a
        0-based position, frame_file, kind ``previous`` | ``center`` | ``redetect``, detail)."""

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        return read_entry(self.paths[i])[0]

    def info(self, i: int) -> dict:
        return read_info(self.paths[i])

    def landmarks(self, i: int):
        """The 68 landmarks of row i in output pixels (None after a centre-crop fallback)."""
        info = self.info(i)
        if info.get("landmarks") is None:
            return None
        return apply_affine(np.asarray(info["matrix"]), np.asarray(info["landmarks"]))  # matrix is at `size`

    def stack(self) -> np.ndarray:
        """All rows as one float32 array (N, ...)."""
        if not self.paths:
            return np.zeros((0,), np.float32)
        return np.stack([self[i] for i in range(len(self))]).astype(np.float32, copy=False)

    @property
    def fallbacks(self) -> pd.DataFrame:
        """Rows where an explicit fallback was used, with a ``fallback`` column saying which."""
        notes = [self.info(i).get("fallback") for i in range(len(self))]
        df = self.manifest.assign(fallback=notes)
        return df[df["fallback"].notna()]
