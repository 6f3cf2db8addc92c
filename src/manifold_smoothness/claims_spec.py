"""What the claims check tests: each claim's statement and statistic (with its null, its
uncertainty and its minimum effect), the fixed parameters, the config thresholds with their
allowed ranges, which networks are the paper's, and the possible verdicts.

This is the one place where a statistic is defined in words: ``evaluate_claims`` puts
``ClaimSpec.statistic_text`` into its result and the report prints it from there. It imports
only the standard library, so the config checker can call ``check_thresholds`` while the
Snakefile is parsed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "ACCURACY_KINDS",
    "ACCURACY_NEEDS_DECAY",
    "CLAIMS",
    "CONTRAST_BOOTSTRAP",
    "FGSM_NON_MONOTONIC",
    "GAUSSIAN_MONOTONIC",
    "LIST_CAP",
    "MIN_POINTS",
    "MIN_STRENGTHS",
    "PAPER_NETWORK",
    "SENSITIVITY_FACTORS",
    "SHAPE_CALL_THRESHOLDS",
    "SHAPE_THRESHOLDS",
    "SMOOTHNESS_BOUND",
    "THRESHOLD_KEYS",
    "THRESHOLD_RANGES",
    "ClaimSpec",
    "ClaimsError",
    "Interval",
    "Verdict",
    "check_thresholds",
    "contrast_text",
    "fixed_parameters",
    "is_paper_network",
    "sensitivity_text",
    "smoothness_text",
]

MIN_POINTS = 5  # fewest (model, epoch) points of one seed and layer for claim 1
MIN_STRENGTHS = 4  # fewest strengths (0 included) for the shape of an attack's sweep
LIST_CAP = 30  # longest list of individual points (violations, conditions near the bound)
# Claim 1's accuracy kinds: name -> summary column.
ACCURACY_KINDS = {"readout": "accuracy", "probe": "probe_accuracy"}

PAPER_RULE = "local"
PAPER_NETWORK = (
    "paper networks: rule local (local errors), the full training split (train_subset 0) and "
    "no label noise; every other model is a comparison or control"
)


def is_paper_network(rule: str, train_subset: float, label_noise: float) -> bool:
    """Whether a model is trained in the paper's setting (see ``PAPER_NETWORK``)."""
    return rule == PAPER_RULE and train_subset == 0 and label_noise == 0


def fixed_parameters() -> dict[str, int]:
    """The counts fixed in code, as the result reports them."""
    return {"min_points": MIN_POINTS, "min_strengths": MIN_STRENGTHS, "list_cap": LIST_CAP}


class Verdict(str, Enum):
    """Outcome of one claim; the value is the plain string stored in the result."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


class ClaimsError(ValueError):
    """Raised when the summary, thresholds or input dimension cannot be evaluated."""


@dataclass(frozen=True)
class Interval:
    """A range of finite numbers, closed at ``high``, open at ``low`` if ``low_open``."""

    low: float
    high: float = math.inf
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return math.isfinite(value) and above and value <= self.high

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = "]" if math.isfinite(self.high) else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"


THRESHOLD_RANGES = {
    "high_accuracy": Interval(0.0, 1.0, low_open=True),  # claim 1: "high" accuracy
    "min_rho": Interval(0.0, 1.0, low_open=True),  # claim 1: minimum mean Spearman rho
    "min_accuracy_gap": Interval(0.0, 1.0, low_open=True),  # claim 1: minimum envelope gap
    # claims 2/3: minimum reversal depth as a fraction of the curve's larger excursion
    "min_relative_reversal": Interval(0.0, 1.0, low_open=True),
    "uncertainty_k": Interval(0.0, low_open=True),  # claims 2/3: depth in standard errors
    "monotonic_majority": Interval(0.5, 1.0, low_open=True),  # claims 2/3: "large majority"
    "bound_margin": Interval(0.0),  # smoothness: alpha - (1 + 2/d) below this is "near"
}
THRESHOLD_KEYS = tuple(THRESHOLD_RANGES)


def check_thresholds(thresholds: Mapping[str, Any]) -> dict[str, float]:
    """The config's ``claims`` thresholds as floats, each checked against its allowed range.

    Other keys (e.g. ``input_dimension``) are ignored. Raises ClaimsError naming the key as
    ``claims.<key>`` with its allowed range.
    """
    if not isinstance(thresholds, Mapping):
        raise ClaimsError(
            f"config section 'claims' must be a mapping; got {type(thresholds).__name__}."
        )
    return {key: _check_threshold(key, thresholds) for key in THRESHOLD_KEYS}


def _check_threshold(key: str, thresholds: Mapping[str, Any]) -> float:
    """One threshold as a float; ClaimsError if it is missing, not a number or out of range."""
    allowed = THRESHOLD_RANGES[key]
    fix = f"set it to a finite number in {allowed}"
    if key not in thresholds:
        raise ClaimsError(f"config key 'claims.{key}' is missing; {fix}.")
    value = thresholds[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ClaimsError(f"config key 'claims.{key}': {value!r} is not a number; {fix}.")
    if not math.isfinite(value):
        raise ClaimsError(f"config key 'claims.{key}': {value!r} is not finite; {fix}.")
    if float(value) not in allowed:
        raise ClaimsError(f"config key 'claims.{key}': {value!r} is out of range; {fix}.")
    return float(value)


def _fill(template: str, thresholds: Mapping[str, float]) -> str:
    """A template with the thresholds, the values derived from them and the fixed counts."""
    return template.format(
        **thresholds,
        max_minority=1.0 - thresholds["monotonic_majority"],
        min_points=MIN_POINTS,
        min_strengths=MIN_STRENGTHS,
        list_cap=LIST_CAP,
        paper_network=PAPER_NETWORK,
        factors=", ".join(f"{f:g}" for f in SENSITIVITY_FACTORS),
        bootstrap=CONTRAST_BOOTSTRAP,
    )


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper and the statistic that decides it.

    ``statistic`` is a ``str.format`` template over the thresholds, ``max_minority``
    (1 - monotonic_majority) and the fixed parameters. Claims 2 and 3 select the attack sweeps
    they count by ``method`` (and ``target`` unless None); claim 1 has neither.
    ``decided_by`` names the thresholds its verdict depends on (its sensitivity is reported
    for each of them).
    """

    id: int
    name: str
    statement: str
    statistic: str
    decided_by: tuple[str, ...]
    method: str | None = None
    target: str | None = None

    def statistic_text(self, thresholds: Mapping[str, float]) -> str:
        """The statistic's definition with the thresholds and fixed parameters filled in."""
        return _fill(self.statistic, thresholds)


ACCURACY_NEEDS_DECAY = ClaimSpec(
    1,
    "high accuracy requires fast spectral decay",
    "A high generalization accuracy requires a relatively fast power-law decay of the "
    "spectrum (a large alpha).",
    "Points: the clean test set seen by every model (paper networks and controls) at every "
    "training snapshot and at the end of training, one point per (model, epoch), taken "
    "separately per layer, per seed and per accuracy kind: 'readout' (the layer's own fixed "
    "readout; rows without one are left out) and 'probe' (a linear probe fitted on clean "
    "training activations). A seed needs at least {min_points} finite points, else it is "
    "undefined. Per seed s: rho_s = Spearman rho(accuracy, alpha), the association; envelope "
    "gap g_s = best accuracy among the points with alpha above the seed's median alpha minus "
    "best accuracy among the others, the necessary-condition form (if high accuracy requires a "
    "large alpha, the best points lie in the high-alpha half and g_s > 0; one high-accuracy "
    "point at small alpha makes g_s <= 0); violations v_s = points with accuracy >= "
    "{high_accuracy:g} whose alpha is below the median alpha of the points under "
    "{high_accuracy:g} (listed, at most {list_cap}; not part of the verdict). A (layer, kind) is "
    "supported if every seed has rho_s > 0 and g_s >= {min_accuracy_gap:g} and the mean rho "
    "over seeds is >= {min_rho:g}; contradicted if every seed has rho_s < 0 with mean rho <= "
    "-{min_rho:g}, or every seed has g_s <= -{min_accuracy_gap:g}; mixed otherwise; undefined "
    "without a defined seed. Null: no association, so the sign of each seed's rho is a fair "
    "coin and all S seeds agree by chance with probability 2^-(S-1) (reported; 1 for a single "
    "seed, which gives no sign evidence). Uncertainty: the spread over seeds (every rho_s and "
    "g_s, the std of rho_s); the points share networks and training runs, so no p-value is "
    "claimed. Minimum effect: mean rho >= {min_rho:g} and a gap >= {min_accuracy_gap:g} in every "
    "seed. Verdict: PASS if a strict majority of layers is supported for both kinds; FAIL if a "
    "strict majority of layers is contradicted for either kind; INCONCLUSIVE otherwise.",
    decided_by=("min_rho", "min_accuracy_gap"),
)

SHAPE_STATISTIC = (
    "Shape of alpha(strength), one statistic for every (model, attack, layer) with a sweep: "
    "c_0..c_K is the seed-mean alpha at the sweep's strengths (strength 0, the clean input, "
    "included; at least {min_strengths} strengths, else undefined), with the combined standard "
    "error s_i = sqrt(v / n_i + (mean over seeds of alpha_se_i)^2): v is the variance of alpha "
    "over the n_i seeds, pooled over the curve's strengths (a variance from 3 seeds at one "
    "strength is itself too noisy: per-strength variances called a flat noisy curve "
    "non-monotonic in 19% of simulated draws, the pooled one in 4.4%), alpha_se the "
    "jackknife standard error over test-image blocks, not divided by n_i because every seed "
    "sees the same test images; a missing alpha_se counts as 0 and a single seed has no seed "
    "term, both flagged. Largest rise R = max over i < j of c_j - c_i, largest fall F = max "
    "over i < j of c_i - c_j; the curve's excursion E = max(R, F) (its main movement) and its "
    "reversal the smaller one, depth D = max(0, min(R, F)), at its pair (i, j), with se_D = "
    "sqrt(s_i^2 + s_j^2); relative reversal r = D / E (0 to 1: 0 for a monotonic curve, 1 for "
    "a curve that goes back as far as it went). Minimum effect: r >= {min_relative_reversal:g}, "
    "the curve turns back by at least that fraction of its own excursion (scale-free: "
    "multiplying every alpha and error by a constant, or adding a constant to alpha, leaves "
    "the call unchanged, so the minimum effect means the same at every width and data size). "
    "Uncertainty: D >= {uncertainty_k:g} x se_D. A curve is non-monotonic if both hold, "
    "monotonic otherwise. Null: alpha(strength) is monotonic and each c_i scatters by s_i; a "
    "reversal then rarely reaches {uncertainty_k:g} x se_D (the README gives the simulated "
    "false-positive and false-negative rates at the small preset's and at paper width's "
    "errors). Also reported: the depth D in units of alpha, the net change c_K - c_0 and the "
    "accuracy trend, Spearman rho of the seed-mean accuracy vs strength (the layer's own "
    "readout, or the last layer's where the layer has none); along a sweep in which accuracy "
    "falls, accuracy vs alpha is monotonic exactly when alpha(strength) is. "
)

# what decides one curve's shape (the figures mark it), and what the shape claims add to it
SHAPE_CALL_THRESHOLDS = ("min_relative_reversal", "uncertainty_k")
SHAPE_THRESHOLDS = (*SHAPE_CALL_THRESHOLDS, "monotonic_majority")

GAUSSIAN_MONOTONIC = ClaimSpec(
    2,
    "Gaussian noise: monotonic accuracy vs alpha",
    "Under Gaussian noise, accuracy vs alpha is monotonic.",
    SHAPE_STATISTIC + "Curves counted: the (model, layer) curves of {paper_network}, under "
    "every attack of method gaussian; undefined curves are left out of the fraction and "
    "reported. Verdict: PASS if the fraction of monotonic curves is >= {monotonic_majority:g}; "
    "FAIL if it is <= 0.5; INCONCLUSIVE otherwise or without a defined curve.",
    decided_by=SHAPE_THRESHOLDS,
    method="gaussian",
)

FGSM_NON_MONOTONIC = ClaimSpec(
    3,
    "FGSM: non-monotonic accuracy vs alpha",
    "Under FGSM, accuracy vs alpha is non-monotonic.",
    SHAPE_STATISTIC + "Curves counted: the (model, layer) curves of {paper_network}, under "
    "every attack of method fgsm that differentiates the output readout (target output); "
    "undefined curves are left out of the fraction and reported. Verdict: PASS if the fraction "
    "of non-monotonic curves is > 0.5; FAIL if it is <= {max_minority:g} (1 - "
    "monotonic_majority); INCONCLUSIVE otherwise or without a defined curve.",
    decided_by=SHAPE_THRESHOLDS,
    method="fgsm",
    target="output",
)

CLAIMS = (ACCURACY_NEEDS_DECAY, GAUSSIAN_MONOTONIC, FGSM_NON_MONOTONIC)

# Each threshold of a verdict is moved alone over these multiples of its configured value
# (half to double; values outside its allowed range are skipped) and the verdict recomputed.
SENSITIVITY_FACTORS = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0)
SENSITIVITY = (
    "Sensitivity: each threshold a verdict depends on is moved alone from half to double its "
    "configured value (x {factors}; values outside its allowed range skipped), the others held, "
    "and the verdict recomputed on the same data. Where the verdict changes, the value at which "
    "it flips is located by bisection between the two neighbouring values (to 1% of the "
    "threshold). A verdict is robust if it is the same over every tested value of every "
    "threshold; otherwise it rests on the thresholds named."
)

CONTRAST = (
    "Gaussian-FGSM contrast, one statistic per (model, layer) with both sweeps: Delta = r_FGSM "
    "- r_Gaussian, the difference of the two curves' relative reversals (shape statistic "
    "above; r = 0 for a curve that never turns back). The paper's contrast is Delta > 0: FGSM "
    "turns alpha back, Gaussian noise does not. Uncertainty: parametric bootstrap, {bootstrap} "
    "draws of both curves with each c_i ~ Normal(c_i, s_i) independently, r recomputed on each "
    "draw: the SE of Delta and the interval Delta -+ 1.96 SE, clipped to [-1, 1] (approximate "
    "near the bounds: r is bounded by 0 and 1 and biased upwards by noise on flat stretches of "
    "a curve, so the draws give the spread, not the centre). Null: no contrast, Delta = 0. "
    "Minimum effect: |Delta| >= {min_relative_reversal:g}. Call: 'FGSM reverses more' if the "
    "interval lies above 0 and Delta >= {min_relative_reversal:g}; 'Gaussian reverses more' "
    "if it lies below 0 and Delta <= -{min_relative_reversal:g}; 'no contrast' otherwise. "
    "Delta is read beside each curve's own call."
)
CONTRAST_BOOTSTRAP = 2000  # draws of the contrast's parametric bootstrap

SMOOTHNESS_BOUND = (
    "Stringer et al. (Nature 2019): a smooth code of a d-dimensional input manifold needs "
    "alpha >= 1 + 2/d. Margin = alpha - (1 + 2/d), averaged over seeds per (model, attack, "
    "strength, layer, epoch); a margin < 0 is below the bound, a margin in [0, "
    "{bound_margin:g}) near it. Reported: the smallest margin and where, the counts below and "
    "near, those conditions sorted by margin (at most {list_cap}), and per model and layer the "
    "clean margin and d at the end of training. Descriptive, no verdict."
)


def sensitivity_text(thresholds: Mapping[str, float]) -> str:
    """How the verdicts' threshold sensitivity is computed, filled in."""
    return _fill(SENSITIVITY, thresholds)


def contrast_text(thresholds: Mapping[str, float]) -> str:
    """The Gaussian-FGSM contrast statistic's definition, filled in."""
    return _fill(CONTRAST, thresholds)


def smoothness_text(thresholds: Mapping[str, float]) -> str:
    """The smoothness-bound description with the thresholds filled in."""
    return _fill(SMOOTHNESS_BOUND, thresholds)
