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


def seed_list(text: str) -> list[int]:
    """Two or more distinct whole numbers separated by commas (``reproduce --seeds 0,1,2``)."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be whole numbers separated by commas, e.g. 0,1,2; got {text!r}") \
            from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"must be at least two different seeds, got {text!r}")
    return seeds
