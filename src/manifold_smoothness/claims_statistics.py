"""The numbers and verdicts of the paper's three claims and the smoothness bound.

Each statistic is defined in words in ``claims_spec``; the functions here compute it. Their
inputs are the tables that ``claims.evaluate_claims`` prepares from the summary:

- ``clean``: the clean test set, one row per (model, seed, epoch, layer) with accuracy,
  probe_accuracy, alpha and final (snapshots and the final model);
- ``sweeps``: the attacked final models, one row per (model, attack, strength, seed, layer) with
  accuracy, alpha and alpha_se, strength 0 (the clean input) included;
- ``models``: one row per model, indexed by name, with rule and paper_network;
- ``margins``: one row per (model, attack, strength, epoch, layer, seed) with margin and d.

Claim functions return an ``Outcome`` (numbers, verdict, reason, meaning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from manifold_smoothness.claims_spec import (
    ACCURACY_KINDS,
    CONTRAST_BOOTSTRAP,
    FGSM_NON_MONOTONIC,
    GAUSSIAN_MONOTONIC,
    LIST_CAP,
    MIN_POINTS,
    MIN_STRENGTHS,
    ClaimSpec,
    Verdict,
)

__all__ = [
    "MONOTONIC",
    "NON_MONOTONIC",
    "UNDEFINED",
    "Outcome",
    "Reversal",
    "accuracy_needs_decay",
    "combined_se",
    "curve_shape",
    "claim1_verdict",
    "envelope_gap",
    "is_reversal_real",
    "layer_shapes",
    "layer_status",
    "relative_reversals",
    "pooled_seed_variance",
    "reversal",
    "seed_mean_curve",
    "shape_claims",
    "shape_verdict",
    "shape_contrast",
    "smoothness_margins",
    "spearman",
    "sweep_curves",
]

SUPPORTED, CONTRADICTED, MIXED, UNDEFINED = "supported", "contradicted", "mixed", "undefined"
MONOTONIC, NON_MONOTONIC = "monotonic", "non-monotonic"
# calls of the Gaussian-FGSM contrast (claims_spec.CONTRAST)
CONTRAST_FGSM, CONTRAST_GAUSSIAN, CONTRAST_NONE = (
    "FGSM reverses more",
    "Gaussian reverses more",
    "no contrast",
)


@dataclass
class Outcome:
    """One claim's numbers, verdict, one-line reason and one-sentence meaning for the paper."""

    numbers: dict[str, Any]
    verdict: Verdict
    reason: str
    meaning: str = ""


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho of (n,) and (n,); NaN for fewer than 3 points or a constant input."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def _std(values: np.ndarray) -> float:
    """Sample std (ddof 1) of the finite values; NaN for fewer than two."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1)) if values.size > 1 else math.nan


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN if there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


# --- claim 1 ----------------------------------------------------------------------------------


def envelope_gap(accuracy: np.ndarray, alpha: np.ndarray) -> float:
    """Best accuracy of the points with alpha above the median minus the best of the others.

    accuracy, alpha: (n,). NaN if no point lies above the median (alpha constant).
    """
    above = alpha > np.median(alpha)
    if not above.any():
        return math.nan
    return float(accuracy[above].max() - accuracy[~above].max())


def _violations(accuracy: np.ndarray, alpha: np.ndarray, high: float) -> tuple[np.ndarray, float]:
    """(mask of high-accuracy points with alpha below the median alpha of the others, that
    median); the median is NaN and the mask empty when every point has high accuracy."""
    is_high = accuracy >= high
    if is_high.all():
        return np.zeros_like(is_high), math.nan
    reference = float(np.median(alpha[~is_high]))
    return is_high & (alpha < reference), reference


def layer_status(rhos: list[float], gaps: list[float], min_rho: float, min_gap: float) -> str:
    """Claim-1 status of one (layer, kind) from its defined seeds' rho_s and g_s."""
    if not rhos:
        return UNDEFINED
    mean_rho = float(np.mean(rhos))  # NaN if a seed's rho is undefined: no effect either way
    if all(r > 0 for r in rhos) and all(g >= min_gap for g in gaps) and mean_rho >= min_rho:
        return SUPPORTED
    if all(r < 0 for r in rhos) and mean_rho <= -min_rho:
        return CONTRADICTED
    if all(g <= -min_gap for g in gaps):
        return CONTRADICTED
    return MIXED


def _claim1_layer(
    rows: pd.DataFrame, column: str, seeds: list[int], limits: dict[str, float]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Claim-1 numbers of one (layer, kind) and its violating points."""
    per_seed, violations = [], []
    for seed in seeds:
        points = rows[(rows["seed"] == seed) & np.isfinite(rows[column])]
        entry: dict[str, Any] = {"seed": seed, "n_points": len(points)}
        if len(points) < MIN_POINTS:
            per_seed.append({**entry, "rho": None, "gap": None, "violations": None})
            continue
        accuracy, alpha = points[column].to_numpy(), points["alpha"].to_numpy()
        mask, reference = _violations(accuracy, alpha, limits["high_accuracy"])
        per_seed.append(
            {
                **entry,
                "rho": spearman(accuracy, alpha),
                "gap": envelope_gap(accuracy, alpha),
                "violations": int(mask.sum()) if math.isfinite(reference) else None,
            }
        )
        flagged = points.loc[mask, ["model", "epoch", column, "alpha"]]
        violations += [
            {"seed": seed, "model": m, "epoch": e, "accuracy": acc, "alpha": a}
            | {"reference_alpha": reference}
            for m, e, acc, a in flagged.itertuples(index=False)
        ]
    defined = [s for s in per_seed if s["rho"] is not None]
    rhos = [s["rho"] for s in defined]
    gaps = [s["gap"] for s in defined]
    numbers = {
        "n_seeds": len(seeds),
        "n_seeds_defined": len(defined),
        "per_seed": per_seed,
        "rho_mean": float(np.mean(rhos)) if rhos else math.nan,
        "rho_std": _std(rhos),
        "gap_min": float(np.min(gaps)) if gaps else math.nan,
        "gap_mean": float(np.mean(gaps)) if gaps else math.nan,
        "sign_null_probability": 2.0 ** -(len(defined) - 1) if defined else math.nan,
        "status": layer_status(rhos, gaps, limits["min_rho"], limits["min_accuracy_gap"]),
    }
    return numbers, violations


def _claim1_per_model(clean: pd.DataFrame, models: pd.DataFrame) -> list[dict[str, Any]]:
    """Per (model, layer): final accuracies and alpha over seeds, and the seed-mean Spearman
    rho of accuracy vs alpha along the model's snapshots, for each accuracy kind."""
    rows = []
    for (model, layer), sub in clean.groupby(["model", "layer"], sort=True):
        final = sub[sub["final"]]
        row: dict[str, Any] = {
            "model": model,
            "rule": models.at[model, "rule"],
            "paper_network": bool(models.at[model, "paper_network"]),
            "layer": int(layer),
            "n_snapshots": int(sub.groupby("seed")["epoch"].nunique().min()),
        }
        for name in ("alpha", *ACCURACY_KINDS.values()):
            row[f"{name}_mean"] = _mean(final[name])
            row[f"{name}_std"] = _std(final[name])
        for kind, column in ACCURACY_KINDS.items():
            rhos = []
            for _, seed_rows in sub.groupby("seed"):
                ok = seed_rows[np.isfinite(seed_rows[column])]
                if len(ok) >= MIN_POINTS:
                    rhos.append(spearman(ok[column], ok["alpha"]))
            row[f"rho_{kind}_snapshots"] = _mean(rhos)
        rows.append(row)
    return rows


def accuracy_needs_decay(
    clean: pd.DataFrame, models: pd.DataFrame, limits: dict[str, float]
) -> Outcome:
    """Claim 1: per layer, kind and seed, rho(accuracy, alpha) and the envelope gap."""
    seeds = sorted(clean["seed"].unique().tolist())
    layers = sorted(clean["layer"].unique().tolist())
    per_layer, violations = [], []
    status: dict[str, dict[str, list[int]]] = {}
    for kind, column in ACCURACY_KINDS.items():
        status[kind] = {SUPPORTED: [], CONTRADICTED: [], MIXED: [], UNDEFINED: []}
        for layer in layers:
            numbers, found = _claim1_layer(clean[clean["layer"] == layer], column, seeds, limits)
            per_layer.append({"layer": layer, "kind": kind, **numbers})
            status[kind][numbers["status"]].append(layer)
            violations += [{"kind": kind, "layer": layer, **v} for v in found]
    violations.sort(key=lambda v: (v["alpha"] - v["reference_alpha"], v["kind"], v["layer"]))
    numbers = {
        "kinds": dict(ACCURACY_KINDS),
        "seeds": seeds,
        "layers": layers,
        "per_layer": per_layer,
        "status_by_kind": status,
        "n_violations": len(violations),
        "violations": violations[:LIST_CAP],
        "n_violations_not_listed": max(0, len(violations) - LIST_CAP),
        "per_model": _claim1_per_model(clean, models),
    }
    verdict, reason = claim1_verdict(status, len(layers))
    return Outcome(numbers, verdict, reason, _claim1_meaning(verdict, status, len(layers)))


def _majority(count: int, total: int) -> bool:
    return 2 * count > total


def claim1_verdict(status: dict[str, dict[str, list[int]]], n: int) -> tuple[Verdict, str]:
    """Verdict and reason of claim 1 from the layers' statuses per kind."""
    parts = []
    for kind, by_status in status.items():
        listed = ", ".join(f"{k} {v}" for k, v in by_status.items() if v)
        parts.append(f"{kind}: {listed} (of {n} layers)")
    detail = "; ".join(parts)
    contradicted = [k for k, s in status.items() if _majority(len(s[CONTRADICTED]), n)]
    if contradicted:
        return Verdict.FAIL, f"a majority of layers is contradicted for {contradicted}; {detail}."
    if all(_majority(len(s[SUPPORTED]), n) for s in status.values()):
        return Verdict.PASS, f"a majority of layers is supported for both kinds; {detail}."
    return Verdict.INCONCLUSIVE, f"no majority of supported layers for both kinds; {detail}."


def _claim1_meaning(verdict: Verdict, status: dict[str, dict[str, list[int]]], n: int) -> str:
    """One sentence on what claim 1's verdict says about the paper."""
    if verdict is Verdict.PASS:
        return (
            "In most layers, for the fixed readout and the linear probe and in every seed, the "
            "best-generalizing (model, epoch) points have the larger alpha, as the paper "
            "claims: high accuracy comes with a relatively fast power-law decay."
        )
    counts = ", ".join(
        f"{kind} {len(s[SUPPORTED])} supported / {len(s[CONTRADICTED])} contradicted of {n}"
        for kind, s in status.items()
    )
    if verdict is Verdict.FAIL:
        return (
            "Contrary to the paper, in most layers high accuracy is reached at small alpha or "
            f"falls with alpha in every seed ({counts} layers)."
        )
    return (
        "Our data neither support nor contradict the paper's claim at the stated minimum "
        f"effects ({counts} layers)."
    )


# --- shape of alpha(strength), claims 2 and 3 -------------------------------------------------


@dataclass(frozen=True)
class Reversal:
    """The smaller of a curve's largest rise and largest fall, and where it lies.

    ``kind`` is 'rise' or 'fall' (the excursion against the curve's main direction), or None
    when the curve never turns back (depth 0, se NaN); ``start``/``end`` index its pair.
    ``excursion`` is the larger of rise and fall (the curve's main movement) and ``relative``
    the depth as a fraction of it (0 when the curve never turns back or is constant).
    """

    depth: float
    se: float
    rise: float
    fall: float
    kind: str | None
    start: int | None
    end: int | None
    excursion: float = math.nan
    relative: float = math.nan


UNDEFINED_REVERSAL = Reversal(math.nan, math.nan, math.nan, math.nan, None, None, None)


def _steps(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, c_j - c_i) over every pair i < j of each row of curves: (..., K), K >= 2."""
    i, j = np.triu_indices(curves.shape[-1], k=1)
    return i, j, curves[..., j] - curves[..., i]


def relative_reversals(curves: np.ndarray) -> np.ndarray:
    """Relative reversal r = max(0, min(R, F)) / max(R, F) of each row of curves: (..., K);
    0 where the curve is constant. Scale- and shift-free (r of a c + b is r of c, a != 0)."""
    steps = _steps(np.asarray(curves, dtype=np.float64))[2]
    rise, fall = steps.max(axis=-1), (-steps).max(axis=-1)
    depth = np.maximum(0.0, np.minimum(rise, fall))
    excursion = np.maximum(rise, fall)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(excursion > 0, depth / excursion, 0.0)


def reversal(curve: np.ndarray, se: np.ndarray) -> Reversal:
    """Reversal of a curve c: (K,) with standard errors s: (K,), K >= 2.

    R = max_{i<j} c_j - c_i, F = max_{i<j} c_i - c_j; depth D = max(0, min(R, F)) at the pair
    of the smaller one, se_D = sqrt(s_i^2 + s_j^2) of that pair; excursion E = max(R, F) and
    relative reversal r = D / E.
    """
    c, s = np.asarray(curve, dtype=np.float64), np.asarray(se, dtype=np.float64)
    i, j, steps = _steps(c)
    up, down = int(np.argmax(steps)), int(np.argmax(-steps))
    rise, fall = float(steps[up]), float(-steps[down])
    pair, kind = (up, "rise") if rise <= fall else (down, "fall")
    depth, excursion = min(rise, fall), max(rise, fall)
    if depth <= 0:
        return Reversal(0.0, math.nan, rise, fall, None, None, None, excursion, 0.0)
    start, end = int(i[pair]), int(j[pair])
    se_depth = float(math.hypot(s[start], s[end]))
    return Reversal(depth, se_depth, rise, fall, kind, start, end, excursion, depth / excursion)


def is_reversal_real(
    depth: float, se: float, relative: float, min_relative: float, k: float
) -> bool:
    """The shape statistic's decision on a reversal of `depth` (standard error `se`, relative
    reversal `relative`): relative >= min_relative and depth >= k se (False for depth 0)."""
    return depth > 0 and relative >= min_relative and depth >= k * se


def curve_shape(
    curve: np.ndarray, se: np.ndarray, min_relative: float, k: float
) -> tuple[str, Reversal]:
    """(shape, reversal) of c: (K,) with standard errors s: (K,): non-monotonic if the
    relative reversal r >= min_relative and the depth D >= k * se_D, monotonic otherwise,
    undefined for fewer than MIN_STRENGTHS points. Invariant to c -> a c + b, s -> |a| s."""
    if len(curve) < MIN_STRENGTHS:
        return UNDEFINED, UNDEFINED_REVERSAL
    rev = reversal(curve, se)
    real = is_reversal_real(rev.depth, rev.se, rev.relative, min_relative, k)
    return (NON_MONOTONIC if real else MONOTONIC), rev


def combined_se(
    alpha: np.ndarray, alpha_se: np.ndarray, pooled_var: float | None = None
) -> tuple[float, list[str]]:
    """Standard error of the seed-mean alpha at one strength, and its flags.

    alpha, alpha_se: (n_seeds,). sqrt(v / n + mean(alpha_se)^2): the seed spread of the mean
    plus the image-sampling error, which is not divided by n because every seed sees the same
    test images. v is `pooled_var` (the seed variance pooled over a curve's strengths) when
    given, else this strength's own variance (ddof 1). A NaN alpha_se counts as 0 ('alpha_se
    missing'); one seed has no seed term ('single seed').
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    alpha_se = np.asarray(alpha_se, dtype=np.float64)
    flags = []
    if alpha.size < 2:
        flags.append("single seed")
        seed_var = 0.0
    else:
        variance = float(alpha.var(ddof=1)) if pooled_var is None else pooled_var
        seed_var = variance / alpha.size
    if np.isnan(alpha_se).any():
        flags.append("alpha_se missing")
    image_se = float(np.nan_to_num(alpha_se, nan=0.0).mean())
    return math.sqrt(seed_var + image_se**2), flags


def pooled_seed_variance(rows: pd.DataFrame) -> float | None:
    """Variance of alpha over seeds (ddof 1), averaged over the strengths of one curve that
    have at least two seeds (rows: seed, strength, alpha); None if none has."""
    variances = [
        float(at["alpha"].var(ddof=1)) for _, at in rows.groupby("strength") if len(at) >= 2
    ]
    return float(np.mean(variances)) if variances else None


@dataclass(frozen=True)
class Curve:
    """One (model, attack, layer) sweep reduced to its seed means: strengths (K,), alpha means
    (K,) and their combined standard errors (K,), seed-mean accuracy (K,), the fewest seeds at
    a strength and the flags of combined_se."""

    strengths: np.ndarray
    alpha: np.ndarray
    se: np.ndarray
    accuracy: np.ndarray
    n_seeds: int
    flags: tuple[str, ...]


def seed_mean_curve(rows: pd.DataFrame) -> Curve:
    """The seed-mean curve of one (model, attack, layer) from its rows (seed, strength,
    alpha, alpha_se, accuracy), with the pooled seed variance in its errors."""
    strengths, means, ses, accuracy, n_seeds, flags = [], [], [], [], [], set()
    pooled = pooled_seed_variance(rows)
    for strength, at in rows.groupby("strength", sort=True):
        se, found = combined_se(at["alpha"].to_numpy(), at["alpha_se"].to_numpy(), pooled)
        strengths.append(float(strength))
        means.append(float(at["alpha"].mean()))
        ses.append(se)
        accuracy.append(float(at["accuracy"].mean()))
        n_seeds.append(len(at))
        flags.update(found)
    return Curve(
        np.array(strengths),
        np.array(means),
        np.array(ses),
        np.array(accuracy),
        min(n_seeds),
        tuple(sorted(flags)),
    )


def layer_shapes(rows: pd.DataFrame, limits: dict[str, float]) -> dict[int, tuple[str, Reversal]]:
    """(shape, reversal) of every layer of one sweep (rows of one model and attack: seed,
    strength, layer, alpha, alpha_se, accuracy): what the claims decide and the figures mark."""
    k, min_relative = limits["uncertainty_k"], limits["min_relative_reversal"]
    out = {}
    for layer, sub in rows.groupby("layer", sort=True):
        curve = seed_mean_curve(sub)
        out[int(layer)] = curve_shape(curve.alpha, curve.se, min_relative, k)
    return out


def _curve_row(
    rows: pd.DataFrame, fallback_accuracy: pd.Series, limits: dict[str, float]
) -> dict[str, Any]:
    """Shape numbers of one (model, attack, layer) from its rows (seed, strength, alpha, ...)."""
    curve = seed_mean_curve(rows)
    strengths, accuracy, source = curve.strengths.tolist(), curve.accuracy, "layer"
    if not np.isfinite(accuracy).all():
        accuracy, source = fallback_accuracy.reindex(strengths).to_numpy(), "last layer"
    k, min_relative = limits["uncertainty_k"], limits["min_relative_reversal"]
    shape, rev = curve_shape(curve.alpha, curve.se, min_relative, k)
    at_pair = rev.start is not None
    return {
        "shape": shape,
        "relative_reversal": rev.relative,
        "min_relative_reversal": min_relative,
        "depth": rev.depth,
        "se_depth": rev.se,
        "k_se_depth": k * rev.se,
        "depth_in_se": rev.depth / rev.se if at_pair and rev.se > 0 else None,
        "excursion": rev.excursion,
        "rise": rev.rise,
        "fall": rev.fall,
        "reversal": rev.kind,
        "from_strength": strengths[rev.start] if at_pair else None,
        "to_strength": strengths[rev.end] if at_pair else None,
        "n_strengths": len(strengths),
        "n_seeds": curve.n_seeds,
        "alpha_first": float(curve.alpha[0]),
        "alpha_last": float(curve.alpha[-1]),
        "net_change": float(curve.alpha[-1] - curve.alpha[0]),
        "accuracy_trend": spearman(curve.strengths, accuracy),
        "accuracy_source": source,
        "flags": list(curve.flags),
        # the seed-mean curve itself, for the contrast's bootstrap (not rendered)
        "curve": {"strength": strengths, "alpha": curve.alpha.tolist(), "se": curve.se.tolist()},
    }


def sweep_curves(
    sweeps: pd.DataFrame, models: pd.DataFrame, limits: dict[str, float]
) -> list[dict[str, Any]]:
    """Every (model, attack) sweep with the shape of alpha(strength) per layer."""
    out = []
    for (model, attack), rows in sweeps.groupby(["model", "attack"], sort=True):
        last = rows[rows["layer"] == rows["layer"].max()]
        fallback = last.groupby("strength")["accuracy"].mean()
        per_layer = [
            {"layer": int(layer), **_curve_row(sub, fallback, limits)}
            for layer, sub in rows.groupby("layer", sort=True)
        ]
        shapes = [row["shape"] for row in per_layer]
        out.append(
            {
                "model": model,
                "rule": models.at[model, "rule"],
                "paper_network": bool(models.at[model, "paper_network"]),
                "attack": attack,
                "method": rows["method"].iloc[0],
                "target": rows["target"].iloc[0],
                "strengths": sorted(rows["strength"].unique().tolist()),
                "seeds": sorted(rows["seed"].unique().tolist()),
                "n_monotonic": shapes.count(MONOTONIC),
                "n_non_monotonic": shapes.count(NON_MONOTONIC),
                "n_undefined": shapes.count(UNDEFINED),
                "per_layer": per_layer,
            }
        )
    return out


def _counted(spec: ClaimSpec, sweep: dict[str, Any]) -> bool:
    """Whether a sweep's curves decide the claim: a paper network under the claim's attack."""
    target_ok = spec.target is None or sweep["target"] == spec.target
    return sweep["paper_network"] and sweep["method"] == spec.method and target_ok


def _by_family(curves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Shape counts per (paper network or control, method, target): where reversals come from."""
    families: dict[tuple, dict[str, int]] = {}
    for sweep in curves:
        key = (sweep["paper_network"], sweep["method"], sweep["target"])
        counts = families.setdefault(key, {MONOTONIC: 0, NON_MONOTONIC: 0, UNDEFINED: 0})
        for row in sweep["per_layer"]:
            counts[row["shape"]] += 1
    rows = []
    for (paper, method, target), counts in sorted(families.items(), key=lambda kv: kv[0]):
        defined = counts[MONOTONIC] + counts[NON_MONOTONIC]
        rows.append(
            {
                "networks": "paper" if paper else "controls",
                "method": method,
                "target": target,
                "n_monotonic": counts[MONOTONIC],
                "n_non_monotonic": counts[NON_MONOTONIC],
                "n_undefined": counts[UNDEFINED],
                "fraction_non_monotonic": counts[NON_MONOTONIC] / defined if defined else None,
            }
        )
    return rows


def _shape_numbers(spec: ClaimSpec, curves: list[dict[str, Any]]) -> dict[str, Any]:
    """A shape claim's counts over its counted curves, with every sweep listed."""
    sweeps = [{**sweep, "counted": _counted(spec, sweep)} for sweep in curves]
    counted = [row for sweep in sweeps if sweep["counted"] for row in sweep["per_layer"]]
    shapes = [row["shape"] for row in counted]
    n_mono, n_non = shapes.count(MONOTONIC), shapes.count(NON_MONOTONIC)
    defined = n_mono + n_non
    return {
        "method": spec.method,
        "target": spec.target,
        "n_curves": len(counted),
        "n_monotonic": n_mono,
        "n_non_monotonic": n_non,
        "n_undefined": shapes.count(UNDEFINED),
        "fraction_monotonic": n_mono / defined if defined else None,
        "fraction_non_monotonic": n_non / defined if defined else None,
        "by_family": _by_family(curves),
        "sweeps": sweeps,
    }


def _selection(spec: ClaimSpec) -> str:
    """The counted attacks in words."""
    target = f", target {spec.target}" if spec.target else ""
    return f"paper-network curves under method {spec.method}{target}"


def shape_verdict(spec: ClaimSpec, numbers: dict[str, Any], majority: float) -> tuple[Verdict, str]:
    """Verdict and reason of claim 2 (expects monotonic) or 3 (expects non-monotonic)."""
    n_mono, n_non = numbers["n_monotonic"], numbers["n_non_monotonic"]
    defined = n_mono + n_non
    counts = (
        f"{n_mono} monotonic and {n_non} non-monotonic of {defined} defined "
        f"{_selection(spec)} ({numbers['n_undefined']} undefined)"
    )
    if defined == 0:
        return Verdict.INCONCLUSIVE, f"no defined curve: {counts}."
    if spec.id == GAUSSIAN_MONOTONIC.id:
        fraction = n_mono / defined
        if fraction >= majority:
            return Verdict.PASS, f"{counts}; fraction monotonic {fraction:.3g} >= {majority:g}."
        if fraction <= 0.5:
            return Verdict.FAIL, f"{counts}; fraction monotonic {fraction:.3g} <= 0.5."
        return Verdict.INCONCLUSIVE, (
            f"{counts}; fraction monotonic {fraction:.3g} is in (0.5, {majority:g})."
        )
    fraction, minority = n_non / defined, 1.0 - majority
    if fraction > 0.5:
        return Verdict.PASS, f"{counts}; fraction non-monotonic {fraction:.3g} > 0.5."
    # fraction <= 1 - majority, tested as n_mono / defined >= majority: 1 - 0.8 is not 0.2 in
    # floating point, and a count on the boundary must not depend on that.
    if n_mono / defined >= majority:
        return Verdict.FAIL, f"{counts}; fraction non-monotonic {fraction:.3g} <= {minority:g}."
    return Verdict.INCONCLUSIVE, (
        f"{counts}; fraction non-monotonic {fraction:.3g} is in ({minority:g}, 0.5]."
    )


def _family_counts(numbers: dict[str, Any], method: str, target: str) -> tuple[int, int]:
    """(non-monotonic, defined) curves of paper networks for one method and target."""
    for row in numbers["by_family"]:
        if (row["networks"], row["method"], row["target"]) == ("paper", method, target):
            return row["n_non_monotonic"], row["n_monotonic"] + row["n_non_monotonic"]
    return 0, 0


def _shape_meanings(gauss: Outcome, fgsm: Outcome) -> tuple[str, str]:
    """The one-sentence meanings of claims 2 and 3, each stating the paper's contrast."""
    g, f = gauss.numbers, fgsm.numbers
    shown = gauss.verdict is Verdict.PASS and fgsm.verdict is Verdict.PASS
    contrast = (
        f"our data {'show' if shown else 'do not show'} the paper's contrast of a monotonic "
        f"alpha(strength) under Gaussian noise (monotonic in {g['n_monotonic']}/"
        f"{g['n_monotonic'] + g['n_non_monotonic']} paper-network curves) and a non-monotonic "
        f"one under FGSM (non-monotonic in {f['n_non_monotonic']}/"
        f"{f['n_monotonic'] + f['n_non_monotonic']})"
    )
    word = {Verdict.PASS: "holds", Verdict.FAIL: "fails", Verdict.INCONCLUSIVE: "is undecided"}
    extras = []
    reversing, defined = _family_counts(f, "random_sign", "output")
    if defined:
        extras.append(
            f"random-sign noise at FGSM's L-inf budget reverses alpha in {reversing}/{defined}"
        )
        if fgsm.verdict is Verdict.PASS:
            alone = 2 * reversing > defined
            extras[-1] += (
                ", so the budget alone reverses it too"
                if alone
                else ", so the reversal needs the adversarial direction"
            )
    reversing, defined = _family_counts(f, "fgsm", "layer")
    if defined:
        extras.append(f"FGSM on each layer's own readout in {reversing}/{defined}")
    paired = [row for row in f.get("contrast", []) if row["paper_network"]]
    if paired:
        calls = [row["call"] for row in paired]
        extras.append(
            f"the per-layer contrast r_FGSM - r_Gaussian says '{CONTRAST_FGSM}' in "
            f"{calls.count(CONTRAST_FGSM)}/{len(calls)} paper-network layers, "
            f"'{CONTRAST_GAUSSIAN}' in {calls.count(CONTRAST_GAUSSIAN)}"
        )
    extra = "".join(f"; {e}" for e in extras)
    return (
        f"The paper's Gaussian-noise claim {word[gauss.verdict]}: {contrast}.",
        f"The paper's FGSM claim {word[fgsm.verdict]}: {contrast}{extra}.",
    )


def _bootstrap_relative(curve: dict[str, list[float]], rng: np.random.Generator) -> np.ndarray:
    """Relative reversals of CONTRAST_BOOTSTRAP parametric draws of one seed-mean curve."""
    alpha, se = np.asarray(curve["alpha"]), np.nan_to_num(np.asarray(curve["se"]))
    draws = alpha + se * rng.standard_normal((CONTRAST_BOOTSTRAP, alpha.size))
    return relative_reversals(draws)


def contrast_call(delta: float, low: float, high: float, min_effect: float) -> str:
    """The contrast's call from Delta, its interval [low, high] and the minimum effect."""
    if low > 0 and delta >= min_effect:
        return CONTRAST_FGSM
    if high < 0 and delta <= -min_effect:
        return CONTRAST_GAUSSIAN
    return CONTRAST_NONE


def shape_contrast(curves: list[dict[str, Any]], limits: dict[str, float]) -> list[dict[str, Any]]:
    """Gaussian-FGSM contrast per (model, layer): Delta = r_FGSM - r_Gaussian with its
    parametric-bootstrap SE and 95% interval, for every model with a Gaussian sweep and an FGSM
    sweep on the output (every such pair of attacks). Deterministic (fixed generator seed)."""
    out = []
    for model in sorted({sweep["model"] for sweep in curves}):
        mine = [sweep for sweep in curves if sweep["model"] == model]
        gaussians = [sw for sw in mine if sw["method"] == "gaussian"]
        fgsms = [sw for sw in mine if sw["method"] == "fgsm" and sw["target"] == "output"]
        for gauss in gaussians:
            for fgsm in fgsms:
                out += _contrast_rows(gauss, fgsm, limits)
    return out


def _contrast_rows(
    gauss: dict[str, Any], fgsm: dict[str, Any], limits: dict[str, float]
) -> list[dict[str, Any]]:
    """The contrast rows of one model's Gaussian and FGSM sweeps, one per shared layer."""
    rows = []
    by_layer = {row["layer"]: row for row in gauss["per_layer"]}
    min_effect = limits["min_relative_reversal"]
    for f_row in fgsm["per_layer"]:
        g_row = by_layer.get(f_row["layer"])
        if g_row is None or UNDEFINED in (g_row["shape"], f_row["shape"]):
            continue
        rng = np.random.default_rng(f_row["layer"])  # the same draws in every run
        boot = _bootstrap_relative(f_row["curve"], rng) - _bootstrap_relative(g_row["curve"], rng)
        delta = f_row["relative_reversal"] - g_row["relative_reversal"]
        # a normal interval around Delta: r is a max-type statistic bounded by 0 and 1 and
        # biased upwards by noise on flat stretches, so percentile intervals of the draws can
        # exclude Delta itself; the draws give the spread, not the centre
        se = float(boot.std(ddof=1))
        low, high = max(-1.0, delta - 1.96 * se), min(1.0, delta + 1.96 * se)
        rows.append(
            {
                "model": fgsm["model"],
                "paper_network": fgsm["paper_network"],
                "gaussian": gauss["attack"],
                "fgsm": fgsm["attack"],
                "layer": f_row["layer"],
                "r_gaussian": g_row["relative_reversal"],
                "r_fgsm": f_row["relative_reversal"],
                "shape_gaussian": g_row["shape"],
                "shape_fgsm": f_row["shape"],
                "delta": delta,
                "delta_se": se,
                "delta_low": low,
                "delta_high": high,
                "call": contrast_call(delta, low, high, min_effect),
            }
        )
    return rows


def shape_claims(
    sweeps: pd.DataFrame, models: pd.DataFrame, limits: dict[str, float]
) -> tuple[Outcome, Outcome]:
    """Claims 2 and 3 from one shape statistic over every sweep's curves; claim 3's numbers
    also hold the Gaussian-FGSM contrast per layer."""
    curves = sweep_curves(sweeps, models, limits)
    outcomes = []
    for spec in (GAUSSIAN_MONOTONIC, FGSM_NON_MONOTONIC):
        numbers = _shape_numbers(spec, curves)
        outcomes.append(
            Outcome(numbers, *shape_verdict(spec, numbers, limits["monotonic_majority"]))
        )
    gauss, fgsm = outcomes
    fgsm.numbers["contrast"] = shape_contrast(curves, limits)
    gauss.meaning, fgsm.meaning = _shape_meanings(gauss, fgsm)
    return gauss, fgsm


# --- smoothness bound -------------------------------------------------------------------------

_CONDITION = ["model", "attack", "strength", "epoch", "layer"]


def smoothness_margins(margins: pd.DataFrame, near: float) -> dict[str, Any]:
    """Seed-mean margin alpha - (1 + 2/d) per condition: minimum, counts below 0 and in
    [0, near), the lowest conditions, and the clean final margin per model and layer."""
    means = margins.groupby(_CONDITION, as_index=False, sort=True).agg(
        margin=("margin", "mean"),
        margin_std=("margin", _std),
        alpha=("alpha", "mean"),
        d=("d", "mean"),
        final=("final", "all"),
        n_seeds=("seed", "nunique"),
    )
    means = means[np.isfinite(means["margin"])].sort_values(["margin", *_CONDITION])
    clean_final = means[(means["attack"] == "clean") & means["final"]]
    per_model = [
        {
            "model": r.model,
            "layer": int(r.layer),
            "epoch": r.epoch,
            "alpha": r.alpha,
            "d": r.d,
            "margin": r.margin,
            "margin_std": r.margin_std,
        }
        for r in clean_final.sort_values(["model", "layer"]).itertuples()
    ]
    records = means.drop(columns="final").to_dict("records")
    n_listed = int((means["margin"] < near).sum())
    return {
        "n_conditions": len(means),
        "minimum": records[0] if records else None,
        "n_below": int((means["margin"] < 0).sum()),
        "n_near": int(((means["margin"] >= 0) & (means["margin"] < near)).sum()),
        "listed": records[: min(n_listed, LIST_CAP)],
        "n_not_listed": max(0, n_listed - LIST_CAP),
        "per_model": per_model,
    }
