"""Subject file stems, kept importable here for ``datasets.manifest`` until it imports them from ``io``,
where the one definition of each now lives (issue 23)."""
from __future__ import annotations

from .io import stem_key, subject_file_stem

__all__ = ["stem_key", "subject_file_stem"]
