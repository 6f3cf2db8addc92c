"""How each verdict moves with its thresholds: the same data decided again with one threshold
moved at a time (``claims_spec.SENSITIVITY``).

A verdict is re-decided from the numbers its outcome already holds (per-seed rho and gap for
claim 1; depth, its standard error and the relative reversal of every curve for claims 2 and
3), with the same decision functions as the verdict itself, so no statistic is recomputed and
the sensitivity cannot disagree with the verdict at the configured thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manifold_smoothness.claims_spec import (
    ACCURACY_NEEDS_DECAY,
    SENSITIVITY_FACTORS,
    THRESHOLD_RANGES,
    ClaimSpec,
    Verdict,
)
from manifold_smoothness.claims_statistics import (
    CONTRADICTED,
    MIXED,
    MONOTONIC,
    NON_MONOTONIC,
    SUPPORTED,
    UNDEFINED,
    Outcome,
    claim1_verdict,
    is_reversal_real,
    layer_status,
    shape_verdict,
)

__all__ = ["BISECTION_STEPS", "claim_sensitivity", "verdict_at"]

BISECTION_STEPS = 12  # halvings of the interval in which a verdict flips (to < 1% of it)


def _claim1_at(numbers: dict[str, Any], limits: dict[str, float]) -> Verdict:
    """Claim 1's verdict from its per-layer, per-seed rho and gap at other thresholds."""
    status = {
        kind: {SUPPORTED: [], CONTRADICTED: [], MIXED: [], UNDEFINED: []}
        for kind in numbers["kinds"]
    }
    for row in numbers["per_layer"]:
        defined = [s for s in row["per_seed"] if s["rho"] is not None]
        found = layer_status(
            [s["rho"] for s in defined],
            [s["gap"] for s in defined],
            limits["min_rho"],
            limits["min_accuracy_gap"],
        )
        status[row["kind"]][found].append(row["layer"])
    return claim1_verdict(status, len(numbers["layers"]))[0]


def _shape_at(spec: ClaimSpec, numbers: dict[str, Any], limits: dict[str, float]) -> Verdict:
    """Claim 2's or 3's verdict from its counted curves' reversals at other thresholds."""
    shapes = []
    for sweep in numbers["sweeps"]:
        if not sweep["counted"]:
            continue
        for row in sweep["per_layer"]:
            if row["shape"] == UNDEFINED:
                shapes.append(UNDEFINED)
                continue
            real = is_reversal_real(
                row["depth"],
                row["se_depth"],
                row["relative_reversal"],
                limits["min_relative_reversal"],
                limits["uncertainty_k"],
            )
            shapes.append(NON_MONOTONIC if real else MONOTONIC)
    counts = {
        "n_monotonic": shapes.count(MONOTONIC),
        "n_non_monotonic": shapes.count(NON_MONOTONIC),
        "n_undefined": shapes.count(UNDEFINED),
    }
    return shape_verdict(spec, counts, limits["monotonic_majority"])[0]


def verdict_at(spec: ClaimSpec, numbers: dict[str, Any], limits: dict[str, float]) -> Verdict:
    """The verdict of claim `spec` on its outcome's numbers at thresholds `limits`."""
    if spec.id == ACCURACY_NEEDS_DECAY.id:
        return _claim1_at(numbers, limits)
    return _shape_at(spec, numbers, limits)


def _flip(decide: Callable[[float], Verdict], low: float, high: float) -> float:
    """The threshold value in (low, high] where decide's verdict first differs from decide(low),
    by bisection (the verdict is piecewise constant in a threshold)."""
    start = decide(low)
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if decide(middle) == start:
            low = middle
        else:
            high = middle
    return high


def _one_threshold(
    spec: ClaimSpec, numbers: dict[str, Any], limits: dict[str, float], key: str
) -> dict[str, Any]:
    """The verdict over half to double of one threshold, the others held, and its flips."""

    def decide(value: float) -> Verdict:
        return verdict_at(spec, numbers, {**limits, key: value})

    allowed = THRESHOLD_RANGES[key]
    values = [f * limits[key] for f in SENSITIVITY_FACTORS if f * limits[key] in allowed]
    verdicts = [decide(v) for v in values]
    flips = [
        {
            "between": [a, b],
            "at": _flip(decide, a, b),
            "from": va.value,
            "to": vb.value,
        }
        for a, b, va, vb in zip(values, values[1:], verdicts, verdicts[1:], strict=False)
        if va != vb
    ]
    return {
        "key": key,
        "value": limits[key],
        "tested": [{"value": v, "verdict": d.value} for v, d in zip(values, verdicts, strict=True)],
        "robust": not flips,
        "flips": flips,
    }


def claim_sensitivity(
    spec: ClaimSpec, outcome: Outcome, limits: dict[str, float]
) -> dict[str, Any]:
    """One claim's threshold sensitivity: per threshold in ``spec.decided_by`` the verdicts
    from half to double its value and where it flips; ``robust`` if no threshold flips it,
    else ``rests_on`` names them. Reads the outcome's numbers before they are made JSON."""
    if verdict_at(spec, outcome.numbers, limits) is not outcome.verdict:
        raise RuntimeError(f"claim {spec.id}: the re-decided verdict differs from the verdict")
    per_key = [_one_threshold(spec, outcome.numbers, limits, key) for key in spec.decided_by]
    rests_on = [row["key"] for row in per_key if not row["robust"]]
    return {"robust": not rests_on, "rests_on": rests_on, "thresholds": per_key}
