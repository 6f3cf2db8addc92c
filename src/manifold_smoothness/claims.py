"""Verdicts on the three claims of Jiang, Zhou & Huang (2021) from one dataset's summary table.

``evaluate_claims`` checks the summary (every model of one dataset, one row per model x seed x
condition x snapshot x layer, see ``REQUIRED_COLUMNS``) and splits it into the tables the
statistics read (``claims_statistics``): the clean rows of every snapshot and final model
(claim 1), the attack sweeps of the final models with their strength-0 copy of the clean input
(claims 2 and 3), and the bound margins of every condition, the strength-0 copies counted once
(smoothness bound). Rows with a non-finite alpha are dropped and counted; a NaN accuracy is kept
(a layer without a trained readout still has a probe and an alpha). What each statistic is and
how it decides its verdict is defined once, in ``claims_spec``, and copied into the result.

The result is a JSON-serialisable dict (NaN and inf become None); ``claims_report`` renders it
as Markdown. The thresholds come from the config's ``claims`` section (``check_thresholds``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from manifold_smoothness.claims_sensitivity import claim_sensitivity
from manifold_smoothness.claims_spec import (
    ACCURACY_NEEDS_DECAY,
    FGSM_NON_MONOTONIC,
    GAUSSIAN_MONOTONIC,
    MIN_POINTS,
    MIN_STRENGTHS,
    THRESHOLD_KEYS,
    ClaimsError,
    ClaimSpec,
    Verdict,
    check_thresholds,
    contrast_text,
    fixed_parameters,
    is_paper_network,
    sensitivity_text,
    smoothness_text,
)
from manifold_smoothness.claims_statistics import (
    Outcome,
    accuracy_needs_decay,
    shape_claims,
    smoothness_margins,
)
from manifold_smoothness.vocabulary import CLEAN

__all__ = [
    "MIN_POINTS",
    "MIN_STRENGTHS",
    "REQUIRED_COLUMNS",
    "THRESHOLD_KEYS",
    "ClaimsError",
    "Verdict",
    "check_thresholds",
    "evaluate_claims",
    "smoothness_bound",
]

REQUIRED_COLUMNS = (
    "dataset",
    "model",
    "rule",
    "train_subset",
    "label_noise",
    "seed",
    "attack",
    "method",
    "target",
    "strength",
    "epoch",
    "final",
    "layer",
    "accuracy",
    "probe_accuracy",
    "alpha",
    "alpha_se",
)
DIMENSION_COLUMNS = ("input_dimension", "bound_margin")  # needed unless d is given
PER_CONDITION = "TwoNN per condition"  # d's source when every row brings its own
_TEXT = ("model", "rule", "attack", "method", "target")
_INTEGER = ("seed", "layer", "train_subset")
_FLOAT = ("label_noise", "strength", "epoch", "accuracy", "probe_accuracy", "alpha", "alpha_se")
_MEASURES = ["accuracy", "probe_accuracy", "alpha", "alpha_se"]


# --- validation -------------------------------------------------------------------------------


def smoothness_bound(input_dimension: float) -> float:
    """Smallest alpha compatible with a smooth code of a d-dimensional manifold: 1 + 2/d."""
    return 1.0 + 2.0 / _check_dimension(input_dimension)


def _check_dimension(input_dimension: float) -> float:
    """Validate d (finite, > 0) and return it as a float."""
    try:
        d = float(input_dimension)
    except (TypeError, ValueError):
        raise ClaimsError(f"input_dimension must be a number; got {input_dimension!r}.") from None
    if not math.isfinite(d) or d <= 0:
        raise ClaimsError(f"input_dimension must be finite and > 0; got {input_dimension!r}.")
    return d


def _numeric_column(df: pd.DataFrame, column: str) -> pd.Series:
    """Column as float64, raising ClaimsError naming the column if it is not numeric."""
    try:
        return pd.to_numeric(df[column], errors="raise").astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ClaimsError(f"summary column {column!r} must be numeric: {err}") from None


def _boolean_column(df: pd.DataFrame, column: str) -> pd.Series:
    """Column as bool; ClaimsError unless it holds only True/False (or 1/0)."""
    values = df[column]
    if values.dtype != bool:
        found = set(pd.unique(values))
        if not found <= {True, False}:
            raise ClaimsError(
                f"summary column {column!r} must hold True/False; found {sorted(map(repr, found))}."
            )
    return values.astype(bool)


def _check_single(df: pd.DataFrame, keys: list[str], column: str) -> None:
    """ClaimsError if some group of ``keys`` has more than one value of ``column``."""
    counts = df.groupby(keys)[column].nunique()
    bad = counts[counts > 1]
    if len(bad):
        raise ClaimsError(
            f"summary column {column!r} must be constant per {keys}; {bad.index[0]!r} has "
            f"{bad.iloc[0]} values."
        )


def _check_summary(summary: pd.DataFrame, need_dimension: bool) -> tuple[pd.DataFrame, str, int]:
    """Validate the summary; return (rows with a finite alpha, dataset, rows dropped).

    The returned frame holds the columns the claims use with checked types; the strength is
    rounded to 12 decimals so that the same grid value written twice groups together.
    """
    if not isinstance(summary, pd.DataFrame):
        raise ClaimsError(f"summary must be a pandas DataFrame; got {type(summary).__name__}.")
    required = REQUIRED_COLUMNS + (DIMENSION_COLUMNS if need_dimension else ())
    missing = [c for c in required if c not in summary.columns]
    if missing:
        raise ClaimsError(f"summary lacks column(s) {missing}; it has {list(summary.columns)}.")
    if summary.empty:
        raise ClaimsError("summary has no rows; nothing to evaluate.")
    datasets = sorted(map(str, summary["dataset"].unique()))
    if len(datasets) != 1:
        raise ClaimsError(
            f"summary mixes several dataset values {datasets}; evaluate one dataset at a time."
        )
    df = pd.DataFrame({c: summary[c].astype(str) for c in _TEXT})
    numeric = _FLOAT + _INTEGER + (DIMENSION_COLUMNS if need_dimension else ())
    for column in numeric:
        df[column] = _numeric_column(summary, column)
    for column in _INTEGER:
        values = df[column]
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise ClaimsError(f"summary column {column!r} must hold integers.")
        df[column] = values.astype(np.int64)
    df["final"] = _boolean_column(summary, "final")
    strength, clean = df["strength"], df["attack"] == CLEAN
    if not np.isfinite(strength).all() or (strength < 0).any():
        raise ClaimsError("summary column 'strength' must be finite and >= 0.")
    if (strength[clean] != 0).any():
        raise ClaimsError("clean rows must have strength 0; found a clean row with strength > 0.")
    if not df.loc[~clean, "final"].all():
        raise ClaimsError("attacked rows must be rows of the final model (final = True).")
    for column in ("rule", "train_subset", "label_noise"):
        _check_single(df, ["model"], column)
    for column in ("method", "target"):
        _check_single(df, ["model", "attack"], column)
    df["strength"] = strength.round(12)
    finite = np.isfinite(df["alpha"])
    if not finite.any():
        raise ClaimsError("every summary row has a non-finite alpha.")
    return df[finite], datasets[0], int((~finite).sum())


# --- the statistics' tables -------------------------------------------------------------------


def _models(df: pd.DataFrame) -> pd.DataFrame:
    """One row per model (index: name): rule, training set, label noise, seeds, final epoch."""
    models = df.groupby("model").agg(
        rule=("rule", "first"),
        train_subset=("train_subset", "first"),
        label_noise=("label_noise", "first"),
    )
    models["paper_network"] = [
        is_paper_network(r.rule, r.train_subset, r.label_noise) for r in models.itertuples()
    ]
    models["seeds"] = df.groupby("model")["seed"].apply(lambda s: sorted(s.unique().tolist()))
    models["final_epoch"] = df[df["final"]].groupby("model")["epoch"].max()
    return models


def _clean_table(df: pd.DataFrame) -> pd.DataFrame:
    """Clean rows, one per (model, seed, epoch, layer): a last snapshot that coincides with the
    final model is counted once."""
    clean = df[df["attack"] == CLEAN]
    return clean.groupby(["model", "seed", "epoch", "layer"], as_index=False).agg(
        **{c: (c, "mean") for c in _MEASURES}, final=("final", "any")
    )


def _sweep_table(df: pd.DataFrame) -> pd.DataFrame:
    """Attacked final rows, one per (model, attack, strength, seed, layer); a sweep without its
    strength-0 row gets the model's clean final rows as strength 0."""
    keys = ["model", "attack", "method", "target", "strength", "seed", "layer"]
    attacked = df[df["attack"] != CLEAN]
    clean_final = df[(df["attack"] == CLEAN) & df["final"]]
    parts = [attacked]
    for (model, attack, method, target), rows in attacked.groupby(keys[:4]):
        if not (rows["strength"] == 0).any():
            base = clean_final[clean_final["model"] == model]
            parts.append(base.assign(attack=attack, method=method, target=target))
    return pd.concat(parts).groupby(keys, as_index=False)[_MEASURES].mean()


def _margin_table(df: pd.DataFrame, input_dimension: float | None) -> pd.DataFrame:
    """alpha - (1 + 2/d) per row, with d given or the row's own; the strength-0 copies of the
    clean input are relabelled clean so that each condition enters once."""
    df = df.assign(attack=df["attack"].where(df["strength"] != 0, CLEAN))
    if input_dimension is None:
        df = df.assign(d=df["input_dimension"], margin=df["bound_margin"])
    else:
        df = df.assign(d=input_dimension, margin=df["alpha"] - smoothness_bound(input_dimension))
    keys = ["model", "attack", "strength", "epoch", "layer", "seed"]
    return df.groupby(keys, as_index=False).agg(
        alpha=("alpha", "mean"), d=("d", "mean"), margin=("margin", "mean"), final=("final", "any")
    )


# --- entry point ------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    """Recursively convert numpy scalars and containers to plain Python; NaN/inf -> None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _claim(spec: ClaimSpec, limits: dict[str, float], outcome: Outcome) -> dict[str, Any]:
    """One claim's entry of the result, with its threshold sensitivity."""
    return {
        "id": spec.id,
        "name": spec.name,
        "statement": spec.statement,
        "statistic": spec.statistic_text(limits),
        "numbers": outcome.numbers,
        "verdict": outcome.verdict.value,
        "reason": outcome.reason,
        "meaning": outcome.meaning,
        "sensitivity": claim_sensitivity(spec, outcome, limits),
    }


def evaluate_claims(
    summary: pd.DataFrame,
    thresholds: Mapping[str, Any],
    input_dimension: float | None = None,
    input_dimension_source: str = PER_CONDITION,
) -> dict[str, Any]:
    """Evaluate the paper's three claims and the smoothness bound on one dataset's summary.

    Args:
        summary: every model of one dataset, one row per model x seed x condition x snapshot x
            layer, with at least ``REQUIRED_COLUMNS`` (and ``DIMENSION_COLUMNS`` unless
            ``input_dimension`` is given).
        thresholds: the config's ``claims`` section (``claims_spec.THRESHOLD_KEYS``; other keys
            are ignored).
        input_dimension: d for the bound alpha >= 1 + 2/d of every row; None uses each row's
            own ``input_dimension`` and ``bound_margin``.
        input_dimension_source: how d was obtained, for the report ("given" if d is given
            with the default source, which describes the per-row d).

    Returns:
        A JSON-serialisable dict (plain types; NaN and inf are None) with keys dataset, models,
        layers, n_rows, n_rows_dropped_non_finite, thresholds, fixed_parameters,
        sensitivity_statistic, contrast_statistic, claims (three dicts: id, name, statement,
        statistic, numbers, verdict, reason, meaning, sensitivity; claim 3's numbers hold the
        Gaussian-FGSM contrast) and smoothness.

    Raises:
        ClaimsError: missing columns, several datasets, non-integer seeds/layers, bad strengths,
            inconsistent per-model columns, bad thresholds or a bad input dimension.
    """
    limits = check_thresholds(thresholds)
    source = str(input_dimension_source)
    if input_dimension is not None:
        input_dimension = _check_dimension(input_dimension)
        source = "given" if source == PER_CONDITION else source
    df, dataset, n_dropped = _check_summary(summary, need_dimension=input_dimension is None)
    models = _models(df)
    gauss, fgsm = shape_claims(_sweep_table(df), models, limits)
    claims = [
        _claim(
            ACCURACY_NEEDS_DECAY, limits, accuracy_needs_decay(_clean_table(df), models, limits)
        ),
        _claim(GAUSSIAN_MONOTONIC, limits, gauss),
        _claim(FGSM_NON_MONOTONIC, limits, fgsm),
    ]
    smoothness = smoothness_margins(_margin_table(df, input_dimension), limits["bound_margin"])
    result = {
        "dataset": dataset,
        "models": [{"name": name, **row} for name, row in models.to_dict("index").items()],
        "layers": sorted(df["layer"].unique().tolist()),
        "n_rows": len(summary),
        "n_rows_dropped_non_finite": n_dropped,
        "thresholds": limits,
        "fixed_parameters": fixed_parameters(),
        "sensitivity_statistic": sensitivity_text(limits),
        "contrast_statistic": contrast_text(limits),
        "claims": claims,
        "smoothness": {
            "statistic": smoothness_text(limits),
            "input_dimension": input_dimension,
            "input_dimension_source": source,
            **smoothness,
        },
    }
    return _jsonable(result)
