"""The spectral intervention: does making the hidden spectrum decay faster make a network more
robust? A causal test of the paper's correlational claim.

A family of networks is trained with a spectral penalty (Nassar et al. 2020) that pushes each
hidden layer's covariance spectrum towards lambda_n ~ n^-exponent, at several penalty weights
(weight 0: the unpenalised baseline) and target exponents, over a few seeds. Per network-seed
we measure alpha (the mean over hidden layers of the fitted exponent), the clean accuracy and
the robustness: the median over test images of the smallest L-inf perturbation that flips the
prediction (0 for a misclassified image, inf where the attack could not flip it).

The statistic (``STATISTIC_TEXT``): the OLS slope of relative robustness R = median distance /
the baseline's seed-mean median distance on alpha, over the network-seeds of the networks whose
clean accuracy is matched to the baseline's. Null: slope 0. Uncertainty: a percentile bootstrap
that resamples seeds with replacement within each network. Minimum effect: ``min_effect``
relative median distance per unit alpha; relative robustness keeps the threshold scale-free
across datasets and attack budgets.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from manifold_smoothness.audit_checks import AUDIT_ATTACKS, WORST
from manifold_smoothness.claims_report import markdown_table
from manifold_smoothness.claims_spec import Interval
from manifold_smoothness.vocabulary import refuse_unknown_keys

__all__ = [
    "CAUSAL_SUPPORT",
    "INCONCLUSIVE",
    "NO_EFFECT",
    "NO_MANIPULATION",
    "OPPOSITE",
    "STATISTIC_TEXT",
    "THRESHOLDS",
    "UNDEFINED",
    "VERDICTS",
    "Penalty",
    "VerdictSettings",
    "decide",
    "network_table",
    "ols_slope",
    "rank_correlation",
    "render_markdown",
    "robustness_of_verdict",
    "sensitivity",
]

CAUSAL_SUPPORT, OPPOSITE, NO_EFFECT = "causal support", "opposite", "no effect"
# Why a penalised network is left out of the comparison
COSTS_ACCURACY = "costs clean accuracy"
ALPHA_UNDEFINED = "alpha undefined: a layer has too few valid eigenvalues for the fit window"
INCONCLUSIVE, NO_MANIPULATION, UNDEFINED = "inconclusive", "no manipulation", "undefined"
VERDICTS = (CAUSAL_SUPPORT, OPPOSITE, NO_EFFECT, INCONCLUSIVE, NO_MANIPULATION, UNDEFINED)
THRESHOLDS = ("accuracy_tolerance", "min_effect")  # the axes of the sensitivity grid

STATISTIC_TEXT = (
    "OLS slope of the relative robustness R = median adversarial L-inf distance / the "
    "baseline's seed-mean median distance on alpha (mean over hidden layers), over the "
    "network-seeds of the baseline and of every network whose mean clean accuracy is at most "
    "{accuracy_tolerance:g} below the baseline's. Null: slope 0. Uncertainty: {confidence_pct} "
    "percentile bootstrap ({bootstrap} resamples of the seeds within each network, the "
    "baseline's normaliser recomputed in each; generator seed {seed}). Minimum effect: "
    "|slope| > {min_effect:g}. Verdict: causal support if the interval lies above "
    "{min_effect:g}, opposite if below -{min_effect:g}, no effect if inside "
    "(-{min_effect:g}, {min_effect:g}), inconclusive otherwise; no manipulation if the kept "
    "networks' mean alphas span less than {min_alpha_range:g}."
)

_TOLERANCE_SLACK = 1e-9  # accuracies are multiples of 1/n: a deficit of exactly the tolerance
# (0.97 - 0.96 = 0.01000000000000009 in floating point) is not "more than" it
_LAYER_ALPHA = re.compile(r"alpha_(\d+)$")


@dataclass(frozen=True)
class Penalty:
    """The spectral penalty of one network: weight 0 (exponent None) is the baseline."""

    weight: float
    exponent: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"penalty weight {self.weight!r} must be a finite number >= 0")
        if self.exponent is None and self.weight > 0:
            raise ValueError(f"a penalty of weight {self.weight:g} needs a target exponent")
        if self.exponent is not None and not (math.isfinite(self.exponent) and self.exponent > 0):
            raise ValueError(f"penalty exponent {self.exponent!r} must be a finite number > 0")


_RANGES = {
    "accuracy_tolerance": Interval(0.0, 1.0),
    "min_effect": Interval(0.0),
    "min_alpha_range": Interval(0.0),
    "confidence": Interval(0.0, 1.0, low_open=True),
}
_SMALLEST_COUNT = {"bootstrap": 2, "seed": 0}


@dataclass(frozen=True)
class VerdictSettings:
    """The thresholds and bootstrap of the intervention's verdict (see ``STATISTIC_TEXT``)."""

    accuracy_tolerance: float = 0.01
    min_effect: float = 0.1
    min_alpha_range: float = 0.1
    confidence: float = 0.95
    bootstrap: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        for key, allowed in _RANGES.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"intervention setting {key!r}: {value!r} is not a number")
            if float(value) not in allowed:
                raise ValueError(f"intervention setting {key!r}: {value!r} is not in {allowed}")
            object.__setattr__(self, key, float(value))
        for key, smallest in _SMALLEST_COUNT.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"intervention setting {key!r}: {value!r} is not an integer")
            if value < smallest:
                raise ValueError(f"intervention setting {key!r}: {value!r} is below {smallest}")
            object.__setattr__(self, key, int(value))

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any]) -> VerdictSettings:
        """Settings from a config mapping; absent keys take their defaults."""
        refuse_unknown_keys("intervention verdict settings", mapping, cls)
        return cls(**mapping)


# --- the network table ------------------------------------------------------------------------


def network_table(
    summary: pd.DataFrame,
    distances: pd.DataFrame,
    family: Mapping[str, Penalty],
    audit: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (model, seed) of the family: model, seed, weight, exponent (NaN for the
    baseline), clean_accuracy (the last layer's readout), alpha (layer mean), alpha_1..alpha_L,
    median_distance, censored (fraction inf), n_samples, then '<attack>@<budget>' accuracies
    if `audit` is given. Rows: summary's clean final rows (model, seed, layer, alpha,
    accuracy) and distances' rows (model, seed, distance); ValueError names a family model or
    seed missing from either."""
    clean = summary[(summary["attack"] == "clean") & summary["final"].astype(bool)]
    parts = []
    for model, penalty in family.items():
        spectra = _spectra(clean[clean["model"] == model], model)
        robust = _robustness(distances[distances["model"] == model], model)
        _check_seeds(model, spectra.index, robust.index)
        part = spectra.join(robust).rename_axis("seed").reset_index()
        exponent = math.nan if penalty.exponent is None else penalty.exponent
        part.insert(0, "model", model)
        part.insert(2, "weight", float(penalty.weight))
        part.insert(3, "exponent", float(exponent))
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    layers = sorted((c for c in table.columns if _LAYER_ALPHA.match(c)), key=_layer_of)
    head = ["model", "seed", "weight", "exponent", "clean_accuracy", "alpha", *layers]
    table = table[[*head, "median_distance", "censored", "n_samples"]]
    if audit is not None:
        table = table.merge(_audit_columns(audit), on=["model", "seed"], how="left")
    order = ["weight", "exponent", "model", "seed"]
    return table.sort_values(order, na_position="first", ignore_index=True)


def _layer_of(column: str) -> int:
    return int(_LAYER_ALPHA.match(column).group(1))


def _spectra(rows: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per seed (index): clean_accuracy, alpha and alpha_1..alpha_L of one model's clean final
    rows (one per seed and layer)."""
    if rows.empty:
        raise ValueError(
            f"model {model!r} has no clean final rows (attack 'clean', final True) in the "
            "summary; summarise its runs first"
        )
    duplicated = rows[rows.duplicated(["seed", "layer"])]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise ValueError(
            f"model {model!r} seed {first['seed']} has several clean final rows for layer "
            f"{first['layer']}; keep one summary per run"
        )
    alphas = rows.pivot(index="seed", columns="layer", values="alpha").sort_index(axis=1)
    alphas.columns = [f"alpha_{int(layer)}" for layer in alphas.columns]
    last = rows[rows["layer"] == rows.groupby("seed")["layer"].transform("max")]
    spectra = pd.DataFrame(
        {
            "clean_accuracy": last.set_index("seed")["accuracy"],
            "alpha": alphas.mean(axis=1, skipna=False),  # NaN if a layer's fit failed
        }
    )
    return spectra.join(alphas)


def _robustness(rows: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per seed (index): median_distance (inf if at least half the images are censored),
    censored (fraction inf) and n_samples of one model's per-image distances."""
    if rows.empty:
        raise ValueError(
            f"model {model!r} has no adversarial distances; run the distance attack on it"
        )
    bad = rows[~(rows["distance"] >= 0)]  # NaN or negative
    if not bad.empty:
        raise ValueError(
            f"model {model!r} seed {bad['seed'].iloc[0]}: distance {bad['distance'].iloc[0]!r}; "
            "a distance is >= 0, or inf where the attack could not flip the image"
        )
    by_seed = rows.groupby("seed")["distance"]
    return pd.DataFrame(
        {
            "median_distance": by_seed.agg(lambda d: float(np.median(d.to_numpy()))),
            "censored": by_seed.agg(lambda d: float(np.isinf(d.to_numpy()).mean())),
            "n_samples": by_seed.size(),
        }
    )


def _check_seeds(model: str, spectra: pd.Index, robust: pd.Index) -> None:
    """ValueError naming the seeds of `model` that lack distances or summary rows."""
    if len(missing := spectra.difference(robust)):
        raise ValueError(
            f"model {model!r} seed(s) {missing.tolist()} have no adversarial distances; run "
            "the distance attack on them"
        )
    if len(missing := robust.difference(spectra)):
        raise ValueError(
            f"model {model!r} seed(s) {missing.tolist()} have distances but no clean final "
            "rows in the summary; summarise their runs"
        )


def _audit_columns(audit: pd.DataFrame) -> pd.DataFrame:
    """(model, seed) rows with one '<attack>@<budget>' accuracy column per attack and budget
    (attacks in AUDIT_ATTACKS order, then worst; budgets ascending)."""
    rank = {attack: i for i, attack in enumerate((*AUDIT_ATTACKS, WORST))}
    pairs = sorted(
        set(zip(audit["attack"], audit["budget"], strict=True)),
        key=lambda pair: (rank.get(pair[0], len(rank)), pair[0], pair[1]),
    )
    names = [f"{attack}@{budget:g}" for attack, budget in pairs]
    keyed = audit.assign(
        column=[f"{a}@{b:g}" for a, b in zip(audit["attack"], audit["budget"], strict=True)]
    )
    wide = keyed.pivot_table(
        index=["model", "seed"], columns="column", values="accuracy", aggfunc="mean"
    )
    return wide[names].reset_index().rename_axis(columns=None)


# --- the statistic ----------------------------------------------------------------------------


def ols_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x along the last axis: (..., n), (..., n) -> (...);
    NaN where x is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx = x - x.mean(axis=-1, keepdims=True)
    dy = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (dx * dy).sum(axis=-1) / (dx * dx).sum(axis=-1)
    return np.where(np.ptp(x, axis=-1) > 0, slope, np.nan)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho along the last axis: (..., n), (..., n) -> (...); NaN for n < 3, a
    constant row or a NaN (inf ranks as the largest)."""
    rx = stats.rankdata(np.asarray(x, dtype=np.float64), axis=-1)
    ry = stats.rankdata(np.asarray(y, dtype=np.float64), axis=-1)
    dx = rx - rx.mean(axis=-1, keepdims=True)
    dy = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (dx * dy).sum(axis=-1) / np.sqrt((dx * dx).sum(axis=-1) * (dy * dy).sum(axis=-1))
    varies = (np.ptp(rx, axis=-1) > 0) & (np.ptp(ry, axis=-1) > 0)
    return np.where(varies & (rx.shape[-1] >= 3), rho, np.nan)


def _per_network(networks: pd.DataFrame) -> pd.DataFrame:
    """One row per model (index, in table order): weight, exponent, n_seeds and the seed mean
    of clean_accuracy, alpha and median_distance, with alpha_sd (seed sd, ddof 1)."""
    by_model = networks.groupby("model", sort=False)
    return pd.DataFrame(
        {
            "weight": by_model["weight"].first(),
            "exponent": by_model["exponent"].first(),
            "n_seeds": by_model.size(),
            "clean_accuracy": by_model["clean_accuracy"].mean(),
            "alpha": by_model["alpha"].mean(),
            "alpha_sd": by_model["alpha"].std(ddof=1),
            "alpha_defined": by_model["alpha"].apply(lambda a: bool(np.isfinite(a).all())),
            "median_distance": by_model["median_distance"].mean(),
        }
    )


def _split(
    per_network: pd.DataFrame, baseline: str, tolerance: float
) -> tuple[list[str], list[dict[str, Any]]]:
    """(kept models, baseline first; the others, each with why it is left out: it costs more
    than `tolerance` of the baseline's clean accuracy, or a layer of one of its seeds has no
    alpha (the penalty collapsed it onto too few directions for the fit window))."""
    reference = per_network.at[baseline, "clean_accuracy"]
    deficit = reference - per_network["clean_accuracy"]
    costly = deficit > tolerance + _TOLERANCE_SLACK
    undefined = ~per_network["alpha_defined"].astype(bool)
    left_out = (costly | undefined) & (per_network.index != baseline)
    kept = [baseline, *(m for m in per_network.index[~left_out] if m != baseline)]
    excluded = [
        {
            "model": model,
            "reason": COSTS_ACCURACY if costly[model] else ALPHA_UNDEFINED,
            "clean_accuracy": per_network.at[model, "clean_accuracy"],
            "baseline_accuracy": reference,
            "deficit": deficit[model],
        }
        for model in per_network.index[left_out]
    ]
    return kept, excluded


def _undefined(rows: pd.DataFrame, kept: list[str], baseline: str) -> str | None:
    """Why the slope cannot be read from the kept network-seeds `rows`, or None."""
    if len(kept) < 2:
        return f"only the baseline {baseline!r} is kept: fewer than two networks to compare"
    censored = rows[~np.isfinite(rows["median_distance"])]
    if not censored.empty:
        which = ", ".join(
            f"{r.model} seed {r.seed} ({r.censored:.0%} not flipped)" for r in censored.itertuples()
        )
        return (
            f"robustness is censored for {which}: the attack could not flip at least half the "
            "images up to its largest budget; raise the budget"
        )
    no_alpha = rows[~np.isfinite(rows["alpha"])]
    if not no_alpha.empty:
        which = ", ".join(f"{r.model} seed {r.seed}" for r in no_alpha.itertuples())
        return f"alpha is undefined (a layer's fit failed) for {which}"
    if rows.loc[rows["model"] == baseline, "median_distance"].mean() == 0:
        return f"the baseline {baseline!r} has median distance 0: no scale for robustness"
    return None


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of the finite draws; NaNs if there are none."""
    finite = draws[np.isfinite(draws)]
    if not finite.size:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def _estimate(
    networks: pd.DataFrame, per_network: pd.DataFrame, baseline: str, settings: VerdictSettings
) -> dict[str, Any]:
    """Kept and excluded networks, alpha range, slope with its interval and p under the null,
    and the per-layer rho, at ``settings.accuracy_tolerance``."""
    kept, excluded = _split(per_network, baseline, settings.accuracy_tolerance)
    rows = pd.concat([networks[networks["model"] == m] for m in kept], ignore_index=True)
    sizes = rows.groupby("model", sort=False).size().to_numpy()
    rng = np.random.default_rng(settings.seed)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # (B, N) row positions: each network's k seeds drawn k times with replacement
    draws = np.concatenate(
        [
            start + rng.integers(0, k, size=(settings.bootstrap, k))
            for start, k in zip(starts, sizes, strict=True)
        ],
        axis=1,
    )
    estimate = {
        "kept": kept,
        "excluded": excluded,
        "n_network_seeds": len(rows),
        "alpha_range": float(np.ptp(per_network.loc[kept, "alpha"])),
        "undefined": _undefined(rows, kept, baseline),
        "layers": _layer_rhos(rows, draws, settings.confidence),
        "slope": math.nan,
        "low": math.nan,
        "high": math.nan,
        "p_null": math.nan,
    }
    if estimate["undefined"] is None:
        estimate.update(_slope(rows, draws, sizes[0], settings.confidence))
    return estimate


def _slope(
    rows: pd.DataFrame, draws: np.ndarray, n_baseline: int, confidence: float
) -> dict[str, float]:
    """The slope of R on alpha over `rows` (the baseline's `n_baseline` first) and over the
    resampled rows `draws` (B, N), with its interval and two-sided bootstrap p of slope 0."""
    alpha, distance = rows["alpha"].to_numpy(), rows["median_distance"].to_numpy()
    slope = ols_slope(alpha, distance / distance[:n_baseline].mean())
    resampled = distance[draws]
    normaliser = resampled[:, :n_baseline].mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of zero-distance seeds
        boot = ols_slope(alpha[draws], resampled / normaliser)  # gives NaN, left out below
    low, high = _interval(boot, confidence)
    finite = boot[np.isfinite(boot)]
    p_null = min(1.0, 2.0 * min(np.mean(finite <= 0), np.mean(finite >= 0))) if finite.size else 1
    return {"slope": float(slope), "low": low, "high": high, "p_null": float(p_null)}


def _layer_rhos(rows: pd.DataFrame, draws: np.ndarray, confidence: float) -> list[dict]:
    """Per hidden layer: Spearman rho of alpha_l and median distance over `rows`, with its
    percentile interval over the resampled rows `draws` (B, N)."""
    distance = rows["median_distance"].to_numpy()
    out = []
    columns = [c for c in rows.columns if _LAYER_ALPHA.match(c)]
    for column in sorted(columns, key=_layer_of):
        alpha = rows[column].to_numpy()
        low, high = _interval(rank_correlation(alpha[draws], distance[draws]), confidence)
        rho = float(rank_correlation(alpha, distance))
        out.append({"layer": _layer_of(column), "rho": rho, "low": low, "high": high})
    return out


# --- the verdict ------------------------------------------------------------------------------


def _call(estimate: dict[str, Any], settings: VerdictSettings) -> tuple[str, str]:
    """(verdict, reason) of an estimate at the settings' minimum effect and alpha range."""
    if estimate["undefined"] is not None:
        return UNDEFINED, estimate["undefined"]
    span, least = estimate["alpha_range"], settings.min_alpha_range
    if span < least:
        return NO_MANIPULATION, (
            f"the kept networks' mean alphas span only {span:.3g} (< min_alpha_range "
            f"{least:g}): the penalty did not move alpha, so it cannot test alpha's effect"
        )
    low, high, m = estimate["low"], estimate["high"], settings.min_effect
    if math.isnan(low):
        return UNDEFINED, "alpha is constant within every bootstrap resample"
    interval = f"the interval [{low:.3g}, {high:.3g}]"
    if low > m:
        return CAUSAL_SUPPORT, f"{interval} lies above the minimum effect {m:g}"
    if high < -m:
        return OPPOSITE, f"{interval} lies below -{m:g}"
    if -m < low and high < m:
        return NO_EFFECT, f"{interval} lies inside (-{m:g}, {m:g})"
    return INCONCLUSIVE, f"{interval} reaches both inside and beyond +-{m:g}"


_LEADS = {
    CAUSAL_SUPPORT: "making the hidden spectrum decay faster made the network more robust",
    OPPOSITE: "making the hidden spectrum decay faster made the network less robust",
    NO_EFFECT: "making the hidden spectrum decay faster left the network's robustness as it was",
    INCONCLUSIVE: "we cannot tell whether making the hidden spectrum decay faster changes "
    "robustness",
}


def _answer(verdict: str, reason: str, estimate: dict[str, Any], s: VerdictSettings) -> str:
    """The plain one-sentence answer."""
    head = verdict[0].upper() + verdict[1:]
    if verdict not in _LEADS:
        return f"{head}: {reason}."
    where = {
        CAUSAL_SUPPORT: "beyond",
        OPPOSITE: "beyond",
        NO_EFFECT: "within",
        INCONCLUSIVE: "straddling",
    }[verdict]
    return (
        f"{head}: {_LEADS[verdict]}: {estimate['slope']:+.3g} relative median distance per unit "
        f"alpha ({s.confidence * 100:g}% CI {estimate['low']:.3g} to {estimate['high']:.3g}), "
        f"{where} the minimum effect {s.min_effect:g}."
    )


def _manipulation(per_network: pd.DataFrame, baseline: str, kept: list[str]) -> list[dict]:
    """Per network: its seeds' mean and sd of alpha against the target and the baseline's,
    its clean accuracy deficit, its mean relative robustness and whether it is kept."""
    base = per_network.loc[baseline]
    with np.errstate(divide="ignore", invalid="ignore"):  # a baseline at distance 0: undefined
        relative = per_network["median_distance"] / base.median_distance
    return [
        {
            "model": model,
            "weight": row.weight,
            "exponent": row.exponent,
            "n_seeds": int(row.n_seeds),
            "alpha": row.alpha,
            "alpha_sd": row.alpha_sd,
            "alpha_change": row.alpha - base.alpha,
            "alpha_minus_target": row.alpha - row.exponent,
            "clean_accuracy": row.clean_accuracy,
            "accuracy_deficit": base.clean_accuracy - row.clean_accuracy,
            "relative_robustness": relative[model],
            "kept": model in kept,
        }
        for model, row in per_network.iterrows()
    ]


def _json(value: Any) -> Any:
    """A JSON-safe copy: numpy scalars as Python numbers, NaN and inf as None."""
    if isinstance(value, Mapping):
        return {key: _json(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _checked(networks: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The network table's per-network means; ValueError if the baseline is not in it."""
    if baseline not in set(networks["model"]):
        raise ValueError(
            f"baseline {baseline!r} is not in the network table (models: "
            f"{sorted(set(networks['model']))}); name the unpenalised model"
        )
    return _per_network(networks)


def decide(networks: pd.DataFrame, baseline: str, settings: VerdictSettings) -> dict[str, Any]:
    """The intervention's verdict from the network table (``network_table``): verdict, answer
    (one sentence), reason, statistic (words), slope with low/high and p_null, baseline,
    kept and excluded networks, manipulation check, per-layer rho and settings; JSON-safe."""
    per_network = _checked(networks, baseline)
    estimate = _estimate(networks, per_network, baseline, settings)
    verdict, reason = _call(estimate, settings)
    base = per_network.loc[baseline]
    text = STATISTIC_TEXT.format(
        **dataclasses.asdict(settings), confidence_pct=f"{settings.confidence * 100:g}%"
    )
    result = {
        "verdict": verdict,
        "answer": _answer(verdict, reason, estimate, settings),
        "reason": reason,
        "statistic": text,
        **{key: estimate[key] for key in ("slope", "low", "high", "p_null")},
        "null": 0.0,
        "confidence": settings.confidence,
        "min_effect": settings.min_effect,
        "baseline": {
            "model": baseline,
            "clean_accuracy": base.clean_accuracy,
            "alpha": base.alpha,
            "median_distance": base.median_distance,
        },
        **{key: estimate[key] for key in ("kept", "excluded", "n_network_seeds")},
        "manipulation": {
            "alpha_range": estimate["alpha_range"],
            "min_alpha_range": settings.min_alpha_range,
            "networks": _manipulation(per_network, baseline, estimate["kept"]),
        },
        "layers": estimate["layers"],
        "settings": dataclasses.asdict(settings),
    }
    return _json(result)


# --- sensitivity ------------------------------------------------------------------------------


def sensitivity(
    networks: pd.DataFrame,
    baseline: str,
    settings: VerdictSettings,
    tolerances: tuple[float, ...] = (0.005, 0.01, 0.02),
    effects: tuple[float, ...] = (0.05, 0.1, 0.2),
) -> pd.DataFrame:
    """The verdict re-decided over the grid of accuracy tolerances x minimum effects (the
    configured values added): columns accuracy_tolerance, min_effect, verdict, slope, low,
    high, n_kept (networks), configured (the settings' own pair)."""
    per_network = _checked(networks, baseline)
    rows = []
    for tolerance in sorted({*tolerances, settings.accuracy_tolerance}):
        at = dataclasses.replace(settings, accuracy_tolerance=tolerance)
        estimate = _estimate(networks, per_network, baseline, at)
        for effect in sorted({*effects, settings.min_effect}):
            verdict, _ = _call(estimate, dataclasses.replace(at, min_effect=effect))
            rows.append(
                {
                    "accuracy_tolerance": tolerance,
                    "min_effect": effect,
                    "verdict": verdict,
                    **{key: estimate[key] for key in ("slope", "low", "high")},
                    "n_kept": len(estimate["kept"]),
                    "configured": tolerance == settings.accuracy_tolerance
                    and effect == settings.min_effect,
                }
            )
    return pd.DataFrame(rows)


def robustness_of_verdict(grid: pd.DataFrame) -> str:
    """'robust' if every verdict of a ``sensitivity`` grid agrees, else 'rests on <threshold>'
    naming each threshold whose moving (the other held at any of its values) changes it."""
    if grid["verdict"].nunique() <= 1:
        return "robust"
    rests = [
        key
        for key, other in (THRESHOLDS, THRESHOLDS[::-1])
        if grid.groupby(other)["verdict"].nunique().gt(1).any()
    ]
    return "rests on " + " and ".join(rests)


# --- report -----------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A table cell: numpy scalars as Python values, NaN as None (n/a)."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _frame_table(frame: pd.DataFrame) -> list[str]:
    """A DataFrame as Markdown table lines (values rounded to 3 significant digits)."""
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    return markdown_table([str(c) for c in frame.columns], rows)


def _estimate_line(result: dict[str, Any], grid: pd.DataFrame) -> str:
    """The statistic's value against its null, uncertainty and minimum effect."""
    value = "slope not estimated"
    if result["slope"] is not None and result["low"] is not None:
        smallest = 1 / result["settings"]["bootstrap"]  # a p of 0 means below one resample
        p = f"< {smallest:.2g}" if result["p_null"] < smallest else f"{result['p_null']:.3g}"
        value = (
            f"slope {result['slope']:+.3g} ({result['confidence'] * 100:g}% CI "
            f"{result['low']:.3g} to {result['high']:.3g}; bootstrap p of slope 0: {p})"
        )
    return (
        f"{value}; null slope {result['null']:g}; minimum effect +-{result['min_effect']:g}; "
        f"{result['n_network_seeds']} network-seeds of {len(result['kept'])} networks kept. "
        f"**Verdict: {result['verdict']}** ({robustness_of_verdict(grid)}): {result['reason']}."
    )


def _sensitivity_table(grid: pd.DataFrame) -> list[str]:
    """The verdict per accuracy tolerance (rows) and minimum effect (columns); the configured
    pair in bold."""
    effects = sorted(grid["min_effect"].unique())
    rows = []
    for tolerance, sub in grid.groupby("accuracy_tolerance", sort=True):
        cells = sub.set_index("min_effect")
        rows.append(
            [float(tolerance)]
            + [
                f"**{cells.at[e, 'verdict']}**"
                if cells.at[e, "configured"]
                else cells.at[e, "verdict"]
                for e in effects
            ]
        )
    header = ["accuracy_tolerance \\ min_effect", *(f"{e:g}" for e in effects)]
    return markdown_table(header, rows)


def render_markdown(
    networks: pd.DataFrame, result: dict[str, Any], sensitivity: pd.DataFrame
) -> str:
    """The 'Spectral intervention' section: answer, statistic, verdict, network table,
    exclusions, manipulation check, per-layer rho and sensitivity grid."""
    lines = ["## Spectral intervention", "", f"**Answer.** {result['answer']}", ""]
    lines += [f"**Statistic.** {result['statistic']}", "", _estimate_line(result, sensitivity), ""]
    lines += ["### Networks (one row per seed)", "", *_frame_table(networks.round(4))]
    lines += ["### Left out of the comparison", ""]
    if result["excluded"]:
        keys = ["model", "reason", "clean_accuracy", "baseline_accuracy", "deficit"]
        lines += markdown_table(keys, [[e[k] for k in keys] for e in result["excluded"]])
    else:
        lines += [
            "None: every network is within the accuracy tolerance of the baseline and has an "
            "alpha in every layer.",
            "",
        ]
    manipulation = result["manipulation"]
    lines += [
        "### Manipulation check",
        "",
        f"Mean alpha of the kept networks spans {_span(manipulation)} (minimum "
        f"{manipulation['min_alpha_range']:g}); alpha_sd is the seed standard deviation.",
        "",
        *_frame_table(pd.DataFrame(manipulation["networks"])),
        "### Spearman rho(alpha_l, median distance) per layer (reported, not decisive)",
        "",
        *_frame_table(pd.DataFrame(result["layers"])),
        f"### Sensitivity: {robustness_of_verdict(sensitivity)}",
        "",
        *_sensitivity_table(sensitivity),
    ]
    return "\n".join(lines)


def _span(manipulation: dict[str, Any]) -> str:
    span = manipulation["alpha_range"]
    return "n/a" if span is None else f"{span:.3g}"
