"""Shared pieces of every figure: input checks, layer colours, seed statistics, titles, saving.

Figures are built on `matplotlib.figure.Figure` directly rather than through pyplot, so no
GUI backend is ever selected (rendering goes through Agg) and no global figure registry
keeps them alive; `save_figure` writes the PDF and PNG and releases the figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from manifold_smoothness.vocabulary import ATTACK_METHODS


@dataclass(frozen=True)
class MethodLabels:
    """How figures name an attack method and the meaning of its strength."""

    title: str  # 'Gaussian noise'
    strength: str  # axis label of the strength
    symbol: str  # the strength's symbol, for annotations


# One entry per method of vocabulary.ATTACK_METHODS; figures read the method of an attack from
# the summary, so configured attack names need no entry here.
METHOD_LABELS: dict[str, MethodLabels] = {
    name: MethodLabels(method.title, method.strength, method.symbol)
    for name, method in ATTACK_METHODS.items()
}
LAYER_TARGET_SUFFIX = " (per-layer target)"

# Axis labels of the per-layer quantities of the summary table.
METRIC_LABELS: dict[str, str] = {
    "accuracy": "test accuracy (fraction correct)",
    "alpha": r"power-law exponent $\alpha$",
    "dimension": "participation ratio D",
}
SUMMARY_METRICS: tuple[str, ...] = ("accuracy", "alpha", "dimension")
# The two accuracies of a layer: its own fixed readout (drawn solid / filled) and a linear
# probe trained on its activations (dashed / open), the probe being defined for every layer.
PROBE = "probe_accuracy"
ACCURACY_NAMES: dict[str, str] = {"accuracy": "own readout", PROBE: "linear probe"}

BAND_ALPHA = 0.2  # opacity of the seed bands
PANEL_SIZE = (4.0, 3.3)  # inches per panel (width, height)


class FigureDataError(ValueError):
    """Base class: the data handed to a figure function cannot be plotted."""


class MissingColumnsError(FigureDataError):
    """A frame lacks columns the figure needs."""


class EmptyFrameError(FigureDataError):
    """A frame (or the part of it the figure selects) has no rows."""


class UnknownAttackError(FigureDataError):
    """The requested attack has no rows in the summary (or is not an attack sweep)."""


class UnknownSeedError(FigureDataError):
    """The requested seed has no rows in the frame."""


class MissingFitError(FigureDataError):
    """The summary has no (or more than one) fit row for a seed and layer of the spectra."""


class MixedSourcesError(FigureDataError):
    """A figure of one model (or dataset) was handed rows of several."""


def check_frame(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Fail early, naming the frame and the problem, if `frame` cannot feed a figure."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MissingColumnsError(f"{name} is missing columns {missing}")
    if frame.empty:
        raise EmptyFrameError(f"{name} has no rows")


def final_rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of the final models; all rows if `frame` has no `final` column (tables from
    before training snapshots were summarised hold final models only)."""
    if "final" not in frame.columns:
        return frame
    rows = frame[frame["final"].fillna(False).astype(bool)]
    if rows.empty:
        raise EmptyFrameError(f"{name} has no rows of a final model (final is never True)")
    return rows


def is_final(frame: pd.DataFrame) -> pd.Series:
    """Boolean mask of the final-model rows (all True without a `final` column)."""
    if "final" not in frame.columns:
        return pd.Series(True, index=frame.index)
    return frame["final"].fillna(False).astype(bool)


def one_source(frame: pd.DataFrame, column: str, what: str) -> str | None:
    """The single value of `column` in `frame` (None without the column); a figure of one
    `what` raises MixedSourcesError if the frame holds several."""
    if column not in frame.columns:
        return None
    values = sorted(str(v) for v in frame[column].dropna().unique())
    if len(values) > 1:
        raise MixedSourcesError(
            f"the {what} figure draws one {column}, got {values}; select one {column}'s rows"
        )
    return values[0] if values else None


def attack_rows(summary: pd.DataFrame, attack: str) -> pd.DataFrame:
    """Rows of `summary` for `attack`; raises UnknownAttackError listing what is there."""
    rows = summary[summary["attack"] == attack]
    if rows.empty:
        present = sorted(summary["attack"].unique())
        raise UnknownAttackError(f"attack {attack!r} not in the summary; it has {present}")
    return rows


def attack_labels(rows: pd.DataFrame, attack: str) -> MethodLabels:
    """Title and strength labels of `attack`, from the `method` and `target` columns of its
    rows (the method's names; ' (per-layer target)' appended for target 'layer').

    Without a `method` column the attack name is taken as its method (old tables named the
    attacks after their methods); an unknown method is labelled with the attack name.
    """
    if "strength" in rows.columns and (rows["strength"] > 0).any():
        rows = rows[rows["strength"] > 0]  # strength 0 is a copy of the clean rows
    method = one_source(rows, "method", f"{attack!r} attack") or attack
    target = one_source(rows, "target", f"{attack!r} attack")
    known = METHOD_LABELS.get(method)
    labels = known or MethodLabels(attack, f"{attack} strength", "s")
    if target == "layer":
        labels = MethodLabels(labels.title + LAYER_TARGET_SUFFIX, labels.strength, labels.symbol)
    return labels


def n_layers_of(*frames: pd.DataFrame) -> int:
    """Number of hidden layers, taken as the largest 1-based layer index in the frames."""
    return int(max(frame["layer"].max() for frame in frames))


def layer_colors(n_layers: int) -> list[tuple[float, float, float, float]]:
    """One viridis colour per layer (index l-1 for layer l), shallow dark to deep light.

    Stops at 85% of the map so the deepest layer is not a hard-to-see yellow; every figure
    uses this, so a layer has the same colour everywhere.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be positive, got {n_layers}")
    cmap = colormaps["viridis"]
    return [tuple(cmap(x)) for x in np.linspace(0.0, 0.85, n_layers)]


def seed_stats(frame: pd.DataFrame, by: Sequence[str], values: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation, min and max over seeds of each column in `values`, per group
    of `by`; NaN values (e.g. the accuracy of a layer without a readout) are skipped.

    Returns a flat frame with the `by` columns and `<value>_mean`, `<value>_std`,
    `<value>_min`, `<value>_max`, sorted by `by` (so lines run in order of the x variable).
    The std of a single seed is 0 (no spread to show), not NaN.
    """
    stats = frame.groupby(list(by), sort=True)[list(values)].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{value}_{stat}" for value, stat in stats.columns]
    counts = frame.groupby(list(by), sort=True)[list(values)].count()
    for value in values:
        single = (counts[value] == 1).to_numpy()
        stats.loc[single, f"{value}_std"] = 0.0
    return stats.reset_index()


def band_limits(stats: pd.DataFrame, value: str, spread: str) -> tuple[pd.Series, pd.Series]:
    """Lower and upper edge of the seed band of `value`: 'range' (min to max over seeds) or
    'std' (mean -+ one standard deviation)."""
    if spread == "range":
        return stats[f"{value}_min"], stats[f"{value}_max"]
    if spread == "std":
        mean, std = stats[f"{value}_mean"], stats[f"{value}_std"]
        return mean - std, mean + std
    raise ValueError(f"spread must be 'range' or 'std', got {spread!r}")


def plot_band(
    ax: Axes,
    stats: pd.DataFrame,
    x: str,
    value: str,
    color: object,
    label: str | None,
    spread: str = "range",
    ls: str = "-",
) -> None:
    """The seed mean of `value` against `x` as a line, with its seed spread as a band
    (`spread`: 'range' = min-max, 'std' = mean -+ std; see band_limits)."""
    low, high = band_limits(stats, value, spread)
    ax.fill_between(stats[x], low, high, color=color, alpha=BAND_ALPHA, lw=0)
    ax.plot(stats[x], stats[f"{value}_mean"], color=color, label=label, marker=".", lw=1.5, ls=ls)


def plot_layer_bands(
    ax: Axes, frame: pd.DataFrame, x: str, value: str, n_layers: int, label: bool = True
) -> None:
    """One mean line with min-max seed band per layer of `value` against `x`."""
    colors = layer_colors(n_layers)
    stats = seed_stats(frame, ["layer", x], [value])
    for layer, rows in stats.groupby("layer", sort=True):
        name = f"layer {layer}" if label else None
        plot_band(ax, rows, x, value, colors[int(layer) - 1], name)


def source_label(frame: pd.DataFrame, dataset: str | None = None, model: str | None = None) -> str:
    """'dataset, model' for titles: explicit arguments win, else the frame's columns if present."""
    parts = []
    for given, column in ((dataset, "dataset"), (model, "model")):
        if given is None and column in frame.columns:
            given = "/".join(str(v) for v in sorted(frame[column].dropna().unique()))
        if given:
            parts.append(given)
    return ", ".join(parts)


def titled(what: str, source: str) -> str:
    """A figure title: what is shown, and on a second line the dataset and model it comes from
    (two short lines fit above a figure where one long line would overflow)."""
    return f"{what}\n{source}" if source else what


def new_figure(n_panels: int, n_rows: int = 1) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with `n_panels` axes in a row, sized per panel."""
    n_cols = int(np.ceil(n_panels / n_rows))
    width, height = PANEL_SIZE
    fig = Figure(figsize=(width * n_cols + 1.2, height * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def integer_xaxis(ax: Axes) -> None:
    """Only integer ticks on the x axis (layers, epochs)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def accuracy_style(value: str) -> dict[str, str]:
    """Line style and marker face of an accuracy column: solid and filled for the own readout,
    dashed and open for the probe (an empty face keyword leaves the line's colour)."""
    return {"ls": "--", "mfc": "white"} if value == PROBE else {"ls": "-"}


def accuracy_handles(color: object = "grey", marker: str = "o") -> list[Line2D]:
    """Legend entries telling the own-readout accuracy from the probe accuracy."""
    return [
        Line2D([], [], color=color, marker=marker, label=name, **accuracy_style(value))
        for value, name in ACCURACY_NAMES.items()
    ]


def layer_legend(fig: Figure, ax: Axes, title: str | None = "hidden layer") -> None:
    """One figure-level legend of the layer lines of `ax`, to the right of the panels."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right center", title=title, fontsize="small")


def save_figure(fig: Figure, pdf_path: str | Path, png_path: str | Path, dpi: int = 150) -> None:
    """Write `fig` as PDF (vector) and PNG (`dpi`), creating parent folders, then close it."""
    try:
        for path, fmt in ((Path(pdf_path), "pdf"), (Path(png_path), "png")):
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, format=fmt, dpi=dpi)
    finally:
        from matplotlib import pyplot as plt  # only to release figures pyplot may track

        plt.close(fig)
