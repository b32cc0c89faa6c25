"""The stage report of a run (issue 21): at which stage a pipeline keeps or loses the class signal.

It reads what each fold recorded on its *training* subjects only: per stage (``pretrain``, ``finetune``)
trained with an inner split (``checkpoint = "best_inner_val"`` or ``"last_inner_val"``), the network's UAR on
the inner-validation subjects after every epoch and the linear probes of ``training/probes.py`` (raw input,
embedding before the stage, embedding after it); and whether the network collapsed to one class in
inference mode. ``mer-keras table RUN --stages`` prints it, ``reproduce`` draws ``stages_<variant>.png``.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .plots import _save

STAGES = ("pretrain", "finetune")
PROBES = (("pixels", "raw input"), ("before", "embedding before"), ("after", "embedding after"))


def _mean_sd(values) -> dict | None:
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "sd": float(np.std(values)), "folds": len(values)}


def stage_summary(details: list[dict]) -> dict:
    """Per stage: the mean inner-validation UAR per epoch over folds, the chosen epoch, and the probes' mean
    and spread over folds; plus how many folds collapsed. ``details`` are the fold sidecars
    (``fold_details``)."""
    out = {"folds": len(details),
           "collapsed_folds": sum(bool((d.get("history") or {}).get("collapse", {}).get("collapsed"))
                                  for d in details)}
    for stage in STAGES:
        histories = [(d.get("history") or {}).get(stage) or {} for d in details]
        with_curve = [h for h in histories if h.get("inner_val_uar")]
        entry = {}
        if with_curve:
            length = min(len(h["inner_val_uar"]) for h in with_curve)
            entry["inner_val_uar"] = np.mean([h["inner_val_uar"][:length] for h in with_curve], axis=0).tolist()
            # 1-based epochs of the curve's points (every epoch when a run recorded no list)
            entry["inner_val_epochs"] = [e + 1 for e in (with_curve[0].get("inner_val_epochs") or range(length))][:length]
            entry["best_epoch"] = _mean_sd([h.get("best_epoch") for h in with_curve])
        probes = [h.get("probe_uar") or {} for h in histories]
        for key, _ in PROBES:
            value = _mean_sd([p.get(key) for p in probes])
            if value:
                entry[f"probe_{key}"] = value
        if entry:
            out[stage] = entry
    return out


def _cell(value: dict | None) -> str:
    return "-" if not value else f"{value['mean']:.3f} ±{value['sd']:.2f}"


def format_stages(name: str, summary: dict, chance: float | None = None) -> str:
    """The summary as a text table (one row per stage) under a line naming the variant."""
    head = f"{name}: {summary['folds']} folds, {summary['collapsed_folds']} collapsed (one class in inference mode)"
    if chance:
        head += f"; chance UAR {chance:.3f}"
    rows = [head]
    stages = [s for s in STAGES if s in summary]
    if not stages:
        rows.append("  no stage trained with an inner split (checkpoint 'best_inner_val' or 'last_inner_val'): "
                    "nothing measured on unseen training subjects")
        return "\n".join(rows) + "\n"
    header = ["stage", "inner UAR: first (epoch)", "best", "last", *[f"probe: {label}" for _, label in PROBES]]
    table = [header]
    for stage in stages:
        s = summary[stage]
        curve, epochs = s.get("inner_val_uar") or [], s.get("inner_val_epochs") or []
        best = (f"{max(curve):.3f} ({epochs[int(np.argmax(curve))]})" if curve else "-")
        table.append([stage, f"{curve[0]:.3f} ({epochs[0]})" if curve else "-", best,
                      f"{curve[-1]:.3f} ({epochs[-1]})" if curve else "-",
                      *[_cell(s.get(f"probe_{key}")) for key, _ in PROBES]])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    rows += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    rows.append("  (inner UAR: the network on inner-validation training subjects, mean over folds per epoch; "
                "probes: a linear SVM on those subjects, mean ± sd over folds)")
    return "\n".join(rows) + "\n"


def plot_stages(summary: dict, path, title: str = "Stage report", chance: float | None = None):
    """Left: inner-validation UAR per epoch of each stage; right: the probes of each stage as bars."""
    stages = [s for s in STAGES if s in summary]
    if not stages:
        raise ValueError("no stage holds an inner-split measurement to draw")
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    curves_ax, probes_ax = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for stage in stages:
        curve = summary[stage].get("inner_val_uar")
        if curve:
            curves_ax.plot(summary[stage]["inner_val_epochs"], curve, marker="." if len(curve) < 40 else None,
                           label=stage)
    if chance:
        for ax in (curves_ax, probes_ax):
            ax.axhline(chance, color="grey", linestyle=":", linewidth=1, label="chance")
    curves_ax.set_xlabel("epoch")
    curves_ax.set_ylabel("UAR on inner-validation subjects")
    curves_ax.set_title("network per epoch")
    curves_ax.legend(fontsize=8)
    width = 0.8 / len(PROBES)
    for i, (key, label) in enumerate(PROBES):
        values = [summary[s].get(f"probe_{key}") for s in stages]
        positions = np.arange(len(stages)) + (i - (len(PROBES) - 1) / 2) * width
        probes_ax.bar(positions, [v["mean"] if v else 0 for v in values], width,
                      yerr=[v["sd"] if v else 0 for v in values], label=label, capsize=3)
    probes_ax.set_xticks(np.arange(len(stages)), stages)
    probes_ax.set_ylabel("linear-probe UAR")
    probes_ax.set_ylim(0, 1)
    probes_ax.set_title("linear probes (mean ± sd over folds)")
    probes_ax.legend(fontsize=8)
    fig.suptitle(f"{title} ({summary['folds']} folds, {summary['collapsed_folds']} collapsed)")
    return _save(fig, path)
