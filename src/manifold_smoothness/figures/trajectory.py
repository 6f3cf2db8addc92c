"""Training trajectory of one model: how each layer's accuracy and spectral exponent alpha
develop together from initialisation (epoch 0) to the final model, on clean test images."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter

from manifold_smoothness.figures.common import (
    ACCURACY_NAMES,
    METRIC_LABELS,
    accuracy_handles,
    accuracy_style,
    attack_rows,
    check_frame,
    layer_colors,
    n_layers_of,
    new_figure,
    one_source,
    plot_band,
    seed_stats,
    source_label,
    titled,
)
from manifold_smoothness.vocabulary import CLEAN

TRAJECTORY_COLUMNS = ("seed", "attack", "epoch", "layer", *ACCURACY_NAMES, "alpha")
START_MARKER, END_MARKER = "o", "s"  # epoch 0 and final end of an accuracy-alpha path
END_MARKER_SIZE = 8
TICK_GAP = 1.5  # least ratio between neighbouring positive epoch ticks


def epoch_ticks(epochs: pd.Series) -> list[float]:
    """Ticks of a symlog epoch axis: 0, the first and last positive epoch, and the powers of
    ten between them that are not crowded against either (within a factor TICK_GAP)."""
    positive = epochs[epochs > 0]
    first, last = float(positive.min()), float(positive.max())
    decades = 10.0 ** np.arange(np.ceil(np.log10(first)), np.floor(np.log10(last)) + 1)
    apart = [d for d in decades if d / first >= TICK_GAP and last / d >= TICK_GAP]
    return sorted({0.0, first, *apart, last})


def epoch_axis(ax: Axes, epochs: pd.Series) -> None:
    """Symlog epoch axis: logarithmic over training, linear below the first positive epoch so
    epoch 0 (initialisation) is still drawn; plain linear if there is no positive epoch."""
    if (epochs > 0).any():
        ax.set_xscale("symlog", linthresh=float(epochs[epochs > 0].min()))
        ax.xaxis.set_major_locator(FixedLocator(epoch_ticks(epochs)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_xlabel("epochs of training (symlog axis; 0 = initialisation)")


def mark_ends(ax: Axes, path: pd.DataFrame, x: str, y: str, color: object) -> None:
    """Black-edged markers on the first (epoch 0) and last (final) point of a path."""
    for row, marker in ((path.iloc[0], START_MARKER), (path.iloc[-1], END_MARKER)):
        ax.plot(
            row[x], row[y], marker=marker, ms=END_MARKER_SIZE, color=color, mec="black", ls="none"
        )


def plot_layer_trajectory(axes: list[Axes], stats: pd.DataFrame, layer: int, color: object) -> None:
    """One layer in all three panels: accuracies and alpha against epoch (seed mean with a
    +-std band), and the seed-mean accuracy-alpha path ordered by epoch with its ends marked.
    An accuracy the layer does not have (NaN throughout, no readout) is not drawn."""
    acc_ax, alpha_ax, path_ax = axes
    plot_band(alpha_ax, stats, "epoch", "alpha", color, f"layer {layer}", spread="std")
    for value in ACCURACY_NAMES:
        rows = stats[stats[f"{value}_mean"].notna()]
        if rows.empty:
            continue
        ls = accuracy_style(value)["ls"]
        plot_band(acc_ax, rows, "epoch", value, color, None, spread="std", ls=ls)
        path = rows[rows["alpha_mean"].notna()]
        if path.empty:
            continue
        y = f"{value}_mean"
        path_ax.plot(path["alpha_mean"], path[y], color=color, marker=".", ls=ls, lw=1.5)
        mark_ends(path_ax, path, "alpha_mean", y, color)


def plot_trajectory(summary: pd.DataFrame) -> Figure:
    """Clean test accuracy and alpha of every layer of ONE model along training.

    Panels: (a) accuracy against epoch, own readout solid and linear probe dashed; (b) alpha
    against epoch; both with seed mean and a mean +- std band, on a symlog epoch axis that
    shows epoch 0; (c) accuracy against alpha, the seed-mean path of each layer from epoch 0
    (circle) to the final model (square). Uses the rows with attack 'clean': the training
    snapshots and the final model.
    """
    check_frame(summary, TRAJECTORY_COLUMNS, "summary")
    for column in ("dataset", "model"):
        one_source(summary, column, "trajectory")
    clean = attack_rows(summary, CLEAN)
    n_layers = n_layers_of(clean)
    stats = seed_stats(clean, ["layer", "epoch"], [*ACCURACY_NAMES, "alpha"])
    colors = layer_colors(n_layers)
    fig, axes = new_figure(3)
    for layer, rows in stats.groupby("layer", sort=True):
        plot_layer_trajectory(axes, rows, int(layer), colors[int(layer) - 1])
    acc_ax, alpha_ax, path_ax = axes
    for ax in (acc_ax, alpha_ax):
        epoch_axis(ax, stats["epoch"])
    acc_ax.set(ylabel=METRIC_LABELS["accuracy"], title="(a) accuracy during training")
    alpha_ax.set(ylabel=METRIC_LABELS["alpha"], title=r"(b) $\alpha$ during training")
    path_ax.set(
        xlabel=METRIC_LABELS["alpha"],
        ylabel=METRIC_LABELS["accuracy"],
        title=r"(c) accuracy vs $\alpha$ along training",
    )
    for ax in axes:
        ax.grid(alpha=0.3)
    trajectory_legend(fig, alpha_ax)
    n_seeds = clean["seed"].nunique()
    what = f"Training trajectory on clean test images (mean, band = mean +- std of {n_seeds} seeds)"
    fig.suptitle(titled(what, rule_source(summary)))
    return fig


def rule_source(summary: pd.DataFrame) -> str:
    """'dataset, model' for the title, with the learning rule when the summary names one."""
    source = source_label(summary)
    rules = summary["rule"].dropna().unique() if "rule" in summary.columns else ()
    return f"{source} ({rules[0]} training)" if len(rules) == 1 else source


def trajectory_legend(fig: Figure, layer_ax: Axes) -> None:
    """Figure legend: layer colours, readout vs probe line styles, path start and end."""
    handles, _ = layer_ax.get_legend_handles_labels()
    ends = [
        Line2D([], [], marker=marker, ms=END_MARKER_SIZE, color="white", mec="black", ls="none")
        for marker in (START_MARKER, END_MARKER)
    ]
    ends[0].set_label("epoch 0 (initialisation)")
    ends[1].set_label("final model")
    fig.legend(
        handles=[*handles, *accuracy_handles(marker="."), *ends],
        loc="outside right center",
        fontsize="small",
    )
