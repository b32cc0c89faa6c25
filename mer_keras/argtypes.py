"""Argument types the subcommands share (argparse reports a bad value as a usage error, exit 2)."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number >= 1 (``--jobs``, ``--n-boot``): 0 or less is refused, not read as a default."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
