"""The manifest: one row per clip, the contract between the dataset readers and every later stage.

Readers (one module per dataset) turn a native folder into a DataFrame with the columns of
``COLUMNS``; preprocessing, training and evaluation only ever read that DataFrame. The schema is
documented in ``data_manifests/README.md``. This module writes and reads manifest CSVs; the schema
(``schema``), frame decoding (``images``) and the checks (``validation``) live below it and their names
stay importable from here, where readers, preprocessing and training import them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import InputError, InputNotFoundError
from ..files import atomic_write_text
from .images import IGNORED_DECODER_LINES, read_image  # noqa: F401 (importable here as before)
from .schema import (  # noqa: F401 (importable here as before)
    APEX_SOURCES,
    COLUMNS,
    FRAME_NUMBER,
    FRAME_SEP,
    IMAGE_EXTENSIONS,
    ManifestError,
    Problem,
    different_size,
    foreign_frame_name,
    frame_number,
    frame_paths,
    list_frames,
    make_row,
    missing_numbers,
    position_of,
    select_protocol,
    stem_collisions,
)
from .validation import validate


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest CSV atomically (a crash or a failed write never leaves a file behind)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give the manifest CSV's file name (e.g. {path / 'manifest.csv'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise InputError(f"--out {path}: {e.filename} is a file, not a folder, so the manifest cannot be written "
                         "under it") from None
    atomic_write_text(path, df.to_csv(index=False))  # one writer for every file (mer_keras.files)
    return path


def read_manifest(path: str | os.PathLike, check_frames: bool = False, decode_frames: bool = False) -> pd.DataFrame:
    """Read and validate a manifest CSV written by ``write_manifest`` (or by hand).

    Problems name the CSV line (the header is line 1) and the file; a missing, empty or non-CSV file
    is an ``InputError`` naming it.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"manifest {path} is a folder; expected a manifest CSV file")
        raise InputNotFoundError(f"manifest {path} does not exist")
    try:
        df = pd.read_csv(path, dtype={"subject": str, "clip": str, "frame_files": str, "source": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"manifest {path} cannot be read as a CSV file: {e}") from None
    if len(df) == 0:
        raise ManifestError([Problem("-", "", str(path), "the manifest holds no rows")])
    validate(df, check_frames=check_frames, decode_frames=decode_frames,
             lines=[f"line {i + 2}" for i in range(len(df))], file=str(path))
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Clips per subject and class (rows: subjects, columns: classes, with totals)."""
    table = pd.crosstab(df["subject"], df["class_name"], margins=True, margins_name="total")
    return table
