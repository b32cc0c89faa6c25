"""mer-keras: Keras 3 reproductions of lightweight micro-expression recognition systems.

The public entry points (``mer_keras.run_loso``, ``mer_keras.reproduce``, ...) are loaded on first use, so
``import mer_keras`` and the dataset tools stay fast (TensorFlow, dlib and OpenCV load only when needed).
"""
import importlib

from . import registration as _registration

__version__ = "0.2.0"

_PUBLIC = {
    "load_manifest": "mer_keras.datasets", "read_manifest": "mer_keras.datasets",
    "generate_synthme": ("mer_keras.datasets.synthme", "generate"),
    "prepare": "mer_keras.preprocessing",
    "build_model": ("mer_keras.models", "build"), "list_models": "mer_keras.models",
    "load_experiment": "mer_keras.training.config", "list_experiments": "mer_keras.training.config",
    "reproduce": "mer_keras.training.reproduce", "run_loso": "mer_keras.api",
    "load_export": "mer_keras.training.export",
    "predict_clip": "mer_keras.training.predict",
    "pooled_scores": "mer_keras.evaluation", "loso_folds": "mer_keras.evaluation",
    "bootstrap_ci": "mer_keras.evaluation.bootstrap", "paired_bootstrap": "mer_keras.evaluation.bootstrap",
    "plot_confusion_matrix": "mer_keras.evaluation.plots", "results_table": "mer_keras.evaluation.report",
}
__all__ = [*sorted(_PUBLIC), "__version__"]  # noqa: PLE0604 - the lazy table above is the list


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mer_keras' has no attribute {name!r}")
    target = _PUBLIC[name]
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__


_registration.register_when_keras()  # so keras.saving.load_model reads an export's model.keras (registration.py)
