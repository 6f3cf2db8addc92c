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
    "envelope_gap",
    "pooled_seed_variance",
    "reversal",
    "shape_claims",
    "smoothness_margins",
    "spearman",
    "sweep_curves",
]

SUPPORTED, CONTRADICTED, MIXED, UNDEFINED = "supported", "contradicted", "mixed", "undefined"
MONOTONIC, NON_MONOTONIC = "monotonic", "non-monotonic"


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


def _layer_status(rhos: list[float], gaps: list[float], min_rho: float, min_gap: float) -> str:
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
        "status": _layer_status(rhos, gaps, limits["min_rho"], limits["min_accuracy_gap"]),
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
    verdict, reason = _claim1_verdict(status, len(layers))
    return Outcome(numbers, verdict, reason, _claim1_meaning(verdict, status, len(layers)))


def _majority(count: int, total: int) -> bool:
    return 2 * count > total


def _claim1_verdict(status: dict[str, dict[str, list[int]]], n: int) -> tuple[Verdict, str]:
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
    """

    depth: float
    se: float
    rise: float
    fall: float
    kind: str | None
    start: int | None
    end: int | None


def reversal(curve: np.ndarray, se: np.ndarray) -> Reversal:
    """Reversal of a curve c: (K,) with standard errors s: (K,), K >= 2.

    R = max_{i<j} c_j - c_i, F = max_{i<j} c_i - c_j; depth D = max(0, min(R, F)) at the pair
    of the smaller one, se_D = sqrt(s_i^2 + s_j^2) of that pair.
    """
    c, s = np.asarray(curve, dtype=np.float64), np.asarray(se, dtype=np.float64)
    i, j = np.triu_indices(c.size, k=1)
    steps = c[j] - c[i]
    up, down = int(np.argmax(steps)), int(np.argmax(-steps))
    rise, fall = float(steps[up]), float(-steps[down])
    pair, kind = (up, "rise") if rise <= fall else (down, "fall")
    depth = min(rise, fall)
    if depth <= 0:
        return Reversal(0.0, math.nan, rise, fall, None, None, None)
    start, end = int(i[pair]), int(j[pair])
    return Reversal(depth, float(math.hypot(s[start], s[end])), rise, fall, kind, start, end)


def curve_shape(
    curve: np.ndarray, se: np.ndarray, min_effect: float, k: float
) -> tuple[str, Reversal]:
    """(shape, reversal) of c: (K,) with standard errors s: (K,): non-monotonic if the
    reversal depth D >= min_effect and D >= k * se_D, monotonic otherwise, undefined for
    fewer than MIN_STRENGTHS points."""
    if len(curve) < MIN_STRENGTHS:
        return UNDEFINED, Reversal(math.nan, math.nan, math.nan, math.nan, None, None, None)
    rev = reversal(curve, se)
    real = rev.depth > 0 and rev.depth >= min_effect and rev.depth >= k * rev.se
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


def _curve_row(
    rows: pd.DataFrame, fallback_accuracy: pd.Series, limits: dict[str, float]
) -> dict[str, Any]:
    """Shape numbers of one (model, attack, layer) from its rows (seed, strength, alpha, ...)."""
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
    source = "layer"
    if not np.isfinite(accuracy).all():
        accuracy, source = fallback_accuracy.reindex(strengths).to_numpy(), "last layer"
    k, min_effect = limits["uncertainty_k"], limits["min_alpha_effect"]
    shape, rev = curve_shape(np.array(means), np.array(ses), min_effect, k)
    at_pair = rev.start is not None
    return {
        "shape": shape,
        "depth": rev.depth,
        "se_depth": rev.se,
        "k_se_depth": k * rev.se,
        "min_effect": min_effect,
        "rise": rev.rise,
        "fall": rev.fall,
        "reversal": rev.kind,
        "from_strength": strengths[rev.start] if at_pair else None,
        "to_strength": strengths[rev.end] if at_pair else None,
        "n_strengths": len(strengths),
        "n_seeds": min(n_seeds),
        "alpha_first": means[0],
        "alpha_last": means[-1],
        "net_change": means[-1] - means[0],
        "accuracy_trend": spearman(strengths, accuracy),
        "accuracy_source": source,
        "flags": sorted(flags),
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


def _shape_verdict(
    spec: ClaimSpec, numbers: dict[str, Any], majority: float
) -> tuple[Verdict, str]:
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
    extra = "".join(f"; {e}" for e in extras)
    return (
        f"The paper's Gaussian-noise claim {word[gauss.verdict]}: {contrast}.",
        f"The paper's FGSM claim {word[fgsm.verdict]}: {contrast}{extra}.",
    )


def shape_claims(
    sweeps: pd.DataFrame, models: pd.DataFrame, limits: dict[str, float]
) -> tuple[Outcome, Outcome]:
    """Claims 2 and 3 from one shape statistic over every sweep's curves."""
    curves = sweep_curves(sweeps, models, limits)
    outcomes = []
    for spec in (GAUSSIAN_MONOTONIC, FGSM_NON_MONOTONIC):
        numbers = _shape_numbers(spec, curves)
        outcomes.append(
            Outcome(numbers, *_shape_verdict(spec, numbers, limits["monotonic_majority"]))
        )
    gauss, fgsm = outcomes
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
