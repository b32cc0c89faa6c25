"""``mer-keras models``: list every registered builder with its parameter count and FLOPs."""
from __future__ import annotations


def register(subparsers):
    parser = subparsers.add_parser("models", help="list the model builders with parameters and FLOPs",
                                   description="List every registered builder with its trainable parameter "
                                   "count and FLOPs (batch 1, TensorFlow profiler) at its default input.")
    parser.add_argument("--classes", type=int, default=3, help="classifier width (1000 = ImageNet counts)")
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOP count (about 4 s per model)")
    parser.add_argument("names", nargs="*", help="only these models (default: all)")
    parser.set_defaults(func=run_models)


def run_models(args):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .registry import MODELS, list_models, models_table

    names = args.names or list_models()
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit(f"unknown model(s): {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    print(models_table(names, classes=args.classes, with_flops=not args.no_flops))
    return 0
