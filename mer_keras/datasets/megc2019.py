"""The MEGC 2019 composite (442 clips of SMIC HS, CASME II and SAMM; 3 classes; 68 subjects).

Each dataset is loaded on its own under protocol ``megc2019`` (``one_dataset.load_dataset``), its clips
selected from the organisers' ``combined_3class_gt.csv`` or, without it, by the 3-class mapping plus the
official list's two CASME II omissions (``megc2019_list``, whose names stay importable from here). The
official file is the user's to obtain: the package never ships or downloads it.
"""
from __future__ import annotations

import pandas as pd

from .megc2019_list import (  # noqa: F401 (importable here as before)
    CASME2_CLASSES,
    LIST_COLUMNS,
    LIST_DATABASES,
    OMISSIONS,
    megc2019_class,
    native_key,
    read_official_list,
    select,
)
from .one_dataset import load_dataset
from .schema import ManifestError


def composite(casme2=None, samm=None, smic=None, megc_gt=None, on_error="raise", **kwargs) -> pd.DataFrame:
    """The 3-dataset MEGC 2019 manifest (protocol ``megc2019``) from the three dataset roots.

    Pass the roots of the datasets you hold (at least one); ``kwargs`` go to every reader as
    ``casme2_<name>=...``, ``samm_<name>=...``, ``smic_<name>=...`` (e.g. ``casme2_frames=``).
    Problems of all datasets are raised together (``on_error="raise"``) or kept in
    ``attrs["problems"]`` (``"report"``); skipped clips are in ``attrs["skipped"]``.
    """
    roots = {"casme2": casme2, "samm": samm, "smic-hs": smic}
    if all(r is None for r in roots.values()):
        raise ValueError("composite() needs at least one of casme2=, samm=, smic=")
    unknown = set(kwargs) - {k for k in kwargs if k.split("_")[0] in ("casme2", "samm", "smic")}
    if unknown:
        raise TypeError(f"unexpected keyword(s) {sorted(unknown)}; prefix reader options with casme2_, samm_ or smic_")
    official = read_official_list(megc_gt) if megc_gt is not None else None
    parts, problems, skipped = [], [], []
    for dataset, root in roots.items():
        if root is None:
            continue
        prefix = dataset.split("-")[0] + "_"
        kw = {k[len(prefix):]: v for k, v in kwargs.items() if k.startswith(prefix)}
        df = load_dataset(dataset, root, protocol="megc2019", megc_gt=official, on_error="report", **kw)
        parts.append(df)
        problems += df.attrs.pop("problems")
        skipped += df.attrs.pop("skipped")
    out = pd.concat(parts, ignore_index=True)
    if problems and on_error == "raise":
        raise ManifestError(problems)
    out.attrs["problems"] = problems
    out.attrs["skipped"] = skipped
    return out
