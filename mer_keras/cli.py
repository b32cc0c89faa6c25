"""`mer-keras` command line: one sub-command per stage, each calling the same function as the Python API.

Every stage module that offers commands has a ``register(subparsers)`` function; heavy imports
(TensorFlow, dlib) happen inside the command handlers so ``mer-keras manifest`` starts fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "mer_keras.datasets.commands",
    "mer_keras.datasets.synthme_commands",
    "mer_keras.preprocessing.commands",
    "mer_keras.models.commands",
    "mer_keras.training.commands",
    "mer_keras.evaluation.commands",
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mer-keras",
        description="Micro-expression recognition reproductions (Keras 3): manifests, SynthME, "
        "preprocessing, models, leak-free LOSO training and evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"mer-keras {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a stage not built yet
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
