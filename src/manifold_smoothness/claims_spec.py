"""What the claims check tests: each claim's statement and statistic, the fixed parameters, the
config thresholds with their allowed ranges, and the possible verdicts.

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
    "ACCURACY_NEEDS_DECAY",
    "CLAIMS",
    "FGSM_NON_MONOTONIC",
    "GAUSSIAN_MONOTONIC",
    "MIN_POINTS",
    "MIN_STRENGTHS",
    "SIGNIFICANCE",
    "SMOOTHNESS_BOUND",
    "THRESHOLD_KEYS",
    "THRESHOLD_RANGES",
    "ClaimSpec",
    "ClaimsError",
    "Interval",
    "Verdict",
    "check_thresholds",
]

SIGNIFICANCE = 0.05  # level of every test
MIN_STRENGTHS = 4  # fewest strengths (0 included) for a trend along an attack's grid
MIN_POINTS = 5  # fewest (layer, condition) points for claim 1


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
    "high_accuracy": Interval(0.0, 1.0, low_open=True),
    "monotonic_rho": Interval(0.0, 1.0, low_open=True),
    "min_extremum_depth": Interval(0.0),
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


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper and the statistic that decides it.

    ``statistic`` is a ``str.format`` template over the thresholds and the fixed parameters
    (``significance``, ``min_strengths``, ``min_points``).
    """

    id: int
    name: str
    statement: str
    statistic: str

    def statistic_text(self, thresholds: Mapping[str, float]) -> str:
        """The statistic's definition with the thresholds and fixed parameters filled in."""
        return self.statistic.format(
            **thresholds,
            significance=SIGNIFICANCE,
            min_strengths=MIN_STRENGTHS,
            min_points=MIN_POINTS,
        )


ACCURACY_NEEDS_DECAY = ClaimSpec(
    1,
    "high accuracy requires fast spectral decay",
    "High accuracy requires a relatively fast spectral decay (large alpha).",
    "Points: every (layer, condition) pair, condition = clean (counted once) or one (attack, "
    "strength), with accuracy and alpha averaged over seeds. Spearman rho between accuracy and "
    "alpha over all points (two-sided p); one-sided Mann-Whitney U test that alpha of the points "
    "with accuracy >= {high_accuracy:g} exceeds alpha of the others. PASS if rho > 0 with "
    "p < {significance:g} and Mann-Whitney p < {significance:g}; FAIL if rho < 0 with "
    "p < {significance:g}; INCONCLUSIVE otherwise, or with fewer than {min_points} points, a "
    "constant accuracy or alpha, or no point on one side of the accuracy threshold. Also "
    "reported: the fraction of high-accuracy points with alpha above the median alpha of all "
    "points, and their minimum alpha against 1 + 2/d. Points share networks (layers of one net, "
    "neighbouring strengths), so p-values are nominal.",
)
GAUSSIAN_MONOTONIC = ClaimSpec(
    2,
    "Gaussian noise: monotonic accuracy vs alpha",
    "Under Gaussian noise, accuracy vs alpha is monotonic for each layer.",
    "Per layer and seed, Spearman rho between accuracy and alpha along the sigma grid "
    "(sigma = 0, the clean condition, included). A layer is monotonic if every seed has "
    "|rho| >= {monotonic_rho:g} with one sign, non-monotonic if every seed has "
    "|rho| < {monotonic_rho:g}, undefined if some seed's rho is (accuracy or alpha constant along "
    "the grid, or fewer than {min_strengths} strengths), mixed otherwise. PASS if every layer is "
    "monotonic; FAIL if any layer is non-monotonic; INCONCLUSIVE otherwise, or with fewer than "
    "{min_strengths} strengths.",
)
FGSM_NON_MONOTONIC = ClaimSpec(
    3,
    "FGSM: non-monotonic accuracy vs alpha",
    "Under FGSM, accuracy vs alpha is non-monotonic.",
    "Per layer, on the seed-mean alpha(eps) (eps = 0 included): the deeper of its interior "
    "global maximum and minimum, depth = min over the two endpoints of "
    "|alpha(extremum) - alpha(endpoint)| (positive only for an extremum beyond both endpoints), "
    "compared with the pooled seed spread sqrt(mean over eps of the variance over seeds, "
    "ddof = 1), one scale per layer, steadier than the std at a single eps. A layer shows the "
    "effect if depth > {min_extremum_depth:g} x spread and Spearman rho(accuracy, eps) < 0: a "
    "non-monotonic alpha(eps) with a falling accuracy makes accuracy vs alpha non-monotonic. "
    "PASS if a strict majority of layers do; FAIL if none; INCONCLUSIVE otherwise, or with a "
    "single seed (no spread) or fewer than {min_strengths} strengths.",
)
CLAIMS = (ACCURACY_NEEDS_DECAY, GAUSSIAN_MONOTONIC, FGSM_NON_MONOTONIC)

SMOOTHNESS_BOUND = (
    "Stringer et al. (Nature 2019): a smooth code of a d-dimensional input manifold needs "
    "alpha >= 1 + 2/d. Reported per layer for the clean condition and the strongest strength of "
    "each attack (seed mean, std over seeds in brackets), with the fraction of all conditions in "
    "which the layer meets it; descriptive, no verdict."
)
