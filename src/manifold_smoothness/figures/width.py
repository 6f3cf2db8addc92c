"""The claims against width: one panel per claim, its per-layer statistic against the width of
the paper networks of a width sweep (width_sweep.claims_by_width), each width's verdict above
its point. Claim 1: mean Spearman rho between clean readout accuracy and alpha over training,
seed spread as bars, the config's min_rho dashed. Claims 2 and 3: relative reversal r of
alpha(strength), filled where the layer's curve is called non-monotonic, the config's
min_relative_reversal dashed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from manifold_smoothness.figures.common import (
    FigureDataError,
    check_frame,
    layer_colors,
    new_figure,
)
from manifold_smoothness.width_sweep import CLAIM_STATISTICS, WIDTH_COLUMNS

THRESHOLD_OF = {1: "min_rho", 2: "min_relative_reversal", 3: "min_relative_reversal"}
FILLED_CALLS = {"non-monotonic", "supported"}
SHORT_VERDICTS = {"PASS": "P", "FAIL": "F", "INCONCLUSIVE": "I"}


def plot_width(rows: pd.DataFrame, thresholds: Mapping[str, float], source: str = "") -> Figure:
    """The three claims' statistics against width from claims_by_width's rows."""
    check_frame(rows, WIDTH_COLUMNS, "width-sweep rows")
    layers = rows["layer"].dropna()
    if layers.empty:
        raise FigureDataError("no network of the width sweep could be checked; see the verdicts")
    widths = sorted(rows["width"].unique())
    colors = layer_colors(int(layers.max()))
    fig, axes = new_figure(len(CLAIM_STATISTICS))
    for ax, (claim, label) in zip(axes, CLAIM_STATISTICS.items(), strict=True):
        sub = rows[rows["claim"] == claim]
        for layer, curve in sub.dropna(subset=["layer"]).groupby("layer"):
            curve = curve.sort_values("width")
            color = colors[int(layer) - 1]
            ax.plot(curve["width"], curve["value"], "-", color=color, label=f"{int(layer)}")
            if curve["error"].notna().any():
                ax.errorbar(
                    curve["width"], curve["value"], yerr=curve["error"], fmt="none", color=color
                )
            for w, v, call in zip(curve["width"], curve["value"], curve["call"], strict=True):
                face = color if call in FILLED_CALLS else "white"
                ax.plot([w], [v], "o", color=color, mfc=face)
        ax.axhline(thresholds[THRESHOLD_OF[claim]], ls="--", color="grey", lw=1)
        verdicts = sub.drop_duplicates("width").set_index("width")["verdict"]
        ax.set_title(
            f"claim {claim}: "
            + " ".join(f"{int(w)}:{SHORT_VERDICTS.get(verdicts.get(w), '-')}" for w in widths),
            fontsize=9,
        )
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(widths) / 1.5, max(widths) * 1.5)  # also for a panel with no points
        ax.set_xticks(widths, [str(int(w)) for w in widths])
        ax.minorticks_off()
        ax.set_xlabel("units per hidden layer")
        ax.set_ylabel(label)
    axes[0].legend(title="hidden layer", fontsize=8)
    if source:
        fig.suptitle(source, fontsize=9)
    return fig
