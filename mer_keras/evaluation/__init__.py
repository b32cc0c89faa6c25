"""Evaluation: LOSO protocols, pooled MEGC 2019 metrics, run outputs, logs, tables and plots.

Only light imports here (numpy, pandas, sklearn); matplotlib is loaded by ``plots`` and OpenCV by
``baselines`` on first use.
"""
from .bootstrap import (
    Difference,
    Interval,
    bootstrap_ci,
    format_interval,
    intervals_of,
    paired_bootstrap,
)
from .megc_log import format_megc_log, read_megc_log, write_megc_log
from .metrics import (
    PREDICTION_COLUMNS,
    accuracy,
    confusion,
    confusion_scores,
    pooled_scores,
    scores,
    uar,
    uf1,
)
from .protocols import Fold, inner_group_splits, loso_folds
from .published import (
    published_facts,
    published_rows,
    published_scores,
    published_timings,
)
from .report import format_pairs, format_table, paired_differences, results_table
from .results import (
    FoldStore,
    atomic_write_json,
    atomic_write_text,
    library_versions,
    read_results_json,
    write_results_json,
)


def __getattr__(name):
    """Plot functions load matplotlib, and baselines OpenCV, only when asked for."""
    if name in ("plot_confusion_matrix", "plot_run_confusions", "plot_scores_with_baselines", "plot_training_curves",
                "plot_tsne"):
        from . import plots

        return getattr(plots, name)
    if name in ("baseline_predictions", "baseline_results"):
        from . import baselines

        return getattr(baselines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PREDICTION_COLUMNS",
    "Difference",
    "Fold",
    "FoldStore",
    "Interval",
    "accuracy",
    "atomic_write_json",
    "atomic_write_text",
    "baseline_predictions",
    "baseline_results",
    "bootstrap_ci",
    "confusion",
    "confusion_scores",
    "format_interval",
    "format_megc_log",
    "format_pairs",
    "format_table",
    "inner_group_splits",
    "intervals_of",
    "library_versions",
    "loso_folds",
    "paired_bootstrap",
    "paired_differences",
    "plot_confusion_matrix",
    "plot_run_confusions",
    "plot_scores_with_baselines",
    "plot_training_curves",
    "plot_tsne",
    "pooled_scores",
    "published_facts",
    "published_rows",
    "published_scores",
    "published_timings",
    "read_megc_log",
    "read_results_json",
    "results_table",
    "scores",
    "uar",
    "uf1",
    "write_megc_log",
    "write_results_json",
]
