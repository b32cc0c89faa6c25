"""Training: the stages of a fold (pre-training, fine-tuning, heads), the LOSO runner, ``reproduce``, exports
and prediction. Names load on first use (``mer_keras.lazy``): TensorFlow starts only when one is asked for
(``reproduce`` is ``mer_keras.reproduce``: here its name is its module's)."""
from ..lazy import lazy_exports

_EXPORTS = {
    "load_experiment": ".config", "list_experiments": ".config", "ExperimentConfig": ".config",
    "VariantConfig": ".config",
    "run_fold": ".fold", "run_variant": ".runner",
    "load_export": ".export", "predict_clip": ".predict",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
