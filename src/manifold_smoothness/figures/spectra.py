"""Eigen-spectra of the layers' activation covariance, with their fitted power laws.

Each spectrum is divided by its sum (the total variance), so layers of different activation
scale share one axis and the slopes, which alone carry alpha, are easy to compare. The fitted
line exp(intercept) * n^-alpha is divided by the same sum, so it stays on its spectrum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from manifold_smoothness.figures.common import (
    EmptyFrameError,
    MissingFitError,
    UnknownSeedError,
    check_frame,
    final_rows,
    layer_colors,
    n_layers_of,
    new_figure,
    source_label,
    titled,
)
from manifold_smoothness.vocabulary import CLEAN

SPECTRA_COLUMNS = ("seed", "layer", "rank", "eigenvalue")
FIT_COLUMNS = ("seed", "layer", "alpha", "alpha_intercept", "first_rank", "last_rank", "dimension")
FAINT_ALPHA = 0.3  # opacity of the spectra of the other seeds


DEFAULT_FLOOR = 1e-12  # the default of analysis.eigenvalue_floor


def clean_only(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The clean-input rows of the final model in `frame`: all rows of a frame without an
    `attack` column (and all models of one without a `final` column)."""
    frame = final_rows(frame, name)
    if "attack" not in frame.columns:
        return frame
    rows = frame[frame["attack"] == CLEAN]
    if rows.empty:
        raise EmptyFrameError(f"{name} has no rows with attack {CLEAN!r}")
    return rows


def fit_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The clean fit rows indexed by (seed, layer); duplicates are an error, not a guess."""
    fits = clean_only(summary, "summary").set_index(["seed", "layer"])
    duplicated = fits.index[fits.index.duplicated()].unique().tolist()
    if duplicated:
        raise MissingFitError(f"summary has several clean rows for (seed, layer) {duplicated}")
    return fits


def choose_seed(spectra: pd.DataFrame, seed: int | None) -> int:
    """The seed to draw bold: `seed` if given (it must be present), else the smallest."""
    seeds = sorted(int(s) for s in spectra["seed"].unique())
    if seed is None:
        return seeds[0]
    if seed not in seeds:
        raise UnknownSeedError(f"seed {seed} not in the spectra; they have seeds {seeds}")
    return seed


def normalised_spectrum(
    group: pd.DataFrame, floor: float = DEFAULT_FLOOR
) -> tuple[np.ndarray, np.ndarray, float]:
    """(ranks, eigenvalues / total, total) of the eigenvalues above floor * max of one spectrum.

    Eigenvalues at or below the relative floor are numerical zeros of a rank-deficient
    covariance (dead or duplicate units; float64 rounding leaves values down to 1e-140):
    they carry no variance, are not used by the alpha fit, and would swamp the log axis.
    """
    top = float(group["eigenvalue"].max())
    positive = group[group["eigenvalue"] > max(floor * top, 0.0)].sort_values("rank")
    if positive.empty:
        seed, layer = group["seed"].iloc[0], group["layer"].iloc[0]
        raise EmptyFrameError(f"spectrum of seed {seed}, layer {layer} has no positive eigenvalue")
    values = positive["eigenvalue"].to_numpy(dtype=np.float64)
    total = float(values.sum())
    return positive["rank"].to_numpy(), values / total, total


def fit_line(fit: pd.Series, total: float) -> tuple[np.ndarray, np.ndarray]:
    """The fitted power law over exactly [first_rank, last_rank], divided by `total`.

    A power law is straight on log-log axes, so the two window ends draw it exactly.
    """
    ranks = np.array([fit["first_rank"], fit["last_rank"]], dtype=np.float64)
    log_scale = float(fit["alpha_intercept"]) - np.log(total)
    return ranks, np.exp(log_scale - float(fit["alpha"]) * np.log(ranks))


def fit_label(layer: int, fit: pd.Series) -> str:
    """Legend entry of a layer: its exponent and participation-ratio dimension."""
    return f"layer {layer}: alpha={fit['alpha']:.2f}, D={fit['dimension']:.1f}"


def lookup_fit(fits: pd.DataFrame, seed: int, layer: int) -> pd.Series:
    """The clean summary row of (seed, layer); MissingFitError names the pair if absent."""
    try:
        return fits.loc[(seed, layer)]
    except KeyError:
        raise MissingFitError(f"summary has no clean fit for seed {seed}, layer {layer}") from None


def draw_reference(ax: Axes, max_rank: float, anchor: float) -> None:
    """A grey dotted n^-1 line from rank 1 (at height `anchor`) to `max_rank`, for scale."""
    ranks = np.array([1.0, max_rank])
    ax.plot(
        ranks,
        anchor / ranks,
        color="grey",
        ls=":",
        lw=1.2,
        label="n^-1 (reference slope)",
        zorder=2,
    )


def plot_spectra(
    spectra: pd.DataFrame,
    summary: pd.DataFrame,
    seed: int | None = None,
    floor: float = DEFAULT_FLOOR,
) -> Figure:
    """Log-log eigen-spectrum of every layer on clean inputs, with fitted power laws.

    `seed` (default: the smallest) is drawn bold with its fit (dashed, over the fit window)
    and its alpha and D in the legend; the other seeds are drawn faint, to show the spread.
    Rows with an `attack` other than 'clean' or `final` False (training snapshots) are
    ignored in both frames. Eigenvalues at or below `floor` times the largest are not drawn
    (the fit's relative floor); a layer with none above it (dead) is named in the title.
    """
    check_frame(spectra, SPECTRA_COLUMNS, "spectra")
    check_frame(summary, FIT_COLUMNS, "summary")
    spectra = clean_only(spectra, "spectra")
    fits = fit_table(summary)
    chosen = choose_seed(spectra, seed)
    colors = layer_colors(n_layers_of(spectra))
    fig, (ax,) = new_figure(1)
    fig.set_size_inches(6.4, 4.8)
    anchors, dead = [], []
    groups = spectra.groupby(["seed", "layer"], sort=True)
    for (s, layer), group in groups:
        color = colors[int(layer) - 1]
        try:
            ranks, values, total = normalised_spectrum(group, floor)
        except EmptyFrameError:  # every unit silent (e.g. under a spectral penalty)
            dead.append(f"seed {s} layer {layer}")
            continue
        if s != chosen:
            ax.plot(ranks, values, color=color, lw=0.8, alpha=FAINT_ALPHA, zorder=1)
            continue
        fit = lookup_fit(fits, int(s), int(layer))
        ax.plot(ranks, values, color=color, lw=2.0, label=fit_label(int(layer), fit), zorder=3)
        if np.isfinite([fit["alpha"], fit["alpha_intercept"]]).all():
            ax.plot(*fit_line(fit, total), color="black", ls="--", lw=1.0, zorder=4)
        anchors.append(values[0])
    if len(dead) == groups.ngroups:
        raise EmptyFrameError(f"no layer of any seed has a positive eigenvalue ({len(dead)} dead)")
    draw_reference(ax, float(spectra["rank"].max()), float(np.median(anchors or [1.0])))
    if dead:
        ax.set_title(f"dead layers (no variance, not drawn): {', '.join(dead)}", fontsize=7)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="rank n (eigenvalues sorted in decreasing order)",
        ylabel=r"$\lambda_n \,/\, \Sigma_m \lambda_m$  (eigenvalue / total variance)",
    )
    ax.grid(alpha=0.3, which="major")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="black", ls="--", label="power-law fit, over its rank window")]
    if spectra["seed"].nunique() > 1:
        handles += [Line2D([], [], color="black", alpha=FAINT_ALPHA, label="other seeds")]
    ax.legend(handles=handles, loc="lower left", fontsize="small", title=f"seed {chosen}")
    what = "Eigen-spectra of hidden-layer activation covariance, clean test images"
    fig.suptitle(titled(what, source_label(summary)))
    return fig
