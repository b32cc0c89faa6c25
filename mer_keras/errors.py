"""The package's user-facing errors: the CLI prints their message on one line and exits with code 2."""
from __future__ import annotations


class MerKerasError(Exception):
    """Base class of every error caused by the user's input, data or settings (not by a bug)."""


class ConfigError(MerKerasError, ValueError):
    """An experiment setting that is unknown, of the wrong type or out of range."""


class InputError(MerKerasError, ValueError):
    """Input data (a manifest, frame, weights file) that is missing or not what was expected."""
