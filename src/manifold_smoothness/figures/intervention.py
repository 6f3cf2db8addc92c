"""The spectral intervention: robustness against the measured alpha, and the distributions of
the minimum adversarial distance. Left: each network-seed's median minimum L-inf distance
relative to the baseline's against its alpha (mean over hidden layers), coloured by penalty
weight, one marker per target exponent, open where the network costs clean accuracy and is left
out of the verdict; the verdict's slope through the baseline's mean. Right: the empirical
distribution of every network's per-image distances (seeds pooled; censored images off the
right end)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from manifold_smoothness.figures.common import FigureDataError, check_frame, new_figure

NETWORK_COLUMNS = ("model", "seed", "weight", "exponent", "alpha", "median_distance")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _styles(networks: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Colour (by weight: grey for 0, then plasma) and marker (by exponent) of each model."""
    weights = sorted(w for w in networks["weight"].unique() if w > 0)
    exponents = sorted(e for e in networks["exponent"].dropna().unique())
    cmap = colormaps["plasma"]
    styles = {}
    for model, rows in networks.groupby("model", sort=False):
        weight, exponent = rows["weight"].iloc[0], rows["exponent"].iloc[0]
        if weight > 0:
            color = cmap(0.1 + 0.75 * weights.index(weight) / max(len(weights) - 1, 1))
            marker = MARKERS[exponents.index(exponent) % len(MARKERS)]
            label = f"w {weight:g}, a {exponent:g}"
        else:
            color, marker, label = "black", "*", "baseline"
        styles[model] = {"color": color, "marker": marker, "label": label}
    return styles


def plot_intervention(
    networks: pd.DataFrame, distances: pd.DataFrame, result: Mapping[str, Any], source: str = ""
) -> Figure:
    """Figure of the intervention's network table (intervention.network_table), its per-image
    distances (model, distance) and its verdict (intervention.decide)."""
    check_frame(networks, NETWORK_COLUMNS, "intervention networks")
    check_frame(distances, ("model", "distance"), "minimum distances")
    if networks.empty:
        raise FigureDataError("the intervention has no network to draw")
    baseline = result["baseline"]["model"]
    reference = networks.loc[networks["model"] == baseline, "median_distance"].mean()
    relative = networks["median_distance"] / reference
    kept = set(result.get("kept") or [])
    styles = _styles(networks)
    fig, (left, right) = new_figure(2)
    for model, rows in networks.groupby("model", sort=False):
        style = styles[model]
        face = style["color"] if model in kept else "white"
        left.scatter(
            rows["alpha"],
            relative[rows.index],
            marker=style["marker"],
            facecolors=face,
            edgecolors=style["color"],
            s=60 if style["marker"] == "*" else 36,
            label=style["label"] + ("" if model in kept else " (costs accuracy)"),
        )
    if result.get("slope") is not None:
        alpha0 = networks.loc[networks["model"] == baseline, "alpha"].mean()
        span = np.linspace(networks["alpha"].min(), networks["alpha"].max(), 2)
        left.plot(span, 1 + result["slope"] * (span - alpha0), "--", color="grey", lw=1)
    left.set_xlabel(r"measured $\alpha$ (mean over hidden layers)")
    left.set_ylabel("median minimum distance / baseline's")
    left.set_title(result["verdict"], fontsize=9)
    left.legend(fontsize=7)
    for model in networks["model"].unique():
        values = np.sort(distances.loc[distances["model"] == model, "distance"].to_numpy())
        if len(values) == 0:
            continue
        finite = values[np.isfinite(values)]
        fraction = np.arange(1, len(finite) + 1) / len(values)
        right.step(finite, fraction, where="post", color=styles[model]["color"], lw=1.2)
    right.set_xlabel(r"minimum adversarial distance ($L_\infty$)")
    right.set_ylabel("fraction of images flipped")
    right.set_ylim(0, 1)
    if source:
        fig.suptitle(source, fontsize=9)
    return fig
