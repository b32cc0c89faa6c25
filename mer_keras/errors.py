"""The package's user-facing errors: the CLI prints their message on one line and exits with code 2.

One base class, ``MerKerasError``, marks an error caused by the user's input, data or settings
(not by a bug): ``mer-keras`` catches it at the top, prints ``mer-keras: error: <message>`` and
exits 2, with the traceback only under ``--debug``. The subclasses also derive from the built-in
exception a caller would expect (``ValueError``, ``FileNotFoundError``), so ``except ValueError``
code and ``pytest.raises(ValueError)`` keep working.
"""
from __future__ import annotations


class MerKerasError(Exception):
    """Base class of every error caused by the user's input, data or settings (not by a bug)."""


class ConfigError(MerKerasError, ValueError):
    """An experiment setting that is unknown, of the wrong type or out of range."""


class InputError(MerKerasError, ValueError):
    """Input data (a manifest, frame, weights file) that is missing or not what was expected."""


class InputNotFoundError(MerKerasError, FileNotFoundError):
    """A file or folder the user named (or a manifest points to) that does not exist."""


class FrameDecodeError(InputError):
    """A frame file that is missing, empty, truncated or corrupt (the decoder complained)."""


class CacheEntryError(InputError):
    """A cache entry that is truncated, corrupt or holds other bytes than were written (``prepare`` recomputes it)."""
