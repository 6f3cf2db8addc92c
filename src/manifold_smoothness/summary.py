"""From eigenvalues to the summary table: alpha with its jackknife error, fit quality, dimension,
accuracy and probe accuracy per layer, for every condition and snapshot of one model.

The spectrum files keep the eigenvalues (which do not depend on the fit window); alpha is fitted
here, so changing the window reruns only this step and what follows.

One fit window per (seed, layer): its first rank and last rank come from the config's
`fit_window`, the last capped at half the valid eigenvalues of the layer's CLEAN spectrum of the
final model, and the same window is used for every condition and snapshot of that layer. An
attack that revives or kills units then moves alpha, not the window; a condition whose valid
ranks end inside the window is flagged (`window_inside` False, alpha NaN), not refitted on a
shrunk window. The per-condition capped window of earlier versions is kept as `alpha_adaptive`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from manifold_smoothness.spectrum import (
    SpectrumError,
    capped_window,
    fit_power_law,
    jackknife_se,
    participation_ratio,
    valid_rank_count,
)
from manifold_smoothness.vocabulary import CLEAN, LEARNING_RULES, rule_of, total_epochs

SPECTRUM_SCHEMA = pa.schema(
    [
        ("layer", pa.int32()),
        ("block", pa.int16()),  # 0: every image; b >= 1: every image but those of block b
        ("rank", pa.int32()),
        ("eigenvalue", pa.float64()),
        ("accuracy", pa.float64()),
        ("width", pa.int32()),
        ("n_samples", pa.int32()),
    ]
)
SUMMARY_COLUMNS = [
    "dataset", "model", "rule", "train_subset", "label_noise", "seed", "attack", "method",
    "target", "strength", "epoch", "final", "layer", "width", "n_samples", "accuracy",
    "probe_accuracy", "alpha", "alpha_se", "alpha_intercept", "alpha_r2", "first_rank",
    "last_rank", "n_valid", "window_inside", "alpha_adaptive", "alpha_short", "alpha_short_r2",
    "dimension", "input_dimension", "bound_margin", "perturbation_l2", "perturbation_linf",
]  # fmt: skip
SUMMARY_TYPES = {
    "dataset": pa.string(),
    "model": pa.string(),
    "rule": pa.string(),
    "attack": pa.string(),
    "method": pa.string(),
    "target": pa.string(),
    "train_subset": pa.int32(),
    "seed": pa.int32(),
    "final": pa.bool_(),
    "layer": pa.int32(),
    "width": pa.int32(),
    "n_samples": pa.int32(),
    "first_rank": pa.int32(),
    "last_rank": pa.int32(),
    "n_valid": pa.int32(),
    "window_inside": pa.bool_(),
}


def spectrum_table(
    eigenvalues: Sequence[np.ndarray],
    accuracies: Sequence[float],
    n_samples: int,
    leave_one_out: Sequence[np.ndarray | None] | None = None,
) -> pa.Table:
    """Long table (layer, block, rank, eigenvalue) + the layer's accuracy, width and sample
    count. eigenvalues[l] is the descending (N_l,) spectrum of layer l + 1 (block 0);
    leave_one_out[l], if given, is its (B, N_l) delete-one-block spectra (blocks 1..B)."""
    parts = []
    loo = leave_one_out or [None] * len(eigenvalues)
    for layer, (values, accuracy, blocks) in enumerate(
        zip(eigenvalues, accuracies, loo, strict=True), 1
    ):
        stack = np.asarray(values, np.float64)[None, :]
        if blocks is not None:
            stack = np.vstack([stack, np.asarray(blocks, np.float64)])
        n_blocks, width = stack.shape
        parts.append(
            pd.DataFrame(
                {
                    "layer": np.full(stack.size, layer, np.int32),
                    "block": np.repeat(np.arange(n_blocks, dtype=np.int16), width),
                    "rank": np.tile(np.arange(1, width + 1, dtype=np.int32), n_blocks),
                    "eigenvalue": stack.reshape(-1),
                    "accuracy": np.full(stack.size, accuracy, np.float64),
                    "width": np.full(stack.size, width, np.int32),
                    "n_samples": np.full(stack.size, n_samples, np.int32),
                }
            )
        )
    return pa.Table.from_pandas(
        pd.concat(parts, ignore_index=True), SPECTRUM_SCHEMA, preserve_index=False
    )


def layer_spectra(spectrum: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """layer -> (full spectrum (N,), delete-one-block spectra (B, N), B = 0 without blocks)
    of one spectrum file's table (files without a `block` column have no jackknife)."""
    if "block" not in spectrum.columns:
        spectrum = spectrum.assign(block=0)
    out = {}
    for layer, group in spectrum.groupby("layer", sort=True):
        ordered = group.sort_values(["block", "rank"])
        width = int((ordered["block"] == 0).sum())
        values = ordered["eigenvalue"].to_numpy().reshape(-1, width)
        out[int(layer)] = (values[0], values[1:])
    return out


def fixed_windows(
    clean: Mapping[int, Mapping[int, np.ndarray]], fit_window: Sequence[int], floor: float
) -> dict[tuple[int, int], tuple[int, int]]:
    """(seed, layer) -> the rank window of that layer, from its clean final spectrum:
    `fit_window` with the last rank capped at half of the valid eigenvalues; None for a layer
    whose valid eigenvalues leave too few ranks (a collapsed layer, e.g. under a spectral
    penalty: its rows are flagged, alpha NaN, rather than failing the whole summary)."""
    windows = {}
    for seed, layers in clean.items():
        for layer, values in layers.items():
            n_valid = valid_rank_count(values, floor)
            try:
                windows[(seed, layer)] = capped_window(tuple(fit_window), n_valid)
            except SpectrumError:
                windows[(seed, layer)] = None
    return windows


def _fit_alpha(values: np.ndarray, window: tuple[int, int], floor: float) -> float:
    """alpha on exactly `window`; NaN where the valid eigenvalues end inside it."""
    if valid_rank_count(values, floor) < window[1]:
        return float("nan")
    return fit_power_law(values, window, floor=floor, cap=False).alpha


def layer_rows(
    spectrum: pd.DataFrame,
    meta: Mapping[str, str],
    windows: Mapping[tuple[int, int], tuple[int, int] | None],
    short_window: Sequence[int],
    fit_window: Sequence[int],
    floor: float,
) -> list[dict]:
    """One summary row per layer of one spectrum file (`meta`: its file metadata)."""
    seed = int(meta["seed"])
    norms = json.loads(meta.get("perturbation", "[]"))
    dims = json.loads(meta.get("input_dimension", "[]"))
    rows = []
    for layer, (values, blocks) in layer_spectra(spectrum).items():
        window = windows[(seed, layer)]
        n_valid = valid_rank_count(values, floor)
        inside = window is not None and n_valid >= window[1]
        window = window or tuple(fit_window)  # a collapsed layer: the window asked for
        fit = fit_power_law(values, window, floor=floor, cap=False) if inside else None
        loo = [_fit_alpha(b, window, floor) for b in blocks] if inside else []
        finite = [a for a in loo if np.isfinite(a)]
        alpha_se = (
            jackknife_se(np.array(loo)) if len(loo) >= 2 and len(finite) == len(loo) else np.nan
        )
        try:
            adaptive = fit_power_law(values, tuple(fit_window), floor=floor).alpha
            short = fit_power_law(values, tuple(short_window), floor=floor)
        except SpectrumError:
            adaptive, short = np.nan, None
        group = spectrum[spectrum["layer"] == layer]
        norm = norms[layer - 1] if len(norms) >= layer else {}
        d = float(dims[layer - 1]) if len(dims) >= layer and dims[layer - 1] is not None else np.nan
        alpha = fit.alpha if fit else np.nan
        rows.append(
            {
                "seed": seed,
                "layer": int(layer),
                "width": int(group["width"].iloc[0]),
                "n_samples": int(group["n_samples"].iloc[0]),
                "accuracy": float(group["accuracy"].iloc[0]),
                "alpha": alpha,
                "alpha_se": alpha_se,
                "alpha_intercept": fit.intercept if fit else np.nan,
                "alpha_r2": fit.r2 if fit else np.nan,
                "first_rank": window[0],
                "last_rank": window[1],
                "n_valid": n_valid,
                "window_inside": inside,
                "alpha_adaptive": adaptive,
                "alpha_short": short.alpha if short else np.nan,
                "alpha_short_r2": short.r2 if short else np.nan,
                # a dead layer (every unit silent) has no dimension; its alpha is flagged above
                "dimension": participation_ratio(values) if n_valid else np.nan,
                "input_dimension": d,
                "bound_margin": alpha - (1.0 + 2.0 / d) if np.isfinite(d) and d > 0 else np.nan,
                "perturbation_l2": float(norm.get("perturbation_l2", 0.0)),
                "perturbation_linf": float(norm.get("perturbation_linf", 0.0)),
            }
        )
    return rows


def _attack_columns(attack: str, attacks: Mapping[str, Mapping]) -> dict[str, str]:
    if attack == CLEAN:
        return {"method": CLEAN, "target": "output"}
    entry = attacks[attack]
    return {"method": entry["method"], "target": entry.get("target", "output")}


def summarize(
    spectra: Iterable[tuple[pd.DataFrame, Mapping[str, str]]],
    snapshot_spectra: Iterable[tuple[pd.DataFrame, Mapping[str, str]]],
    probes: Iterable[tuple[pd.DataFrame, Mapping[str, str]]],
    model: Mapping,
    fit_window: Sequence[int],
    short_window: Sequence[int],
    floor: float,
    attacks: Mapping[str, Mapping],
) -> pd.DataFrame:
    """The summary table of one model, one row per seed x condition x snapshot x layer.

    `spectra`: the final model's conditions (clean and attacked); `snapshot_spectra`: the
    clean test images at every snapshot (metadata `epoch`); `probes`: probe tables of the final
    model and the snapshots (metadata `epoch`, 'final' for the final model); `model`: the
    model's config entry (its training rule, subset, label noise and epochs); `attacks`: the
    config entry (method, target, strengths) of every attack swept on the model.

    The clean condition is computed once; it also appears as strength 0 of every attack whose
    grid holds 0, so that each attack's sweep is complete in the table."""
    spectra, snapshot_spectra = list(spectra), list(snapshot_spectra)
    clean = {}
    for spectrum, meta in spectra:
        if meta["attack"] == CLEAN:
            clean[int(meta["seed"])] = {k: v[0] for k, v in layer_spectra(spectrum).items()}
    windows = fixed_windows(clean, fit_window, floor)
    training = model["training"]
    n_layers = len(model["hidden"])
    final_epoch = float(total_epochs(model))
    rows = []
    for spectrum, meta in spectra:
        for row in layer_rows(spectrum, meta, windows, short_window, fit_window, floor):
            rows.append(
                {
                    **row,
                    "attack": meta["attack"],
                    **_attack_columns(meta["attack"], attacks),
                    "strength": float(meta["strength"]),
                    "epoch": final_epoch,
                    "final": True,
                }
            )
    for spectrum, meta in snapshot_spectra:
        for row in layer_rows(spectrum, meta, windows, short_window, fit_window, floor):
            rows.append(
                {
                    **row,
                    "attack": CLEAN,
                    **_attack_columns(CLEAN, attacks),
                    "strength": 0.0,
                    "epoch": float(meta["epoch"]),
                    "final": False,
                }
            )
    table = pd.DataFrame(rows)
    table["dataset"] = spectra[0][1]["dataset"]
    table["model"] = spectra[0][1]["model"]
    table["rule"] = rule_of(model)
    table["train_subset"] = int(training.get("train_subset") or 0)
    table["label_noise"] = float(training.get("label_noise", 0.0))
    if not LEARNING_RULES[rule_of(model)].readouts:  # the hidden layers' readouts are untrained
        table.loc[table["layer"] < n_layers, "accuracy"] = np.nan
    table = _join_probes(table, probes, final_epoch)
    copies = [
        table[(table["attack"] == CLEAN) & table["final"]].assign(
            attack=name, **_attack_columns(name, attacks)
        )
        for name, entry in attacks.items()
        if 0 in entry["strengths"]
    ]
    table = pd.concat([table, *copies], ignore_index=True)
    table.loc[table["attack"] != CLEAN, "probe_accuracy"] = np.nan
    return table.sort_values(["attack", "strength", "epoch", "seed", "layer"], ignore_index=True)[
        SUMMARY_COLUMNS
    ]


def _join_probes(
    table: pd.DataFrame, probes: Iterable[tuple[pd.DataFrame, Mapping[str, str]]], final: float
) -> pd.DataFrame:
    """probe_accuracy of every clean row, from the probe tables (NaN where none was fitted)."""
    parts = []
    for frame, meta in probes:
        epoch = final if meta["epoch"] == "final" else float(meta["epoch"])
        parts.append(frame[["layer", "probe_accuracy"]].assign(seed=int(meta["seed"]), epoch=epoch))
    if not parts:
        return table.assign(probe_accuracy=np.nan)
    probe = pd.concat(parts, ignore_index=True)
    merged = table.merge(probe, on=["seed", "epoch", "layer"], how="left")
    merged.loc[merged["attack"] != CLEAN, "probe_accuracy"] = np.nan
    return merged


def summary_table(frame: pd.DataFrame) -> pa.Table:
    """The summary as an Arrow table with fixed column types (float64 unless listed)."""
    schema = pa.schema([(c, SUMMARY_TYPES.get(c, pa.float64())) for c in SUMMARY_COLUMNS])
    return pa.Table.from_pandas(frame[SUMMARY_COLUMNS], schema, preserve_index=False)
