"""Shared pieces of every figure: input checks, layer colours, seed statistics, titles, saving.

Figures are built on `matplotlib.figure.Figure` directly rather than through pyplot, so no
GUI backend is ever selected (rendering goes through Agg) and no global figure registry
keeps them alive; `save_figure` writes the PDF and PNG and releases the figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from manifold_smoothness.study import FIGURES

# Figure name -> caption file (reStructuredText, in rules/captions/) used by the Snakemake report.
CAPTIONS: dict[str, str] = {name: f"{name}.rst" for name in FIGURES}

# Human-readable attack names and the meaning of their strength parameter (axis labels), one
# entry per attack of study.ATTACKS (tests check that none is missing).
ATTACK_NAMES: dict[str, str] = {"gaussian": "Gaussian noise", "fgsm": "FGSM"}
STRENGTH_LABELS: dict[str, str] = {
    "gaussian": r"noise std $\sigma$",
    "fgsm": r"FGSM step $\epsilon$",
}
STRENGTH_SYMBOLS: dict[str, str] = {"gaussian": r"$\sigma$", "fgsm": r"$\epsilon$"}

# Axis labels of the per-layer quantities of the summary table.
METRIC_LABELS: dict[str, str] = {
    "accuracy": "test accuracy (fraction correct)",
    "alpha": r"power-law exponent $\alpha$",
    "dimension": "participation ratio D",
}
SUMMARY_METRICS: tuple[str, ...] = ("accuracy", "alpha", "dimension")

BAND_ALPHA = 0.2  # opacity of the min-max bands over seeds
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


def check_frame(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Fail early, naming the frame and the problem, if `frame` cannot feed a figure."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MissingColumnsError(f"{name} is missing columns {missing}")
    if frame.empty:
        raise EmptyFrameError(f"{name} has no rows")


def attack_rows(summary: pd.DataFrame, attack: str) -> pd.DataFrame:
    """Rows of `summary` for `attack`; raises UnknownAttackError listing what is there."""
    rows = summary[summary["attack"] == attack]
    if rows.empty:
        present = sorted(summary["attack"].unique())
        raise UnknownAttackError(f"attack {attack!r} not in the summary; it has {present}")
    return rows


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
    """Mean, min and max over seeds of each column in `values`, per group of `by`.

    Returns a flat frame with the `by` columns and `<value>_mean`, `<value>_min`,
    `<value>_max`, sorted by `by` (so lines run in order of the x variable).
    """
    stats = frame.groupby(list(by), sort=True)[list(values)].agg(["mean", "min", "max"])
    stats.columns = [f"{value}_{stat}" for value, stat in stats.columns]
    return stats.reset_index()


def plot_band(
    ax: Axes, stats: pd.DataFrame, x: str, value: str, color: object, label: str | None
) -> None:
    """The seed mean of `value` against `x` as a line, with its min-max over seeds as a band."""
    ax.fill_between(
        stats[x], stats[f"{value}_min"], stats[f"{value}_max"], color=color, alpha=BAND_ALPHA, lw=0
    )
    ax.plot(stats[x], stats[f"{value}_mean"], color=color, label=label, marker=".", lw=1.5)


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
