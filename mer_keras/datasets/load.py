"""``load_manifest``: native dataset folder (or the MEGC 2019 trio) -> validated manifest under a protocol.

The one entry point above both ways to build a manifest: one dataset (``one_dataset.load_dataset``) and the
MEGC 2019 composite (``megc2019.composite``, which loads its three datasets one at a time).
"""
from __future__ import annotations

import pandas as pd

from .megc2019 import composite
from .one_dataset import (  # noqa: F401 (importable here as before)
    check_root,
    load_dataset,
    no_rows_error,
    warn_about_motion,
)
from .reading import check_on_error


def load_manifest(dataset, root=None, protocol=None, megc_gt=None, on_error="raise", **kwargs) -> pd.DataFrame:
    """Manifest DataFrame (``manifest.COLUMNS``) of one dataset under ``protocol``.

    protocol: ``None`` uses the dataset's default (``megc2019`` for casme2, samm, smic-hs;
    ``three-class`` for the others), or ``megc2019``, ``casme2-5class``, ``three-class``, ``all``, or
    ``liu2022-macro`` (paper 004's macro images: one row per selected frame, see ``liu2022_macro``).
    megc_gt: the official ``combined_3class_gt.csv`` (path or ``megc2019.read_official_list``
    result); without it ``megc2019`` uses the class mapping and the list's two CASME II omissions.
    on_error: ``"raise"`` raises ``ManifestError`` listing every problem; ``"report"`` returns the
    valid rows and keeps the problems in ``attrs["problems"]``. Either way ``attrs["skipped"]``
    holds the rows left out on purpose, with their reason. ``kwargs`` go to the reader (e.g.
    ``missing_apex=`` and ``frames=`` for CASME II). ``dataset="megc2019"`` builds the composite:
    pass ``casme2=``, ``samm=``, ``smic=`` roots instead of ``root``.
    """
    check_on_error(on_error)
    if str(dataset).lower() == "megc2019":
        if root is not None:
            raise TypeError("the megc2019 composite takes casme2=, samm=, smic= roots, not root")
        return composite(megc_gt=megc_gt, on_error=on_error, **kwargs)
    if root is None:
        raise TypeError(f"load_manifest({dataset!r}) needs the dataset's root folder")
    return load_dataset(dataset, root, protocol=protocol, megc_gt=megc_gt, on_error=on_error, **kwargs)
