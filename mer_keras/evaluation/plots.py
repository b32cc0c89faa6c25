"""PNG figures for a run directory: confusion matrices, training curves, optional t-SNE.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend
switch), so plotting works headless and inside other programs; files are written atomically.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..files import atomic_write_bytes
from .metrics import check_predictions, confusion
from .report import _interval_cells, baseline_row_label, run_baselines
from .results import read_results_json


def _save(fig: Figure, path):
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def plot_confusion_matrix(y_true, y_pred, class_names, path, title="Confusion matrix"):
    """Counts with row-normalised percentages (rows = true class); returns the PNG path."""
    class_names = [str(c) for c in class_names]
    if not class_names:
        raise ValueError("class_names must name at least one class")
    cm = confusion(y_true, y_pred, labels=range(len(class_names)))
    totals = cm.sum(axis=1, keepdims=True)
    pct = np.divide(100.0 * cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    k = len(class_names)
    fig = Figure(figsize=(1.3 * k + 2.2, 1.1 * k + 1.6))
    ax = fig.add_subplot()
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, label="% of true class")
    for i in range(k):
        for j in range(k):
            colour = "white" if pct[i, j] > 60 else "black"
            ax.text(j, i, f"{cm[i, j]}\n{pct[i, j]:.1f}%", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (n={int(cm.sum())})")
    return _save(fig, path)


def plot_run_confusions(predictions, class_names, out_dir, stem="confusion"):
    """One confusion-matrix PNG for the pooled run and one per dataset; returns their paths."""
    check_predictions(predictions)
    out_dir = Path(out_dir)
    paths = [plot_confusion_matrix(predictions["y_true"], predictions["y_pred"], class_names,
                                   out_dir / f"{stem}_all.png", title="all datasets")]
    for dataset, part in predictions.groupby("dataset", sort=True):
        safe = str(dataset).replace("/", "_").replace("+", "plus")
        paths.append(plot_confusion_matrix(part["y_true"], part["y_pred"], class_names,
                                           out_dir / f"{stem}_{safe}.png", title=str(dataset)))
    return paths


def _histories(history) -> list[dict]:
    history = getattr(history, "history", history)  # a keras History object works too
    runs = [history] if isinstance(history, dict) else list(history)
    out = []
    for i, h in enumerate(runs):
        h = getattr(h, "history", h)
        if not isinstance(h, dict):
            raise TypeError(f"history {i} must be a dict of metric -> list of values, got {type(h).__name__}")
        out.append({str(k): [float(x) for x in v] for k, v in h.items() if len(v)})
    if not out or not any(out):
        raise ValueError("history holds no values to plot")
    return out


def plot_training_curves(history, path, title="Training curves"):
    """One panel per metric (``val_x`` drawn with ``x``); several folds give thin lines plus their mean."""
    runs = _histories(history)
    metrics = list(dict.fromkeys(k for h in runs for k in h))
    bases = list(dict.fromkeys(m.removeprefix("val_") for m in metrics))
    cols = min(3, len(bases))
    rows = math.ceil(len(bases) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    for n, base in enumerate(bases, start=1):
        ax = fig.add_subplot(rows, cols, n)
        for name, colour in ((base, "tab:blue"), (f"val_{base}", "tab:orange")):
            curves = [h[name] for h in runs if name in h]
            if not curves:
                continue
            if len(curves) == 1:
                ax.plot(range(1, len(curves[0]) + 1), curves[0], color=colour, label=name)
                continue
            for c in curves:
                ax.plot(range(1, len(c) + 1), c, color=colour, alpha=0.2, linewidth=0.8)
            longest = max(len(c) for c in curves)
            mean = [np.mean([c[e] for c in curves if len(c) > e]) for e in range(longest)]
            ax.plot(range(1, longest + 1), mean, color=colour, linewidth=2, label=f"{name} (mean of {len(curves)})")
        ax.set_xlabel("epoch")
        ax.set_title(base)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_tsne(embeddings, labels, path, class_names=None, perplexity=30.0, random_state=0, title="t-SNE"):
    """2-D t-SNE of embeddings coloured by class (perplexity lowered for small sets, as TSNE requires)."""
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, dtype=float)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"embeddings must be (n, d) with one label per row; got {x.shape} and {len(y)} labels")
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 embeddings, got {len(x)}")
    perplexity = min(float(perplexity), (len(x) - 1) / 3)
    points = TSNE(n_components=2, perplexity=perplexity, random_state=random_state, init="pca").fit_transform(x)
    fig = Figure(figsize=(5.5, 4.8))
    ax = fig.add_subplot()
    for value in np.unique(y):
        mask = y == value
        name = class_names[int(value)] if class_names is not None else str(value)
        ax.scatter(points[mask, 0], points[mask, 1], s=14, label=name)
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def _models_of(doc: dict) -> list[tuple[str, dict, object, bool]]:
    """(label, scores, intervals, is_baseline) of each variant (the headline alone when none), then each baseline."""
    variants = doc.get("variants") or {}
    models = [(str(v.get("label") or k), v["scores"], v.get("intervals"), False) for k, v in variants.items()]
    if not models:
        models = [("run", doc["scores"], doc.get("intervals"), False)]
    models += [(baseline_row_label(k), b["scores"], b.get("intervals"), True) for k, b in run_baselines(doc).items()]
    return models


def plot_scores_with_baselines(results, path, dataset: str = "all", title=None):
    """UF1 and UAR of each variant beside the same-fold baselines, with bootstrap interval bars where known.

    ``results`` is a run's ``results.json`` content (or its run directory). Baselines are hatched grey, so a
    network bar that does not clear them shows at a glance (issue 16). Returns the PNG path.
    """
    doc = results if isinstance(results, dict) else read_results_json(results)
    models = [m for m in _models_of(doc) if dataset in m[1]]
    if not models:
        raise ValueError(f"no variant or baseline of this run has scores for dataset {dataset!r}")
    metrics = ("uf1", "uar")
    width = 0.8 / len(models)
    fig = Figure(figsize=(max(4.5, 1.2 + 0.9 * len(models) * len(metrics)), 3.8), layout="constrained")
    ax = fig.add_subplot()
    colours = iter(["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                    "tab:olive", "tab:cyan"] * 4)
    baseline_styles = iter([{"color": "0.8", "hatch": "..", "edgecolor": "0.35"},
                            {"color": "0.6", "hatch": "//", "edgecolor": "0.25"}] * 8)
    for i, (label, scores, intervals, baseline) in enumerate(models):
        cells = _interval_cells(intervals, dataset)
        values = [float(scores[dataset][m]) for m in metrics]
        err = np.zeros((2, len(metrics)))
        has_err = False
        for j, m in enumerate(metrics):
            low, high = cells[f"{m}_low"], cells[f"{m}_high"]
            if low is not None and high is not None:
                err[:, j] = [max(values[j] - low, 0.0), max(high - values[j], 0.0)]
                has_err = True
        style = next(baseline_styles) if baseline else {"color": next(colours)}
        xs = np.arange(len(metrics)) + (i - (len(models) - 1) / 2) * width
        ax.bar(xs, values, width * 0.92, label=label, yerr=err if has_err else None, capsize=3, **style)
    ax.set_xticks(range(len(metrics)), [m.upper() for m in metrics])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (whiskers: subject-bootstrap interval)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    name = (doc.get("extra") or {}).get("experiment") or (doc.get("config") or {}).get("name") or "run"
    ax.set_title(title or f"{name}: {dataset}, variants and same-fold baselines")
    return _save(fig, path)


def plot_motion_curve(curve, path, title="Motion from the onset", true_apex=None):
    """The spotter's per-frame motion (``Spotting.table()``: frame, motion_px, smoothed_px, apex) with the spotted
    apex marked, and ``true_apex`` (a frame number) when known; returns the PNG path."""
    frames = np.asarray(curve["frame"])
    spotted = frames[np.asarray(curve["apex"], bool)]
    fig = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(frames, curve["motion_px"], "o-", color="0.6", markersize=3, linewidth=1, label="motion")
    ax.plot(frames, curve["smoothed_px"], color="tab:blue", linewidth=2, label="smoothed")
    for frame in spotted:
        ax.axvline(frame, color="tab:red", linestyle="--", label=f"spotted apex {frame}")
    if true_apex is not None:
        ax.axvline(true_apex, color="tab:green", linestyle=":", label=f"annotated apex {true_apex}")
    ax.set_xlabel("frame")
    ax.set_ylabel("motion from onset (px, median removed)")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


CLIP_FIGURE_SIZE = (900, 300)
"""Width, height in pixels of ``plot_clip_figure``'s PNG (fixed: no tight bounding box)."""


def plot_clip_figure(face, flow_rgb, classes, scores, path, title="", score_label="score", notes=("", ""),
                     flow_title="flow onset->apex (hue = direction)"):
    """One clip at a glance: the aligned apex face, the onset->apex flow as an HSV colour-wheel picture, and the
    per-class scores (the highest in red). ``face`` / ``flow_rgb`` are arrays in [0, 1] or None, when ``notes``
    say why; the PNG is always ``CLIP_FIGURE_SIZE`` pixels."""
    width, height = CLIP_FIGURE_SIZE
    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    panels = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    for ax, image, name, note in ((panels[0], face, "apex face", notes[0]),
                                  (panels[1], flow_rgb, flow_title, notes[1])):
        if image is None:
            ax.text(0.5, 0.5, f"not available:\n{note}"[:160], ha="center", va="center", fontsize=6, wrap=True)
        else:
            image = np.clip(np.asarray(image, dtype=float), 0, 1)
            ax.imshow(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    scores = np.asarray(scores, dtype=float)
    best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else -1
    ax = panels[2]
    ax.barh(range(len(classes)), np.nan_to_num(scores), color=["tab:red" if k == best else "tab:blue"
                                                               for k in range(len(classes))])
    ax.set_yticks(range(len(classes)), [str(c) for c in classes], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(score_label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.80, bottom=0.15, wspace=0.35)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write_bytes(path, buf.getvalue())
