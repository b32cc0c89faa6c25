"""File names made from data keys: one rule, shared by the manifest check and every writer of per-subject files.

A subject key is ``dataset/subject``; its files (fold predictions, pre-training weights) are named by
``subject_file_stem``. The manifest refuses two subjects whose stems collide (``stem_key``), so no two
folds ever write the same file.
"""
from __future__ import annotations


def subject_file_stem(subject: str) -> str:
    """File-name form of a qualified subject key ('casme2/sub01' -> 'casme2__sub01')."""
    stem = str(subject).replace("/", "__").replace("\\", "__")
    if not stem or stem.startswith("."):
        raise ValueError(f"subject {subject!r} cannot name a fold file")
    return stem


def stem_key(subject: str) -> str:
    """What two subjects must not share: their stem, case folded (macOS and Windows file systems ignore case)."""
    return subject_file_stem(subject).casefold()
