"""Evaluation: LOSO protocols, pooled MEGC 2019 metrics, run outputs, logs, tables and plots.

Names load on first use (``mer_keras.lazy``): matplotlib comes with ``plots`` and OpenCV with ``baselines``,
and nothing here starts TensorFlow.
"""
from ..lazy import lazy_exports

_EXPORTS = {
    "Difference": ".bootstrap", "Interval": ".bootstrap", "bootstrap_ci": ".bootstrap",
    "format_interval": ".bootstrap", "intervals_of": ".bootstrap", "paired_bootstrap": ".bootstrap",
    "seeds_paired_bootstrap": ".bootstrap",
    "format_megc_log": ".megc_log", "read_megc_log": ".megc_log", "write_megc_log": ".megc_log",
    "PREDICTION_COLUMNS": ".metrics", "accuracy": ".metrics", "confusion": ".metrics",
    "confusion_scores": ".metrics", "pooled_scores": ".metrics", "scores": ".metrics", "uar": ".metrics",
    "uf1": ".metrics", "Fold": ".protocols", "inner_group_splits": ".protocols", "loso_folds": ".protocols",
    "published_facts": ".published", "published_rows": ".published", "published_scores": ".published",
    "published_timings": ".published", "format_pairs": ".report", "format_table": ".report",
    "paired_differences": ".report", "results_table": ".report", "format_seed_summary": ".seeds", "seed_summary": ".seeds", "FoldStore": ".results",
    "atomic_write_json": ".results", "atomic_write_text": ".results", "library_versions": ".results",
    "read_results_json": ".results", "write_results_json": ".results", "plot_confusion_matrix": ".plots",
    "plot_run_confusions": ".plots", "plot_scores_with_baselines": ".plots", "plot_training_curves": ".plots",
    "plot_tsne": ".plots", "baseline_predictions": ".baselines", "baseline_results": ".baselines",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

