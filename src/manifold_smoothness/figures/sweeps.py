"""Attack sweeps: how accuracy, alpha and D of each layer move as the attack strengthens, and
the paper's central picture, accuracy against alpha with the attack strength as path parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from manifold_smoothness.figures.common import (
    METRIC_LABELS,
    SUMMARY_METRICS,
    FigureDataError,
    UnknownAttackError,
    attack_labels,
    attack_rows,
    check_frame,
    final_rows,
    layer_colors,
    n_layers_of,
    new_figure,
    plot_layer_bands,
    seed_stats,
    source_label,
    titled,
)
from manifold_smoothness.vocabulary import CLEAN

SWEEP_COLUMNS = ("seed", "attack", "strength", "layer", *SUMMARY_METRICS)
SHAPE_COLUMNS = ("alpha_se",)  # also needed to mark each curve's shape call
START_MARKER_SIZE = 9  # marker of the strength-0 (clean) end of an accuracy-alpha path
PAIR_MARKER_SIZE = 11  # open square around the two ends of a non-monotonic curve's reversal
N_ANNOTATED = 3  # strengths written next to the deepest layer's accuracy-alpha path
ShapeLimits = Mapping[str, float]  # claims thresholds of the shape call (SHAPE_CALL_THRESHOLDS)


def shape_calls(rows: pd.DataFrame, limits: ShapeLimits | None) -> dict[int, tuple[str, tuple]]:
    """Per layer of one sweep: (shape, (start strength, end strength) of its reversal or ()),
    decided by the claims' own statistic (claims_statistics.layer_shapes); {} without limits."""
    if limits is None:
        return {}
    from manifold_smoothness.claims_statistics import NON_MONOTONIC, layer_shapes

    check_frame(rows, SHAPE_COLUMNS, "summary")
    calls = {}
    for layer, (shape, rev) in layer_shapes(rows, dict(limits)).items():
        strengths = np.sort(rows.loc[rows["layer"] == layer, "strength"].unique())
        pair = ()
        if shape == NON_MONOTONIC:
            pair = (float(strengths[rev.start]), float(strengths[rev.end]))
        calls[layer] = (shape, pair)
    return calls


def _layer_label(layer: int, calls: dict[int, tuple[str, tuple]]) -> str:
    """'layer 2' or, with a shape call, 'layer 2: non-monotonic (0.1 -> 0.3)'."""
    if layer not in calls:
        return f"layer {layer}"
    shape, pair = calls[layer]
    where = f" ({pair[0]:g} \u2192 {pair[1]:g})" if pair else ""
    return f"layer {layer}: {shape}{where}"


def mark_reversals(
    ax: Axes, stats: pd.DataFrame, calls: dict[int, tuple[str, tuple]], x: str, y: str
) -> None:
    """An open square around both ends of each non-monotonic layer's reversal on the (x, y)
    seed-mean curve (stats from seed_stats by layer and strength)."""
    colors = layer_colors(n_layers_of(stats))
    for layer, (_, pair) in calls.items():
        if not pair:
            continue
        at = stats[(stats["layer"] == layer) & stats["strength"].isin(pair)]
        ax.plot(at[x], at[y], ls="none", marker="s", ms=PAIR_MARKER_SIZE, mfc="none",
                mec=colors[layer - 1], mew=1.5)  # fmt: skip


def sweep_rows(summary: pd.DataFrame, attack: str) -> pd.DataFrame:
    """The rows of one attack sweep of the final model, starting at strength 0.

    The summary duplicates the clean rows at strength 0 of every attack; if a summary lacks
    them, the clean rows are used as the strength-0 point so every path starts on clean data.
    """
    if attack == CLEAN:
        raise UnknownAttackError(f"{CLEAN!r} is the unattacked condition, not an attack sweep")
    summary = final_rows(summary, "summary")
    rows = attack_rows(summary, attack)
    if (rows["strength"] == 0).any():
        return rows
    clean = summary[summary["attack"] == CLEAN].assign(attack=attack, strength=0.0)
    return pd.concat([clean, rows], ignore_index=True)


def plot_attack(summary: pd.DataFrame, attack: str, limits: ShapeLimits | None = None) -> Figure:
    """Accuracy, alpha and D against attack strength, one line per layer (seed mean) with a
    min-max band over seeds; `attack` is any attack name of the summary (its `method` and
    `target` columns name it in the title and axis labels). With the claims' shape thresholds
    `limits`, the legend gives each layer's call of alpha(strength) and the alpha panel marks
    the two ends of every reversal that the claims count as non-monotonic."""
    check_frame(summary, SWEEP_COLUMNS, "summary")
    rows = sweep_rows(summary, attack)
    labels = attack_labels(rows, attack)
    n_layers = n_layers_of(rows)
    calls = shape_calls(rows, limits)
    fig, axes = new_figure(len(SUMMARY_METRICS))
    for i, (ax, value) in enumerate(zip(axes, SUMMARY_METRICS, strict=True)):
        plot_layer_bands(ax, rows, "strength", value, n_layers, label=i == 0)
        if value == "alpha":
            stats = seed_stats(rows, ["layer", "strength"], ["alpha"])
            mark_reversals(ax, stats, calls, "strength", "alpha_mean")
        ax.set(xlabel=labels.strength, ylabel=METRIC_LABELS[value])
        ax.grid(alpha=0.3)
    handles, _ = axes[0].get_legend_handles_labels()  # one line per layer, in layer order
    names = [_layer_label(int(layer), calls) for layer in sorted(rows["layer"].unique())]
    title = "hidden layer" + (": shape of alpha, \u25a1 reversal" if calls else "")
    fig.legend(handles, names, loc="outside right center", title=title, fontsize="small")
    n_seeds = rows["seed"].nunique()
    what = (
        f"{labels.title} on test images: per-layer accuracy and spectrum vs strength "
        f"(mean, min-max of {n_seeds} seeds)"
    )
    fig.suptitle(titled(what, source_label(summary)))
    return fig


def annotate_strengths(ax: Axes, path: pd.DataFrame, symbol: str) -> None:
    """Write a few nonzero strengths next to their points of one accuracy-alpha path."""
    nonzero = path[path["strength"] > 0]
    if nonzero.empty:
        return
    # the 1/N, 2/N, ..., N/N quantiles of the path: spread out, ending at the strongest attack
    picks = np.unique(np.ceil(np.arange(1, N_ANNOTATED + 1) * len(nonzero) / N_ANNOTATED) - 1)
    picks = picks.astype(int)
    for row in nonzero.iloc[picks].itertuples(index=False):
        ax.annotate(
            f"{symbol}={row.strength:g}",
            (row.alpha_mean, row.accuracy_mean),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize="x-small",
        )


def plot_paths(
    ax: Axes, rows: pd.DataFrame, symbol: str, n_layers: int, calls: dict | None = None
) -> None:
    """One accuracy-against-alpha path per layer (seed means, ordered by strength), its
    strength-0 end marked by a large edged marker; strengths annotated on the deepest layer;
    the ends of each non-monotonic layer's reversal (shape_calls) in open squares."""
    colors = layer_colors(n_layers)
    stats = seed_stats(rows, ["layer", "strength"], ["accuracy", "alpha"])
    mark_reversals(ax, stats, calls or {}, "alpha_mean", "accuracy_mean")
    for layer, path in stats.groupby("layer", sort=True):
        color = colors[int(layer) - 1]
        path = path.sort_values("strength")
        ax.plot(
            path["alpha_mean"],
            path["accuracy_mean"],
            color=color,
            marker=".",
            label=f"layer {layer}",
        )
        start = path.iloc[0]
        ax.plot(
            start["alpha_mean"],
            start["accuracy_mean"],
            marker="o",
            ms=START_MARKER_SIZE,
            color=color,
            mec="black",
            ls="none",
        )
        if layer == stats["layer"].max():
            annotate_strengths(ax, path, symbol)


def _calls_text(calls: dict[int, tuple[str, tuple]]) -> str:
    """A panel's shape calls in one line: 'non-monotonic: layers 1, 2' or 'all monotonic'."""
    from manifold_smoothness.claims_statistics import NON_MONOTONIC

    reversing = [
        str(layer) for layer, (shape, _) in sorted(calls.items()) if shape == NON_MONOTONIC
    ]
    if not reversing:
        return "alpha(strength) monotonic in every layer"
    return f"non-monotonic (\u25a1 reversal): layer {', '.join(reversing)}"


def plot_accuracy_alpha(
    summary: pd.DataFrame, attacks: Sequence[str], limits: ShapeLimits | None = None
) -> Figure:
    """Accuracy against alpha as each attack strengthens: one panel per attack of `attacks`
    (configured attack names), one path per layer (seed means of the final model), starting
    at the clean (strength 0) point. With the claims' shape thresholds `limits`, each panel
    names its non-monotonic layers and marks the ends of their reversals."""
    check_frame(summary, SWEEP_COLUMNS, "summary")
    if isinstance(attacks, str) or len(attacks) == 0:
        raise FigureDataError(f"attacks must be a non-empty sequence of names, got {attacks!r}")
    sweeps = [sweep_rows(summary, attack) for attack in attacks]
    n_layers = n_layers_of(*sweeps)
    fig, axes = new_figure(len(attacks))
    for ax, attack, rows in zip(axes, attacks, sweeps, strict=True):
        labels = attack_labels(rows, attack)
        calls = shape_calls(rows, limits)
        plot_paths(ax, rows, labels.symbol, n_layers, calls)
        title = f"{labels.title}\nstrength: {labels.strength}"
        ax.set(
            xlabel=METRIC_LABELS["alpha"],
            ylabel=METRIC_LABELS["accuracy"],
            title=f"{title}\n{_calls_text(calls)}" if calls else title,
        )
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    start = Line2D([], [], marker="o", ms=START_MARKER_SIZE, color="white", mec="black", ls="none")
    fig.legend(
        [*handles, start],
        [*labels, "strength 0 (clean)"],
        loc="outside right center",
        title="hidden layer",
        fontsize="small",
    )
    seeds = summary["seed"].nunique()
    what = f"Accuracy vs spectral exponent alpha under attack (mean of {seeds} seeds)"
    fig.suptitle(titled(what, source_label(summary)))
    return fig
