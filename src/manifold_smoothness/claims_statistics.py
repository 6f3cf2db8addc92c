"""The numbers and verdicts of the paper's three claims, from the per-seed table.

Each claim's statistic is defined in words in ``claims_spec.CLAIMS``; the functions here compute
it. Their input is the per-seed table that ``claims.evaluate_claims`` builds: one row per
(attack, strength, layer, seed) with accuracy and alpha, the strength-0 rows labelled clean.
Each returns (numbers, verdict, reason).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from manifold_smoothness.claims_spec import MIN_POINTS, MIN_STRENGTHS, SIGNIFICANCE, Verdict
from manifold_smoothness.study import ATTACKS, CLEAN

__all__ = ["accuracy_needs_decay", "fgsm_non_monotonic", "gaussian_monotonic"]

Outcome = tuple[dict[str, Any], Verdict, str]  # numbers, verdict, reason


def _attack_curves(per_seed: pd.DataFrame, attack: str) -> pd.DataFrame:
    """Rows of one attack's sweep with the clean rows as its strength 0, sorted by strength."""
    rows = per_seed[per_seed["attack"].isin([CLEAN, attack])]
    if not (rows["attack"] == attack).any():
        return rows.iloc[0:0]
    return rows.assign(attack=attack).sort_values(["layer", "seed", "strength"])


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman (rho, two-sided p); (nan, nan) for fewer than 3 points or a constant input."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    res = stats.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


# --- claim 1 ----------------------------------------------------------------------------------


def accuracy_needs_decay(per_seed: pd.DataFrame, high_accuracy: float, bound: float) -> Outcome:
    """Claim 1: rank correlation of accuracy and alpha over all (layer, condition) points."""
    points = per_seed.groupby(["attack", "strength", "layer"], as_index=False)[
        ["accuracy", "alpha"]
    ].mean()
    acc, alpha = points["accuracy"].to_numpy(), points["alpha"].to_numpy()
    rho, p = _spearman(acc, alpha)
    high = acc >= high_accuracy
    a_high, a_rest = alpha[high], alpha[~high]
    median_all = float(np.median(alpha))
    mw_u = mw_p = math.nan
    if a_high.size and a_rest.size:
        mw = stats.mannwhitneyu(a_high, a_rest, alternative="greater")
        mw_u, mw_p = float(mw.statistic), float(mw.pvalue)
    by_attack = []
    for attack in ATTACKS:
        sub = points[points["attack"].isin([CLEAN, attack])]
        if (sub["attack"] == attack).any():
            r, q = _spearman(sub["accuracy"].to_numpy(), sub["alpha"].to_numpy())
            by_attack.append({"attack": attack, "n_points": len(sub), "rho": r, "p": q})
    numbers = {
        "n_points": int(acc.size),
        "n_layers": int(points["layer"].nunique()),
        "n_conditions": int(len(points[["attack", "strength"]].drop_duplicates())),
        "spearman_rho": rho,
        "spearman_p": p,
        "n_high_accuracy": int(high.sum()),
        "n_other": int((~high).sum()),
        "median_alpha_all": median_all,
        "median_alpha_high_accuracy": float(np.median(a_high)) if a_high.size else None,
        "median_alpha_other": float(np.median(a_rest)) if a_rest.size else None,
        "fraction_high_accuracy_above_median_alpha": (
            float(np.mean(a_high > median_all)) if a_high.size else None
        ),
        "mannwhitney_u": mw_u,
        "mannwhitney_p_greater": mw_p,
        "min_alpha_high_accuracy": float(a_high.min()) if a_high.size else None,
        "smoothness_bound": bound,
        "fraction_high_accuracy_meeting_bound": (
            float(np.mean(a_high >= bound)) if a_high.size else None
        ),
        "by_attack": by_attack,
    }
    return (numbers, *_verdict_claim1(numbers, high_accuracy))


def _verdict_claim1(numbers: dict[str, Any], high_accuracy: float) -> tuple[Verdict, str]:
    """Verdict and reason of claim 1 from its numbers."""
    n, rho, p = numbers["n_points"], numbers["spearman_rho"], numbers["spearman_p"]
    mw_p = numbers["mannwhitney_p_greater"]
    if n < MIN_POINTS:
        return (
            Verdict.INCONCLUSIVE,
            f"only {n} (layer, condition) point(s), fewer than {MIN_POINTS}.",
        )
    if math.isnan(rho):
        return Verdict.INCONCLUSIVE, "accuracy or alpha is constant over all points; rho undefined."
    if rho < 0 and p < SIGNIFICANCE:
        return (
            Verdict.FAIL,
            f"accuracy and alpha are anti-correlated (rho = {rho:.3f}, p = {p:.2g}).",
        )
    if not (rho > 0 and p < SIGNIFICANCE):
        return Verdict.INCONCLUSIVE, f"rho = {rho:.3f} is not significant (p = {p:.2g})."
    if math.isnan(mw_p):
        side = "reach" if numbers["n_high_accuracy"] == 0 else "fall below"
        return Verdict.INCONCLUSIVE, (
            f"rho = {rho:.3f} > 0 (p = {p:.2g}), but no point {side}s accuracy "
            f"{high_accuracy:g}, so high-accuracy alphas cannot be compared with the rest."
        )
    if mw_p >= SIGNIFICANCE:
        return Verdict.INCONCLUSIVE, (
            f"rho = {rho:.3f} > 0 (p = {p:.2g}), but alpha of the high-accuracy points is not "
            f"significantly above the rest (Mann-Whitney p = {mw_p:.2g})."
        )
    return Verdict.PASS, (
        f"rho = {rho:.3f} > 0 (p = {p:.2g}) and high-accuracy points have larger alpha "
        f"(Mann-Whitney p = {mw_p:.2g})."
    )


# --- claim 2 ----------------------------------------------------------------------------------


def _layer_monotonicity(rhos: list[float], threshold: float) -> str:
    """Claim-2 status of one layer from its per-seed rho(accuracy, alpha)."""
    if any(math.isnan(r) for r in rhos):
        return "undefined"
    strong = [abs(r) >= threshold for r in rhos]
    if all(strong) and len({np.sign(r) for r in rhos}) == 1:
        return "monotonic"
    if not any(strong):
        return "non-monotonic"
    return "mixed"


def _sign(values: list[float]) -> str | None:
    """'+' or '-' if all values share that sign, 'mixed' if not, None if any is undefined."""
    if not values or any(math.isnan(v) for v in values):
        return None
    signs = {np.sign(v) for v in values}
    return {1.0: "+", -1.0: "-"}.get(signs.pop(), "0") if len(signs) == 1 else "mixed"


def gaussian_monotonic(per_seed: pd.DataFrame, threshold: float) -> Outcome:
    """Claim 2: per layer and seed, rho(accuracy, alpha) along the sigma grid."""
    curves = _attack_curves(per_seed, "gaussian")
    strengths = sorted(curves["strength"].unique().tolist())
    seeds = sorted(curves["seed"].unique().tolist())
    per_layer = []
    for layer, sub in curves.groupby("layer"):
        rhos, alpha_trend, acc_trend = [], [], []
        for _, s in sub.groupby("seed"):
            ok = len(s) >= MIN_STRENGTHS
            rhos.append(_spearman(s["accuracy"], s["alpha"])[0] if ok else math.nan)
            alpha_trend.append(_spearman(s["strength"], s["alpha"])[0] if ok else math.nan)
            acc_trend.append(_spearman(s["strength"], s["accuracy"])[0] if ok else math.nan)
        per_layer.append(
            {
                "layer": int(layer),
                "rho_mean": float(np.mean(rhos)),
                "rho_per_seed": rhos,
                "sign": _sign(rhos),
                "rho_alpha_sigma_mean": float(np.mean(alpha_trend)),
                "rho_accuracy_sigma_mean": float(np.mean(acc_trend)),
                "status": _layer_monotonicity(rhos, threshold),
            }
        )
    numbers = {"strengths": strengths, "seeds": seeds, "per_layer": per_layer}
    return (numbers, *_verdict_claim2(per_layer, len(strengths), threshold))


def _verdict_claim2(
    per_layer: list[dict[str, Any]], n_strengths: int, threshold: float
) -> tuple[Verdict, str]:
    """Verdict and reason of claim 2 from the per-layer statuses."""
    if not per_layer:
        return Verdict.INCONCLUSIVE, "the summary has no Gaussian-noise rows."
    if n_strengths < MIN_STRENGTHS:
        return Verdict.INCONCLUSIVE, (
            f"only {n_strengths} sigma value(s) (0 included), fewer than {MIN_STRENGTHS}."
        )
    by_status: dict[str, list[int]] = {}
    for row in per_layer:
        by_status.setdefault(row["status"], []).append(row["layer"])
    n = len(per_layer)
    if "non-monotonic" in by_status:
        return Verdict.FAIL, (
            f"layer(s) {by_status['non-monotonic']} have |rho| < {threshold:g} for every seed."
        )
    if len(by_status.get("monotonic", [])) == n:
        return Verdict.PASS, f"all {n} layers have |rho| >= {threshold:g} with a consistent sign."
    parts = []
    if "undefined" in by_status:
        parts.append(
            f"layer(s) {by_status['undefined']} have constant accuracy or alpha (or too few "
            "strengths) for some seed, so rho is undefined"
        )
    if "mixed" in by_status:
        parts.append(
            f"layer(s) {by_status['mixed']} pass |rho| >= {threshold:g} for some seeds only, "
            "or with opposite signs"
        )
    return Verdict.INCONCLUSIVE, "; ".join(parts) + "."


# --- claim 3 ----------------------------------------------------------------------------------


def _interior_extremum(alpha: np.ndarray) -> tuple[str | None, int | None, float | None]:
    """(kind, index, depth) of the deeper interior global extremum of a curve, or Nones.

    Depth as claim 3 defines it: a_max - max(a_first, a_last) for a max, min(a_first, a_last)
    - a_min for a min. np.argmax/argmin return the first index, so a plateau that touches the
    first endpoint counts as that endpoint.
    """
    ends = (alpha[0], alpha[-1])
    best: tuple[str | None, int | None, float | None] = (None, None, None)
    candidates = [
        ("max", int(np.argmax(alpha)), lambda i: alpha[i] - max(ends)),
        ("min", int(np.argmin(alpha)), lambda i: min(ends) - alpha[i]),
    ]
    for kind, i, depth_of in candidates:
        if 0 < i < alpha.size - 1:
            depth = float(depth_of(i))
            if depth > 0 and (best[2] is None or depth > best[2]):
                best = (kind, i, depth)
    return best


def _fgsm_layer(sub: pd.DataFrame, min_depth: float) -> dict[str, Any]:
    """Claim-3 numbers of one layer from its per-seed FGSM curve rows."""
    grid = sub.groupby("strength").agg(
        alpha_mean=("alpha", "mean"),
        alpha_var=("alpha", lambda a: a.var(ddof=1) if len(a) > 1 else np.nan),
        accuracy_mean=("accuracy", "mean"),
    )
    eps = grid.index.to_numpy(dtype=np.float64)
    alpha = grid["alpha_mean"].to_numpy()
    variances = grid["alpha_var"].dropna().to_numpy()
    spread = float(np.sqrt(variances.mean())) if variances.size else math.nan
    kind, index, depth = _interior_extremum(alpha)
    rho_acc, p_acc = _spearman(eps, grid["accuracy_mean"].to_numpy())
    if depth is None or math.isnan(spread):
        deep, ratio = False, None
    else:
        deep = depth > min_depth * spread
        ratio = depth / spread if spread > 0 else None
    falls = not math.isnan(rho_acc) and rho_acc < 0
    return {
        "extremum": kind,
        "extremum_strength": float(eps[index]) if index is not None else None,
        "alpha_at_extremum": float(alpha[index]) if index is not None else None,
        "alpha_first": float(alpha[0]),
        "alpha_last": float(alpha[-1]),
        "depth": depth,
        "seed_spread": spread,
        "depth_over_spread": ratio,
        "rho_accuracy_eps": rho_acc,
        "p_accuracy_eps": p_acc,
        "rho_accuracy_alpha": _spearman(grid["accuracy_mean"].to_numpy(), alpha)[0],
        "shows_effect": bool(deep and falls),
    }


def fgsm_non_monotonic(per_seed: pd.DataFrame, min_depth: float) -> Outcome:
    """Claim 3: per layer, an interior extremum of alpha(eps) deeper than the seed spread."""
    curves = _attack_curves(per_seed, "fgsm")
    strengths = sorted(curves["strength"].unique().tolist())
    seeds = sorted(curves["seed"].unique().tolist())
    per_layer = [
        {"layer": int(layer), **_fgsm_layer(sub, min_depth)}
        for layer, sub in curves.groupby("layer")
    ]
    n_effect = sum(row["shows_effect"] for row in per_layer)
    numbers = {
        "strengths": strengths,
        "seeds": seeds,
        "n_layers": len(per_layer),
        "n_layers_with_effect": n_effect,
        "per_layer": per_layer,
    }
    return (numbers, *_verdict_claim3(numbers, min_depth))


def _verdict_claim3(numbers: dict[str, Any], min_depth: float) -> tuple[Verdict, str]:
    """Verdict and reason of claim 3 from its numbers."""
    n_layers, n_effect = numbers["n_layers"], numbers["n_layers_with_effect"]
    if n_layers == 0:
        return Verdict.INCONCLUSIVE, "the summary has no FGSM rows."
    if len(numbers["strengths"]) < MIN_STRENGTHS:
        return Verdict.INCONCLUSIVE, (
            f"only {len(numbers['strengths'])} eps value(s) (0 included), fewer than "
            f"{MIN_STRENGTHS}."
        )
    if len(numbers["seeds"]) < 2:
        return Verdict.INCONCLUSIVE, (
            "a single seed: there is no seed-to-seed spread to judge the extremum depth against."
        )
    summary = f"{n_effect} of {n_layers} layers show an interior extremum deeper than {min_depth:g}"
    summary += " x the seed spread while accuracy falls"
    if 2 * n_effect > n_layers:
        return Verdict.PASS, summary + " (a majority)."
    if n_effect == 0:
        return Verdict.FAIL, summary + "."
    return Verdict.INCONCLUSIVE, summary + ", not a majority."
