"""Generalisation against smoothness across a dataset's models: clean test accuracy against
the spectral exponent alpha for every model, seed, layer and training snapshot, so that the
learning rules (local errors, greedy layer-wise, backprop) and the controls that hurt
generalisation (a reduced training set, noisy labels) can be compared on one scatter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from manifold_smoothness.figures.common import (
    ACCURACY_NAMES,
    METRIC_LABELS,
    PROBE,
    FigureDataError,
    attack_rows,
    check_frame,
    is_final,
    new_figure,
    one_source,
    titled,
)
from manifold_smoothness.vocabulary import CLEAN, LEARNING_RULES

GENERALIZATION_COLUMNS = (
    "dataset",
    "model",
    "rule",
    "train_subset",
    "label_noise",
    "seed",
    "attack",
    "layer",
    *ACCURACY_NAMES,
    "alpha",
)
# A fixed colour per learning rule (vocabulary.LEARNING_RULES), the same in every figure.
RULE_COLORS: dict[str, str] = {name: rule.color for name, rule in LEARNING_RULES.items()}
# Marker shape per kind of model: the standard one and the controls that degrade generalisation.
CONTROL_MARKERS: dict[str, str] = {
    "full training set": "o",
    "reduced training set": "^",
    "noisy labels": "s",
    "reduced set + noisy labels": "D",
}
FINAL_SIZE, SNAPSHOT_SIZE = 64.0, 18.0  # marker areas (points^2): final models stand out
SNAPSHOT_ALPHA = 0.55
PANELS_PER_ROW = 4


class UnknownRuleError(FigureDataError):
    """The summary names a learning rule that has no colour in RULE_COLORS."""


def control_kind(frame: pd.DataFrame) -> pd.Series:
    """Kind of each row's model (a key of CONTROL_MARKERS): train_subset > 0 is a reduced
    training set, label_noise > 0 noisy labels (0 or missing: the standard model)."""
    subset = frame["train_subset"].fillna(0).to_numpy() > 0
    noise = frame["label_noise"].fillna(0).to_numpy() > 0
    standard, reduced, noisy, both = CONTROL_MARKERS
    kinds = np.select([subset & noise, subset, noise], [both, reduced, noisy], standard)
    return pd.Series(kinds, index=frame.index)


def check_rules(frame: pd.DataFrame) -> None:
    """Every rule must have its colour, else the legend would not explain the points."""
    unknown = sorted(set(frame["rule"].dropna().astype(str)) - set(RULE_COLORS))
    if unknown or frame["rule"].isna().any():
        raise UnknownRuleError(
            f"rules {unknown or [None]} have no colour; known rules are {list(RULE_COLORS)} "
            "(add the rule to vocabulary.LEARNING_RULES)"
        )


def scatter_group(ax: Axes, rows: pd.DataFrame, value: str, rule: str, kind: str, final: bool):
    """One scatter of `value` against alpha: filled markers for the own readout, open for the
    probe, large with a black edge for final models; rows without either value are skipped."""
    rows = rows[rows["alpha"].notna() & rows[value].notna()]
    if rows.empty:
        return
    color = RULE_COLORS[rule]
    probe = value == PROBE
    ax.scatter(
        rows["alpha"],
        rows[value],
        s=FINAL_SIZE if final else SNAPSHOT_SIZE,
        marker=CONTROL_MARKERS[kind],
        facecolors="none" if probe else color,
        edgecolors=color if probe or not final else "black",
        linewidths=1.3 if final else 0.8,
        alpha=1.0 if final else SNAPSHOT_ALPHA,
        zorder=3 if final else 2,
    )


def plot_layer_panel(ax: Axes, rows: pd.DataFrame) -> None:
    """Every (model, seed, snapshot) of one layer: snapshots first, final models on top."""
    groups = rows.groupby(["final", "rule", "kind"], sort=True)
    for (final, rule, kind), group in groups:
        for value in ACCURACY_NAMES:
            scatter_group(ax, group, value, str(rule), str(kind), bool(final))


def generalization_legend(fig: Figure, rows: pd.DataFrame) -> None:
    """Legend of what is in the figure: rule colours, control shapes, readout filled vs probe
    open, final models large vs snapshots small."""

    def marker(label: str, **style) -> Line2D:
        style = {"marker": "o", "color": "grey", "ms": 7, **style}
        return Line2D([], [], ls="none", label=label, **style)

    rules = [r for r in RULE_COLORS if r in set(rows["rule"])]
    kinds = [k for k in CONTROL_MARKERS if k in set(rows["kind"])]
    handles = [marker(f"{rule} training", color=RULE_COLORS[rule]) for rule in rules]
    handles += [marker(kind, marker=CONTROL_MARKERS[kind]) for kind in kinds]
    handles += [
        marker("own readout (filled)"),
        marker("linear probe (open)", mfc="none"),
        marker("final model (large)", mec="black", ms=9),
        marker("training snapshot (small)", ms=4.5, alpha=SNAPSHOT_ALPHA),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize="small")


def plot_generalization(summary: pd.DataFrame) -> Figure:
    """Clean test accuracy against alpha for a DATASET: one panel per hidden layer, one point
    per model, seed, layer and snapshot (every epoch, incl. the final model) and accuracy.

    Colour: learning rule; shape: standard model or control (train_subset > 0, label_noise
    > 0); filled: own readout, open: linear probe; large with black edge: final model.
    `summary` is the concatenated summaries of the dataset's models; rows with an attack
    other than 'clean' are ignored.
    """
    check_frame(summary, GENERALIZATION_COLUMNS, "summary")
    dataset = one_source(summary, "dataset", "generalization")
    clean = attack_rows(summary, CLEAN)
    check_rules(clean)
    clean = clean.assign(final=is_final(clean), kind=control_kind(clean))
    layers = sorted(int(layer) for layer in clean["layer"].unique())
    n_rows = int(np.ceil(len(layers) / PANELS_PER_ROW))
    fig, axes = new_figure(len(layers), n_rows=n_rows)
    for ax, layer in zip(axes, layers, strict=True):
        plot_layer_panel(ax, clean[clean["layer"] == layer])
        ax.set(
            xlabel=METRIC_LABELS["alpha"],
            ylabel=METRIC_LABELS["accuracy"],
            title=f"hidden layer {layer}",
        )
        ax.grid(alpha=0.3)
    generalization_legend(fig, clean)
    n_models, n_seeds = clean["model"].nunique(), clean["seed"].nunique()
    what = (
        "Clean test accuracy vs spectral exponent alpha across models and training "
        f"({n_models} models, {n_seeds} seeds, all snapshots)"
    )
    fig.suptitle(titled(what, f"dataset: {dataset}"))
    return fig
