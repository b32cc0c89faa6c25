"""mer-keras: Keras 3 reproductions of lightweight micro-expression recognition systems.

The public entry points (``mer_keras.run_loso``, ``mer_keras.reproduce``, ...) are loaded on first use, so
``import mer_keras`` and the dataset tools stay fast (TensorFlow, dlib and OpenCV load only when needed).
"""
from . import registration as _registration
from .lazy import lazy_exports

__version__ = "0.2.0"

_EXPORTS = {
    "load_manifest": ".datasets", "read_manifest": ".datasets",
    "generate_synthme": ".datasets.synthme:generate",
    "prepare": ".preprocessing",
    "build_model": ".models:build", "list_models": ".models",
    "load_experiment": ".training.config", "list_experiments": ".training.config",
    "reproduce": ".training.reproduce", "run_loso": ".api",
    "load_export": ".training.export",
    "predict_clip": ".training.predict",
    "pooled_scores": ".evaluation", "loso_folds": ".evaluation",
    "bootstrap_ci": ".evaluation.bootstrap", "paired_bootstrap": ".evaluation.bootstrap",
    "plot_confusion_matrix": ".evaluation.plots", "results_table": ".evaluation.report",
}
__getattr__, _, _names = lazy_exports(__name__, _EXPORTS)
__all__ = [*_names, "__version__"]  # noqa: PLE0604 - the lazy table above is the list


def __dir__():
    return __all__


_registration.register_when_keras()  # so keras.saving.load_model reads an export's model.keras (registration.py)
