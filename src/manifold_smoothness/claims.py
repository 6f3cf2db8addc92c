"""Verdicts on the three claims of Jiang, Zhou & Huang (2021) from the per-layer summary table.

The summary has one row per seed x attack x strength x layer (see ``REQUIRED_COLUMNS``); the
rows of the Gaussian and FGSM sweeps at strength 0 are the clean condition again. Before any
statistic, rows with a non-finite accuracy or alpha are dropped (and counted), every attack's
strength-0 row is relabelled as the clean condition, and rows that then coincide are averaged,
so each (condition, layer, seed) enters once. "Mean over seeds" is the plain mean of those.

Claim 1 -- "high accuracy requires a relatively fast spectral decay (large alpha)".
    Points: every (layer, condition) pair, condition = clean or one (attack, strength), with
    accuracy and alpha averaged over seeds. Statistics: the Spearman rank correlation rho
    between accuracy and alpha over all points (two-sided p from ``scipy.stats.spearmanr``);
    the one-sided Mann-Whitney U test that the alphas of the high-accuracy points
    (accuracy >= ``high_accuracy``) are stochastically greater than those of the other points;
    descriptively, the fraction of high-accuracy points whose alpha exceeds the median alpha of
    all points, and their minimum alpha against the smoothness bound 1 + 2/d.
    PASS: rho > 0 with p < 0.05 and Mann-Whitney p < 0.05. FAIL: rho < 0 with p < 0.05.
    INCONCLUSIVE: otherwise, or fewer than ``MIN_POINTS`` points, constant accuracy or alpha, or
    no point on one side of the accuracy threshold. The points are not independent (layers of
    one net, neighbouring strengths), so the p-values are nominal, not exact.

Claim 2 -- "under Gaussian noise, accuracy vs alpha is monotonic for each layer".
    For each layer and each seed, the Spearman rho between accuracy and alpha along the sigma
    grid (sigma = 0, the clean condition, included). A layer is *monotonic* if every seed has
    |rho| >= ``monotonic_rho`` with the same sign, *non-monotonic* if every seed has
    |rho| < ``monotonic_rho``, *mixed* otherwise and *undefined* if some seed's accuracy or alpha
    is constant along the grid (rho undefined). PASS: every layer monotonic. FAIL: at least one
    layer non-monotonic. INCONCLUSIVE: otherwise, or fewer than ``MIN_STRENGTHS`` strengths.

Claim 3 -- "under FGSM, accuracy vs alpha is non-monotonic".
    Per layer, on the seed-mean curve alpha(eps) (eps = 0 included) with endpoints a_first and
    a_last: the global maximum, if strictly inside the grid, has depth
    a_max - max(a_first, a_last); the global minimum, if strictly inside, has depth
    min(a_first, a_last) - a_min (i.e. min over the two endpoints of |a_ext - a_endpoint|, and
    positive only for a true interior extremum). The deeper of the two is the layer's interior
    extremum. The seed spread is the pooled standard deviation over seeds,
    sqrt(mean over eps of the per-eps sample variance, ddof = 1), a single scale per layer that
    is steadier than the std at one eps with few seeds. The layer *shows the effect* if its
    depth > ``min_extremum_depth`` x spread and accuracy falls with eps (Spearman rho between
    seed-mean accuracy and eps < 0). A non-monotonic alpha(eps) with a falling accuracy(eps)
    makes accuracy vs alpha non-monotonic. PASS: a strict majority of layers show the effect.
    FAIL: no layer does. INCONCLUSIVE: otherwise, or a single seed (no spread), or fewer than
    ``MIN_STRENGTHS`` strengths.

Smoothness bound (Stringer et al., Nature 2019): a representation of a d-dimensional input
manifold can only be smooth if alpha >= 1 + 2/d. Reported per layer for the clean condition and
for the strongest strength of each attack (seed means), plus the fraction of all conditions in
which a layer meets it. It is descriptive, with no verdict.

``evaluate_claims`` returns a JSON-serialisable dict (NaN and inf become None) and
``render_markdown`` turns it into the report; the thresholds come from the config's ``claims``
section, the significance level and minimum counts are fixed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "ATTACKS",
    "MIN_POINTS",
    "MIN_STRENGTHS",
    "REQUIRED_COLUMNS",
    "SIGNIFICANCE",
    "THRESHOLD_KEYS",
    "ClaimsError",
    "Verdict",
    "evaluate_claims",
    "render_markdown",
    "smoothness_bound",
]

SIGNIFICANCE = 0.05  # level of every test
MIN_STRENGTHS = 4  # fewest strengths (0 included) for a trend along an attack's grid
MIN_POINTS = 5  # fewest (layer, condition) points for claim 1
ATTACKS = ("clean", "gaussian", "fgsm")
THRESHOLD_KEYS = ("high_accuracy", "monotonic_rho", "min_extremum_depth")
REQUIRED_COLUMNS = ("dataset", "model", "seed", "attack", "strength", "layer", "accuracy", "alpha")
_KEYS = ["attack", "strength", "layer", "seed"]


class Verdict(str, Enum):
    """Outcome of one claim; the value is the plain string stored in the result."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


class ClaimsError(ValueError):
    """Raised when the summary, thresholds or input dimension cannot be evaluated."""


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


def _check_thresholds(thresholds: Mapping[str, Any]) -> dict[str, float]:
    """Return the three thresholds as floats; other keys (e.g. input_dimension) are ignored."""
    if not isinstance(thresholds, Mapping):
        raise ClaimsError(f"thresholds must be a mapping; got {type(thresholds).__name__}.")
    missing = [k for k in THRESHOLD_KEYS if k not in thresholds]
    if missing:
        raise ClaimsError(f"thresholds lack key(s) {missing}; expected {list(THRESHOLD_KEYS)}.")
    out: dict[str, float] = {}
    for key in THRESHOLD_KEYS:
        value = thresholds[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ClaimsError(f"threshold {key} must be a number; got {value!r}.")
        out[key] = float(value)
    if not 0.0 < out["high_accuracy"] <= 1.0:
        raise ClaimsError(f"high_accuracy must be in (0, 1]; got {out['high_accuracy']!r}.")
    if not 0.0 < out["monotonic_rho"] <= 1.0:
        raise ClaimsError(f"monotonic_rho must be in (0, 1]; got {out['monotonic_rho']!r}.")
    if not (math.isfinite(out["min_extremum_depth"]) and out["min_extremum_depth"] >= 0.0):
        raise ClaimsError(
            f"min_extremum_depth must be finite and >= 0; got {out['min_extremum_depth']!r}."
        )
    return out


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
    unknown = sorted(set(map(str, summary["attack"].unique())) - set(ATTACKS))
    if unknown:
        raise ClaimsError(f"summary has unknown attack(s) {unknown}; expected {list(ATTACKS)}.")
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
    if (strength[df["attack"] == "clean"] != 0).any():
        raise ClaimsError("clean rows must have strength 0; found a clean row with strength > 0.")
    df["strength"] = strength.round(12)
    finite = np.isfinite(df["accuracy"]) & np.isfinite(df["alpha"])
    dataset, model = str(summary["dataset"].iloc[0]), str(summary["model"].iloc[0])
    kept = df[finite]
    if kept.empty:
        raise ClaimsError("every summary row has a non-finite accuracy or alpha.")
    return kept, dataset, model, int((~finite).sum())


# --- tables -----------------------------------------------------------------------------------


def _per_seed(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (attack, strength, layer, seed); strength-0 attack rows become 'clean'."""
    df = df.copy()
    df.loc[df["strength"] == 0, "attack"] = "clean"
    return df.groupby(_KEYS, as_index=False)[["accuracy", "alpha"]].mean()


def _attack_curves(per_seed: pd.DataFrame, attack: str) -> pd.DataFrame:
    """Rows of one attack's sweep with the clean rows as its strength 0, sorted by strength."""
    rows = per_seed[per_seed["attack"].isin(["clean", attack])]
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


def _claim(
    number: int,
    name: str,
    statement: str,
    statistic: str,
    numbers: dict,
    verdict: Verdict,
    reason: str,
) -> dict[str, Any]:
    """One claim's entry of the result."""
    return {
        "id": number,
        "name": name,
        "statement": statement,
        "statistic": statistic,
        "numbers": numbers,
        "verdict": verdict.value,
        "reason": reason,
    }


# --- claim 1 ----------------------------------------------------------------------------------


def _claim_accuracy_needs_decay(
    per_seed: pd.DataFrame, high_accuracy: float, bound: float
) -> dict[str, Any]:
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
    for attack in ("gaussian", "fgsm"):
        sub = points[points["attack"].isin(["clean", attack])]
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
    verdict, reason = _verdict_claim1(numbers, high_accuracy)
    statistic = (
        "Spearman rho between accuracy and alpha over every (layer, condition) point, seed "
        "means, clean counted once (two-sided p); one-sided Mann-Whitney U test that alpha of "
        f"the points with accuracy >= {high_accuracy:g} exceeds alpha of the others. PASS if "
        f"rho > 0 with p < {SIGNIFICANCE:g} and Mann-Whitney p < {SIGNIFICANCE:g}; FAIL if "
        f"rho < 0 with p < {SIGNIFICANCE:g}. Also reported: the fraction of high-accuracy "
        "points with alpha above the median alpha, and their minimum alpha against 1 + 2/d. "
        "Points share networks, so p-values are nominal."
    )
    return _claim(
        1,
        "high accuracy requires fast spectral decay",
        "High accuracy requires a relatively fast spectral decay (large alpha).",
        statistic,
        numbers,
        verdict,
        reason,
    )


def _verdict_claim1(numbers: dict[str, Any], high_accuracy: float) -> tuple[Verdict, str]:
    """Verdict and reason of claim 1 from its numbers (see the module docstring)."""
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
    """Status of one layer from its per-seed rho(accuracy, alpha) (see the module docstring)."""
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


def _claim_gaussian_monotonic(per_seed: pd.DataFrame, threshold: float) -> dict[str, Any]:
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
    verdict, reason = _verdict_claim2(per_layer, len(strengths), threshold)
    statistic = (
        "Per layer and seed, Spearman rho between accuracy and alpha along the sigma grid "
        "(sigma = 0 included). A layer is monotonic if every seed has "
        f"|rho| >= {threshold:g} with one sign, non-monotonic if every seed has "
        f"|rho| < {threshold:g}. PASS if every layer is monotonic; FAIL if any layer is "
        f"non-monotonic; needs >= {MIN_STRENGTHS} strengths."
    )
    return _claim(
        2,
        "Gaussian noise: monotonic accuracy vs alpha",
        "Under Gaussian noise, accuracy vs alpha is monotonic for each layer.",
        statistic,
        numbers,
        verdict,
        reason,
    )


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

    Depth of an interior max: a_max - max(a_first, a_last); of an interior min:
    min(a_first, a_last) - a_min. Both are > 0 exactly when the extremum is strictly beyond
    both endpoints; np.argmax/argmin return the first index, so a plateau that touches the
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


def _claim_fgsm_non_monotonic(per_seed: pd.DataFrame, min_depth: float) -> dict[str, Any]:
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
    verdict, reason = _verdict_claim3(numbers, min_depth)
    statistic = (
        "Per layer, on the seed-mean alpha(eps) (eps = 0 included): the deeper interior global "
        "extremum, depth = min over the two endpoints of |alpha(extremum) - alpha(endpoint)|, "
        "compared with the pooled seed spread sqrt(mean over eps of the variance over seeds). "
        f"A layer shows the effect if depth > {min_depth:g} x spread and Spearman "
        "rho(accuracy, eps) < 0. PASS if a strict majority of layers do; FAIL if none; needs "
        f">= 2 seeds and >= {MIN_STRENGTHS} strengths."
    )
    return _claim(
        3,
        "FGSM: non-monotonic accuracy vs alpha",
        "Under FGSM, accuracy vs alpha is non-monotonic.",
        statistic,
        numbers,
        verdict,
        reason,
    )


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


# --- smoothness bound -------------------------------------------------------------------------


def _smoothness_section(per_seed: pd.DataFrame, bound: float) -> dict[str, Any]:
    """Seed-mean alpha per layer vs 1 + 2/d: clean, strongest attack strengths, all conditions."""
    means = per_seed.groupby(["attack", "strength", "layer"], as_index=False)["alpha"].agg(
        ["mean", "std", "count"]
    )
    conditions = [("clean", 0.0)]
    for attack in ("gaussian", "fgsm"):
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
    limits = _check_thresholds(thresholds)
    d = _check_dimension(input_dimension)
    bound = smoothness_bound(d)
    df, dataset, model, n_dropped = _check_summary(summary)
    per_seed = _per_seed(df)
    claims = [
        _claim_accuracy_needs_decay(per_seed, limits["high_accuracy"], bound),
        _claim_gaussian_monotonic(per_seed, limits["monotonic_rho"]),
        _claim_fgsm_non_monotonic(per_seed, limits["min_extremum_depth"]),
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


# --- markdown ---------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    """A number or flag as table text: 3 significant digits, 'n/a' for None, yes/no."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.2e}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.3g}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # A literal "|" (as in "|rho|") would split a cell; Markdown escapes it as "\|".
    lines += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return lines


def _claim_head(claim: dict[str, Any]) -> list[str]:
    """Heading, statement, statistic and verdict lines of one claim's section."""
    return [
        f"## Claim {claim['id']}: {claim['name']}",
        "",
        f"> {claim['statement']}",
        "",
        f"**Statistic.** {claim['statistic']}",
        "",
        f"**Verdict: {claim['verdict']}.** {claim['reason']}",
        "",
    ]


def _claim1_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 1."""
    scalars = [[k, v] for k, v in numbers.items() if k != "by_attack"]
    lines = _table(["quantity", "value"], scalars) + [""]
    if numbers["by_attack"]:
        lines += ["Within one sweep (clean points included; descriptive only):", ""]
        rows = [[r["attack"], r["n_points"], r["rho"], r["p"]] for r in numbers["by_attack"]]
        lines += _table(["sweep", "points", "Spearman rho", "p"], rows) + [""]
    return lines


def _claim2_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 2."""
    seeds = ", ".join(map(str, numbers["seeds"]))
    lines = [f"Sigma grid: {len(numbers['strengths'])} values; seeds: {seeds}.", ""]
    rows = [
        [
            r["layer"],
            r["rho_mean"],
            ", ".join(_fmt(v) for v in r["rho_per_seed"]),
            r["sign"],
            r["rho_alpha_sigma_mean"],
            r["rho_accuracy_sigma_mean"],
            r["status"],
        ]
        for r in numbers["per_layer"]
    ]
    header = [
        "layer",
        "mean rho(acc, alpha)",
        "rho per seed",
        "sign",
        "mean rho(alpha, sigma)",
        "mean rho(acc, sigma)",
        "status",
    ]
    return lines + _table(header, rows) + [""]


def _claim3_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 3."""
    seeds = ", ".join(map(str, numbers["seeds"]))
    lines = [f"Eps grid: {len(numbers['strengths'])} values; seeds: {seeds}.", ""]
    rows = [
        [
            r["layer"],
            r["extremum"],
            r["extremum_strength"],
            r["alpha_first"],
            r["alpha_at_extremum"],
            r["alpha_last"],
            r["depth"],
            r["seed_spread"],
            r["depth_over_spread"],
            r["rho_accuracy_eps"],
            r["rho_accuracy_alpha"],
            r["shows_effect"],
        ]
        for r in numbers["per_layer"]
    ]
    header = [
        "layer",
        "extremum",
        "at eps",
        "alpha(eps=0)",
        "alpha(extremum)",
        "alpha(eps max)",
        "depth",
        "seed spread",
        "depth / spread",
        "rho(acc, eps)",
        "rho(acc, alpha)",
        "effect",
    ]
    return lines + _table(header, rows) + [""]


def _smoothness_body(result: dict[str, Any]) -> list[str]:
    """The smoothness-bound section."""
    section = result["smoothness"]
    lines = [
        "## Smoothness bound",
        "",
        f"Stringer et al. (2019): a smooth code of a d-dimensional input manifold needs "
        f"alpha >= 1 + 2/d. With d = {_fmt(result['input_dimension'])} "
        f"({result['input_dimension_source']}) the bound is {_fmt(section['bound'])}. "
        "Alpha is the seed mean (std over seeds in brackets); descriptive, no verdict.",
        "",
    ]
    header = ["layer"]
    for c in section["conditions"]:
        label = "clean" if c["attack"] == "clean" else f"{c['attack']} at {_fmt(c['strength'])}"
        header += [f"alpha {label}", "meets"]
    header.append("fraction of conditions meeting")
    rows = []
    for r in section["per_layer"]:
        row: list[Any] = [r["layer"]]
        for c in section["conditions"]:
            cell = r[c["attack"]]
            text = f"{_fmt(cell['alpha_mean'])} ({_fmt(cell['alpha_std'])})"
            row += [text, cell["meets_bound"]]
        row.append(r["fraction_conditions_meeting_bound"])
        rows.append(row)
    return lines + _table(header, rows) + [""]


def render_markdown(result: dict[str, Any]) -> str:
    """Render the output of ``evaluate_claims`` as a Markdown report."""
    claims = result["claims"]
    lines = [
        f"# Claims check: {result['dataset']} / {result['model']}",
        "",
        f"Seeds: {', '.join(map(str, result['seeds']))}; layers: "
        f"{', '.join(map(str, result['layers']))}; {result['n_rows']} summary rows "
        f"({result['n_rows_dropped_non_finite']} dropped for a non-finite accuracy or alpha).",
        "",
    ]
    lines += _table(
        ["claim", "statement", "verdict", "reason"],
        [[c["id"], c["statement"], f"**{c['verdict']}**", c["reason"]] for c in claims],
    )
    lines.append("")
    bodies = {1: _claim1_body, 2: _claim2_body, 3: _claim3_body}
    for claim in claims:
        lines += _claim_head(claim) + bodies[claim["id"]](claim["numbers"])
    lines += _smoothness_body(result)
    t, fixed = result["thresholds"], result["fixed_parameters"]
    lines += [
        "## Thresholds",
        "",
        f"From the config (`claims` section): high_accuracy = {_fmt(t['high_accuracy'])}, "
        f"monotonic_rho = {_fmt(t['monotonic_rho'])}, "
        f"min_extremum_depth = {_fmt(t['min_extremum_depth'])}; input dimension "
        f"d = {_fmt(result['input_dimension'])} ({result['input_dimension_source']}). "
        f"Fixed in code: significance level {_fmt(fixed['significance'])}, at least "
        f"{fixed['min_strengths']} strengths per sweep, at least {fixed['min_points']} points "
        "for claim 1.",
        "",
    ]
    return "\n".join(lines)
