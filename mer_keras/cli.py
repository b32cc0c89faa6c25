"""`mer-keras` command line: one sub-command per stage, each calling the same function as the Python API.

Every stage module that offers commands has a ``register(subparsers)`` function; heavy imports
(TensorFlow, dlib) happen inside the command handlers so ``mer-keras manifest`` starts fast.

Errors: the package's own (``errors.MerKerasError``) and the operating system's "wrong path" family
(missing file, permission denied, a file where a folder is expected, ...) are a user's mistake,
printed as one line ``mer-keras: error: ...`` with exit status 2; ``--debug`` adds the traceback.
Anything else is a bug and keeps Python's traceback. ``--quiet`` / ``--verbose`` set the level of
the ``mer_keras`` logger (WARNING / DEBUG; INFO by default), which writes bare messages to stderr.
TensorFlow's own start-up lines are silenced before it is imported, unless ``--debug``.
Ctrl-C (exit 130) and SIGTERM (a ``kill``, a scheduler's time limit; exit 143) stop a command the same way: the
work finished so far is kept, worker processes are terminated, and the same command resumes.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
import traceback

from .errors import MerKerasError
from .quiet import quiet_tensorflow

COMMAND_MODULES = (
    "mer_keras.datasets.commands",
    "mer_keras.datasets.synthme_commands",
    "mer_keras.preprocessing.commands",
    "mer_keras.models.commands",
    "mer_keras.training.commands",
    "mer_keras.evaluation.commands",
)

COMMAND_HOMES = {
    "manifest": "mer_keras.datasets.commands",
    "synth": "mer_keras.datasets.synthme_commands",
    "prepare": "mer_keras.preprocessing.commands",
    "models": "mer_keras.models.commands",
    "reproduce": "mer_keras.training.commands",
    "experiments": "mer_keras.training.commands",
    "predict": "mer_keras.training.commands",
    "demo": "mer_keras.training.commands",
    "table": "mer_keras.evaluation.commands",
}
"""Sub-command -> the module that registers it, so ``mer-keras manifest`` imports only its own module
(importing ``mer_keras.evaluation`` loads scikit-learn: 1.5 s). Unknown names load every module."""

GLOBAL_FLAGS = {"--debug": "debug", "--quiet": "quiet", "--verbose": "verbose"}
"""Options accepted before or after the sub-command (after it, only where the sub-command has no
option of that name: ``synth --quiet`` stays synth's own)."""

USER_OS_ERRORS = (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError, NotADirectoryError)

_EXPECTED = {
    FileNotFoundError: "does not exist",
    PermissionError: "permission denied (the user running mer-keras cannot read or write it)",
    FileExistsError: "already exists; choose another path or remove it",
    IsADirectoryError: "is a folder, but a file was expected",
    NotADirectoryError: "is not a folder (a file stands where a folder was expected)",
}


def _command_in(argv) -> str | None:
    """The sub-command named in ``argv`` (the first token that is not an option), if any."""
    for token in argv:
        if not token.startswith("-"):
            return token
    return None


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The full parser; given ``argv`` naming a known sub-command, only that sub-command's module is loaded."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mer-keras",
        description="Micro-expression recognition reproductions (Keras 3): manifests, SynthME, "
        "preprocessing, models, leak-free LOSO training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"mer-keras {__version__}")
    parser.add_argument("--debug", dest="g_debug", action="store_true",
                        help="print the traceback of an error (anywhere on the command line)")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--quiet", dest="g_quiet", action="store_true", help="log warnings and errors only")
    level.add_argument("--verbose", dest="g_verbose", action="store_true", help="log debug messages too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = None if argv is None else _command_in(argv)
    modules = [COMMAND_HOMES[command]] if command in COMMAND_HOMES else COMMAND_MODULES
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a stage not built yet
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv``; the global flags may also follow the sub-command (argparse alone takes them before)."""
    args, rest = parser.parse_known_args(argv)
    unknown = []
    for token in rest:
        if token in GLOBAL_FLAGS:
            setattr(args, f"g_{GLOBAL_FLAGS[token]}", True)
        else:
            unknown.append(token)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.g_quiet and args.g_verbose:
        parser.error("--quiet and --verbose exclude each other")
    return args


def configure_logging(quiet: bool = False, verbose: bool = False) -> logging.Logger:
    """The ``mer_keras`` logger at WARNING / INFO / DEBUG with one plain stderr handler (message only)."""
    logger = logging.getLogger("mer_keras")
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    for h in list(logger.handlers):
        if getattr(h, "_mer_keras_cli", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._mer_keras_cli = True
    logger.addHandler(handler)  # still propagates: a host application's (or pytest's) handlers keep seeing it
    return logger


def error_message(error: BaseException) -> str:
    """One line for a user's mistake: the package's message, or the OS error's path and what was expected."""
    if isinstance(error, OSError) and not isinstance(error, MerKerasError) and error.filename is not None:
        expected = next((text for cls, text in _EXPECTED.items() if isinstance(error, cls)), error.strerror)
        path = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
        return f"{path}: {expected}"
    return str(error).strip() or type(error).__name__


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so it stops as on Ctrl-C (a KeyboardInterrupt: every handler that
    keeps finished work and stops worker processes runs)."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises ``Terminated`` in the main thread while the command runs (the default handler would end
    the process at once, leaving its worker processes running); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parse_args(parser, argv)
    configure_logging(args.g_quiet, args.g_verbose)
    if not args.g_debug:
        quiet_tensorflow()
    try:
        with _sigterm_interrupts():
            result = args.func(args)
    except KeyboardInterrupt as e:
        print("interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(e, Terminated) else 130
    except (MerKerasError, *USER_OS_ERRORS) as e:
        if args.g_debug:
            traceback.print_exc()
        print(f"mer-keras: error: {error_message(e)}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
