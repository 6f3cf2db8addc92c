"""Depth profile on clean inputs: accuracy, spectral exponent alpha and dimension D per layer."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from manifold_smoothness.figures.common import (
    METRIC_LABELS,
    SUMMARY_METRICS,
    attack_rows,
    check_frame,
    integer_xaxis,
    layer_colors,
    new_figure,
    seed_stats,
    source_label,
    titled,
)
from manifold_smoothness.study import CLEAN

LAYER_COLUMNS = ("seed", "attack", "layer", *SUMMARY_METRICS)


def plot_depth_profile(ax: Axes, stats: pd.DataFrame, value: str) -> None:
    """Seed mean of `value` per layer joined by a grey line, each layer's point in its colour
    with a min-max error bar over seeds."""
    colors = layer_colors(int(stats["layer"].max()))
    mean = stats[f"{value}_mean"]
    ax.plot(stats["layer"], mean, color="grey", lw=1.0, zorder=1)
    for row, y in zip(stats.itertuples(index=False), mean, strict=True):
        low, high = y - getattr(row, f"{value}_min"), getattr(row, f"{value}_max") - y
        ax.errorbar(
            row.layer,
            y,
            yerr=[[low], [high]],
            color=colors[int(row.layer) - 1],
            marker="o",
            capsize=3,
            zorder=2,
        )


def plot_layers(summary: pd.DataFrame) -> Figure:
    """Accuracy, alpha and D against layer index on clean test images, mean and min-max over
    seeds; shows how classification and manifold smoothness change with depth."""
    check_frame(summary, LAYER_COLUMNS, "summary")
    clean = attack_rows(summary, CLEAN)
    stats = seed_stats(clean, ["layer"], SUMMARY_METRICS)
    fig, axes = new_figure(len(SUMMARY_METRICS))
    for ax, value in zip(axes, SUMMARY_METRICS, strict=True):
        plot_depth_profile(ax, stats, value)
        ax.set(xlabel="hidden layer l", ylabel=METRIC_LABELS[value])
        integer_xaxis(ax)
        ax.grid(alpha=0.3)
    n_seeds = clean["seed"].nunique()
    what = (
        f"Per-layer accuracy and spectrum on clean test images (mean, min-max of {n_seeds} seeds)"
    )
    fig.suptitle(titled(what, source_label(summary)))
    return fig
