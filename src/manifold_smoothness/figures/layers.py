"""Depth profile on clean inputs: accuracy, spectral exponent alpha and dimension D per layer."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from manifold_smoothness.figures.common import (
    METRIC_LABELS,
    PROBE,
    SUMMARY_METRICS,
    accuracy_handles,
    accuracy_style,
    attack_rows,
    check_frame,
    final_rows,
    integer_xaxis,
    layer_colors,
    new_figure,
    seed_stats,
    source_label,
    titled,
)
from manifold_smoothness.vocabulary import CLEAN

LAYER_COLUMNS = ("seed", "attack", "layer", *SUMMARY_METRICS)


def plot_depth_profile(ax: Axes, stats: pd.DataFrame, value: str, n_layers: int) -> None:
    """Seed mean of `value` per layer joined by a grey line, each layer's point in its colour
    with a min-max error bar over seeds; layers without a value (NaN mean) are left out.
    The probe accuracy is drawn dashed with open markers, to sit beside the readout's profile.
    """
    colors = layer_colors(n_layers)
    stats = stats[stats[f"{value}_mean"].notna()]
    if stats.empty:
        return
    mean = stats[f"{value}_mean"]
    style = accuracy_style(value)
    ax.plot(stats["layer"], mean, color="grey", lw=1.0, ls=style["ls"], zorder=1)
    for row, y in zip(stats.itertuples(index=False), mean, strict=True):
        low, high = y - getattr(row, f"{value}_min"), getattr(row, f"{value}_max") - y
        color = colors[int(row.layer) - 1]
        ax.errorbar(
            row.layer,
            y,
            yerr=[[low], [high]],
            color=color,
            marker="o",
            mfc=style.get("mfc", color),
            capsize=3,
            zorder=2,
        )


def plot_layers(summary: pd.DataFrame) -> Figure:
    """Accuracy, alpha and D against layer index on clean test images of the final model, mean
    and min-max over seeds; shows how classification and manifold smoothness change with depth.

    The accuracy panel shows each layer's own fixed readout (filled markers, solid) and, where
    the summary has `probe_accuracy`, a linear probe of the layer (open markers, dashed);
    layers without a readout (NaN accuracy, e.g. hidden layers of backprop) show the probe only.
    """
    check_frame(summary, LAYER_COLUMNS, "summary")
    clean = attack_rows(final_rows(summary, "summary"), CLEAN)
    probe = PROBE in clean.columns and clean[PROBE].notna().any()
    values = [*SUMMARY_METRICS, PROBE] if probe else list(SUMMARY_METRICS)
    stats = seed_stats(clean, ["layer"], values)
    n_layers = int(clean["layer"].max())
    fig, axes = new_figure(len(SUMMARY_METRICS))
    for ax, value in zip(axes, SUMMARY_METRICS, strict=True):
        plot_depth_profile(ax, stats, value, n_layers)
        ax.set(xlabel="hidden layer l", ylabel=METRIC_LABELS[value])
        integer_xaxis(ax)
        ax.grid(alpha=0.3)
    if probe:
        plot_depth_profile(axes[0], stats, PROBE, n_layers)
        axes[0].legend(handles=accuracy_handles(), fontsize="small")
    n_seeds = clean["seed"].nunique()
    what = (
        f"Per-layer accuracy and spectrum on clean test images (mean, min-max of {n_seeds} seeds)"
    )
    fig.suptitle(titled(what, source_label(summary)))
    return fig
