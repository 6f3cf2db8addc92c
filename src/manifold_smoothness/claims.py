"""Verdicts on the three claims of Jiang, Zhou & Huang (2021) from the per-layer summary table.

``evaluate_claims`` checks the summary (one row per seed x attack x strength x layer, see
``REQUIRED_COLUMNS``) and prepares it: rows with a non-finite accuracy or alpha are dropped (and
counted), every attack's strength-0 row is relabelled as the clean condition, and rows that then
coincide are averaged, so each (condition, layer, seed) enters once; "mean over seeds" is the
plain mean of those. On that table it computes the three claims (``claims_statistics``) and the
smoothness bound alpha >= 1 + 2/d per layer. What each statistic is and how it decides the
verdict is defined once, in ``claims_spec.CLAIMS``, and copied into the result.

The result is a JSON-serialisable dict (NaN and inf become None); ``claims_report`` renders it
as Markdown. The thresholds come from the config's ``claims`` section (``check_thresholds``); the
significance level and minimum counts are fixed in ``claims_spec``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from manifold_smoothness.claims_spec import (
    ACCURACY_NEEDS_DECAY,
    FGSM_NON_MONOTONIC,
    GAUSSIAN_MONOTONIC,
    MIN_POINTS,
    MIN_STRENGTHS,
    SIGNIFICANCE,
    THRESHOLD_KEYS,
    ClaimsError,
    ClaimSpec,
    Verdict,
    check_thresholds,
)
from manifold_smoothness.claims_statistics import (
    accuracy_needs_decay,
    fgsm_non_monotonic,
    gaussian_monotonic,
)
from manifold_smoothness.study import ATTACKS, CLEAN, CONDITIONS

__all__ = [
    "MIN_POINTS",
    "MIN_STRENGTHS",
    "REQUIRED_COLUMNS",
    "SIGNIFICANCE",
    "THRESHOLD_KEYS",
    "ClaimsError",
    "Verdict",
    "check_thresholds",
    "evaluate_claims",
    "smoothness_bound",
]

REQUIRED_COLUMNS = ("dataset", "model", "seed", "attack", "strength", "layer", "accuracy", "alpha")
_KEYS = ["attack", "strength", "layer", "seed"]


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


def _check_summary(summary: pd.DataFrame) -> tuple[pd.DataFrame, str, str, int]:
    """Validate the summary; return (rows with finite accuracy and alpha, dataset, model, dropped).

    The returned frame holds only the columns the claims use, with seed and layer as int,
    strength/accuracy/alpha as float and the strength rounded to 12 decimals so that the same
    grid value written twice groups together.
    """
    if not isinstance(summary, pd.DataFrame):
        raise ClaimsError(f"summary must be a pandas DataFrame; got {type(summary).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in summary.columns]
    if missing:
        raise ClaimsError(f"summary lacks column(s) {missing}; it has {list(summary.columns)}.")
    if summary.empty:
        raise ClaimsError("summary has no rows; nothing to evaluate.")
    for column in ("dataset", "model"):
        values = sorted(map(str, summary[column].unique()))
        if len(values) != 1:
            raise ClaimsError(
                f"summary mixes several {column} values {values}; evaluate one dataset and "
                "model at a time."
            )
    unknown = sorted(set(map(str, summary["attack"].unique())) - set(CONDITIONS))
    if unknown:
        raise ClaimsError(f"summary has unknown attack(s) {unknown}; expected {list(CONDITIONS)}.")
    df = pd.DataFrame({"attack": summary["attack"].astype(str)})
    for column in ("strength", "accuracy", "alpha", "seed", "layer"):
        df[column] = _numeric_column(summary, column)
    for column in ("seed", "layer"):
        values = df[column]
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise ClaimsError(f"summary column {column!r} must hold integers.")
        df[column] = values.astype(np.int64)
    strength = df["strength"]
    if not np.isfinite(strength).all() or (strength < 0).any():
        raise ClaimsError("summary column 'strength' must be finite and >= 0.")
    if (strength[df["attack"] == CLEAN] != 0).any():
        raise ClaimsError("clean rows must have strength 0; found a clean row with strength > 0.")
    df["strength"] = strength.round(12)
    finite = np.isfinite(df["accuracy"]) & np.isfinite(df["alpha"])
    dataset, model = str(summary["dataset"].iloc[0]), str(summary["model"].iloc[0])
    kept = df[finite]
    if kept.empty:
        raise ClaimsError("every summary row has a non-finite accuracy or alpha.")
    return kept, dataset, model, int((~finite).sum())


# --- per-seed table ---------------------------------------------------------------------------


def _per_seed(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (attack, strength, layer, seed); strength-0 attack rows become 'clean'."""
    df = df.copy()
    df.loc[df["strength"] == 0, "attack"] = CLEAN
    return df.groupby(_KEYS, as_index=False)[["accuracy", "alpha"]].mean()


# --- smoothness bound -------------------------------------------------------------------------


def _smoothness_section(per_seed: pd.DataFrame, bound: float) -> dict[str, Any]:
    """Seed-mean alpha per layer vs 1 + 2/d: clean, strongest attack strengths, all conditions."""
    means = per_seed.groupby(["attack", "strength", "layer"], as_index=False)["alpha"].agg(
        ["mean", "std", "count"]
    )
    conditions = [(CLEAN, 0.0)]
    for attack in ATTACKS:
        sub = means[means["attack"] == attack]
        if not sub.empty:
            conditions.append((attack, float(sub["strength"].max())))
    rows = []
    for layer, sub in means.groupby("layer"):
        row: dict[str, Any] = {
            "layer": int(layer),
            "fraction_conditions_meeting_bound": float(np.mean(sub["mean"] >= bound)),
        }
        for attack, strength in conditions:
            hit = sub[(sub["attack"] == attack) & (sub["strength"] == strength)]
            mean = float(hit["mean"].iloc[0]) if len(hit) else None
            std = float(hit["std"].iloc[0]) if len(hit) else None
            row[attack] = {
                "alpha_mean": mean,
                "alpha_std": std,
                "meets_bound": None if mean is None else bool(mean >= bound),
            }
        rows.append(row)
    return {
        "bound": bound,
        "conditions": [{"attack": a, "strength": s} for a, s in conditions],
        "per_layer": rows,
    }


# --- entry points -----------------------------------------------------------------------------


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


def _claim(
    spec: ClaimSpec, limits: dict[str, float], numbers: dict, verdict: Verdict, reason: str
) -> dict[str, Any]:
    """One claim's entry of the result."""
    return {
        "id": spec.id,
        "name": spec.name,
        "statement": spec.statement,
        "statistic": spec.statistic_text(limits),
        "numbers": numbers,
        "verdict": verdict.value,
        "reason": reason,
    }


def evaluate_claims(
    summary: pd.DataFrame,
    thresholds: Mapping[str, Any],
    input_dimension: float,
    input_dimension_source: str = "given",
) -> dict[str, Any]:
    """Evaluate the paper's three claims and the smoothness bound on a summary table.

    Args:
        summary: one row per seed x attack x strength x layer of a single dataset and model,
            with at least the columns in ``REQUIRED_COLUMNS``.
        thresholds: ``high_accuracy``, ``monotonic_rho`` and ``min_extremum_depth`` (the
            config's ``claims`` section; other keys are ignored).
        input_dimension: d of the bound alpha >= 1 + 2/d (e.g. TwoNN on the test images).
        input_dimension_source: how d was obtained, for the report (e.g. "TwoNN estimate").

    Returns:
        A JSON-serialisable dict (plain types; NaN and inf are None) with keys dataset, model,
        seeds, layers, n_rows, n_rows_dropped_non_finite, input_dimension,
        input_dimension_source, smoothness_bound, thresholds, fixed_parameters, claims (a list
        of three dicts: id, name, statement, statistic, numbers, verdict, reason) and
        smoothness.

    Raises:
        ClaimsError: missing columns, several datasets/models, unknown attacks, non-integer
            seeds/layers, bad strengths, bad thresholds or a bad input dimension.
    """
    limits = check_thresholds(thresholds)
    d = _check_dimension(input_dimension)
    bound = smoothness_bound(d)
    df, dataset, model, n_dropped = _check_summary(summary)
    per_seed = _per_seed(df)
    claims = [
        _claim(
            ACCURACY_NEEDS_DECAY,
            limits,
            *accuracy_needs_decay(per_seed, limits["high_accuracy"], bound),
        ),
        _claim(GAUSSIAN_MONOTONIC, limits, *gaussian_monotonic(per_seed, limits["monotonic_rho"])),
        _claim(
            FGSM_NON_MONOTONIC,
            limits,
            *fgsm_non_monotonic(per_seed, limits["min_extremum_depth"]),
        ),
    ]
    result = {
        "dataset": dataset,
        "model": model,
        "seeds": sorted(per_seed["seed"].unique().tolist()),
        "layers": sorted(per_seed["layer"].unique().tolist()),
        "n_rows": len(summary),
        "n_rows_dropped_non_finite": n_dropped,
        "input_dimension": d,
        "input_dimension_source": str(input_dimension_source),
        "smoothness_bound": bound,
        "thresholds": limits,
        "fixed_parameters": {
            "significance": SIGNIFICANCE,
            "min_strengths": MIN_STRENGTHS,
            "min_points": MIN_POINTS,
        },
        "claims": claims,
        "smoothness": _smoothness_section(per_seed, bound),
    }
    return _jsonable(result)
