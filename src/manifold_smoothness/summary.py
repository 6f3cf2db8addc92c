"""From eigenvalues to the summary table: alpha, fit quality, dimension and accuracy per layer.

The spectrum files keep the eigenvalues (which do not depend on the fit window); alpha is fitted
here, so changing the window reruns only this step and what follows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from manifold_smoothness.spectrum import fit_power_law, participation_ratio

SPECTRUM_SCHEMA = pa.schema(
    [
        ("layer", pa.int32()),
        ("rank", pa.int32()),
        ("eigenvalue", pa.float64()),
        ("accuracy", pa.float64()),
        ("width", pa.int32()),
        ("n_samples", pa.int32()),
    ]
)
SUMMARY_COLUMNS = [
    "dataset", "model", "seed", "attack", "strength", "layer", "width", "n_samples",
    "accuracy", "alpha", "alpha_intercept", "alpha_r2", "first_rank", "last_rank",
    "alpha_short", "alpha_short_r2", "dimension", "perturbation_l2", "perturbation_linf",
]  # fmt: skip


def spectrum_table(
    eigenvalues: Sequence[np.ndarray], accuracies: Sequence[float], n_samples: int
) -> pa.Table:
    """Long table (layer, rank, eigenvalue) + the layer's accuracy, width and sample count.
    eigenvalues[l] is the descending (N_l,) spectrum of layer l + 1."""
    parts = []
    for layer, (values, accuracy) in enumerate(zip(eigenvalues, accuracies, strict=True), 1):
        n = len(values)
        parts.append(
            pd.DataFrame(
                {
                    "layer": np.full(n, layer, np.int32),
                    "rank": np.arange(1, n + 1, dtype=np.int32),
                    "eigenvalue": np.asarray(values, np.float64),
                    "accuracy": np.full(n, accuracy, np.float64),
                    "width": np.full(n, n, np.int32),
                    "n_samples": np.full(n, n_samples, np.int32),
                }
            )
        )
    return pa.Table.from_pandas(
        pd.concat(parts, ignore_index=True), SPECTRUM_SCHEMA, preserve_index=False
    )


def layer_rows(
    spectrum: pd.DataFrame,
    meta: Mapping[str, str],
    fit_window: Sequence[int],
    short_window: Sequence[int],
    floor: float,
) -> list[dict]:
    """One summary row per layer of one spectrum file (`meta`: its file metadata)."""
    norms = json.loads(meta.get("perturbation", "[]"))
    rows = []
    for layer, group in spectrum.groupby("layer", sort=True):
        values = group.sort_values("rank")["eigenvalue"].to_numpy()
        fit = fit_power_law(values, tuple(fit_window), floor=floor)
        short = fit_power_law(values, tuple(short_window), floor=floor)
        norm = norms[layer - 1] if len(norms) >= layer else {}
        rows.append(
            {
                "dataset": meta["dataset"],
                "model": meta["model"],
                "seed": int(meta["seed"]),
                "attack": meta["attack"],
                "strength": float(meta["strength"]),
                "layer": int(layer),
                "width": int(group["width"].iloc[0]),
                "n_samples": int(group["n_samples"].iloc[0]),
                "accuracy": float(group["accuracy"].iloc[0]),
                "alpha": fit.alpha,
                "alpha_intercept": fit.intercept,
                "alpha_r2": fit.r2,
                "first_rank": fit.first_rank,
                "last_rank": fit.last_rank,
                "alpha_short": short.alpha,
                "alpha_short_r2": short.r2,
                "dimension": participation_ratio(values),
                "perturbation_l2": float(norm.get("perturbation_l2", 0.0)),
                "perturbation_linf": float(norm.get("perturbation_linf", 0.0)),
            }
        )
    return rows


def summarize(
    spectra: Iterable[tuple[pd.DataFrame, Mapping[str, str]]],
    fit_window: Sequence[int],
    short_window: Sequence[int],
    floor: float,
    attacks: Mapping[str, Sequence[float]],
) -> pd.DataFrame:
    """The summary table, one row per seed x attack x strength x layer.

    The clean condition is computed once; it also appears as strength 0 of every attack whose
    grid holds 0, so that each attack's sweep is complete in the table."""
    rows = []
    for spectrum, meta in spectra:
        rows += layer_rows(spectrum, meta, fit_window, short_window, floor)
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    clean = table[table["attack"] == "clean"]
    copies = [clean.assign(attack=name) for name, grid in attacks.items() if 0 in grid]
    table = pd.concat([table, *copies], ignore_index=True)
    return table.sort_values(["attack", "strength", "seed", "layer"], ignore_index=True)


SUMMARY_TYPES = {
    "dataset": pa.string(),
    "model": pa.string(),
    "attack": pa.string(),
    "seed": pa.int32(),
    "layer": pa.int32(),
    "width": pa.int32(),
    "n_samples": pa.int32(),
    "first_rank": pa.int32(),
    "last_rank": pa.int32(),
}


def summary_table(frame: pd.DataFrame) -> pa.Table:
    """The summary as an Arrow table with fixed column types (float64 unless listed)."""
    schema = pa.schema([(c, SUMMARY_TYPES.get(c, pa.float64())) for c in SUMMARY_COLUMNS])
    return pa.Table.from_pandas(frame[SUMMARY_COLUMNS], schema, preserve_index=False)
