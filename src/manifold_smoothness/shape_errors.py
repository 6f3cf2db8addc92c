"""How often the shape call of alpha(strength) is wrong: false-positive and false-negative rates
on simulated sweeps at the noise of a study (`python -m manifold_smoothness shape-errors`).

A simulated sweep is what the claims see: n_seeds draws of alpha per strength around a true
curve (seed-to-seed spread `seed_sd`), each with the jackknife error `jackknife_se`; the
errors are estimated from the draws exactly as the claims estimate them (seed variance pooled
over the curve, plus the jackknife error: ``claims_statistics.combined_se``) and the curve is
called with ``claims_statistics.curve_shape``. The call is scale-free, so what matters is the
curve's excursion relative to the noise: each scale pairs the noise measured at one study
scale with the excursions seen there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from manifold_smoothness.claims_statistics import NON_MONOTONIC, combined_se, curve_shape

__all__ = ["CURVES", "SCALES", "NoiseScale", "error_rates", "non_monotonic_rate", "true_curve"]


@dataclass(frozen=True)
class NoiseScale:
    """The noise of a study at one scale and the size of the curves seen there (alpha units)."""

    name: str
    seed_sd: float  # spread of alpha over seeds at one strength
    jackknife_se: float  # alpha_se, the image-sampling error
    excursion: float  # the typical main movement of alpha(strength) of a layer


# Measured: the small preset (README: seed std 0.02-0.23 of alpha at 5 x 64 units, jackknife
# ~0.015, FGSM moves layer 1's alpha by ~0.3) and paper width (issue 17's paper-width run: seed
# spreads 0.002-0.018, jackknife ~0.005, reversals and excursions ~0.05).
SCALES = (
    NoiseScale("small preset (5 x 64)", seed_sd=0.05, jackknife_se=0.015, excursion=0.3),
    NoiseScale("paper width (5 x 1000)", seed_sd=0.01, jackknife_se=0.005, excursion=0.05),
)


def true_curve(kind: str, strengths: np.ndarray, excursion: float, back: float) -> np.ndarray:
    """A true alpha(strength) - alpha(0): 'flat' (0), 'saturating' (a monotonic fall by
    `excursion` that levels off), 'hump' (rises by `excursion` to the middle strength, then
    falls back by `back` x excursion: relative reversal `back`)."""
    t = (strengths - strengths[0]) / (strengths[-1] - strengths[0])
    if kind == "flat":
        return np.zeros_like(t)
    if kind == "saturating":
        return -excursion * (1 - np.exp(-t / 0.2)) / (1 - np.exp(-5.0))
    if kind == "hump":
        up = np.minimum(t / 0.5, 1.0)
        down = np.clip((t - 0.5) / 0.5, 0.0, 1.0)
        return excursion * (up - back * down)
    raise ValueError(f"unknown curve kind {kind!r}; use flat, saturating or hump")


# (label, kind, back, monotonic in truth)
CURVES: tuple[tuple[str, str, float, bool], ...] = (
    ("flat (monotonic)", "flat", 0.0, True),
    ("saturating fall (monotonic)", "saturating", 0.0, True),
    ("hump, r = 0.5", "hump", 0.5, False),
    ("hump, r = 1 (full return)", "hump", 1.0, False),
)


def non_monotonic_rate(
    curve: np.ndarray,
    scale: NoiseScale,
    limits: dict[str, float],
    draws: int,
    rng: np.random.Generator,
    n_seeds: int = 3,
) -> float:
    """Fraction of `draws` simulated sweeps around `curve` (K,) called non-monotonic."""
    calls, jackknife = 0, np.full(n_seeds, scale.jackknife_se)
    for _ in range(draws):
        alpha = curve[:, None] + rng.normal(0.0, scale.seed_sd, (curve.size, n_seeds))
        pooled = float(alpha.var(axis=1, ddof=1).mean())  # pooled_seed_variance, vectorised
        se = np.array([combined_se(row, jackknife, pooled)[0] for row in alpha])
        shape, _ = curve_shape(
            alpha.mean(axis=1), se, limits["min_relative_reversal"], limits["uncertainty_k"]
        )
        calls += shape == NON_MONOTONIC
    return calls / draws


def error_rates(
    limits: dict[str, float],
    draws: int = 1000,
    n_strengths: int = 21,
    seed: int = 0,
    scales: tuple[NoiseScale, ...] = SCALES,
    curves: tuple[tuple[str, str, float, bool], ...] = CURVES,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    """One row per (scale, curve): the rate of non-monotonic calls, and the error it is (false
    positive for a monotonic truth, false negative = 1 - rate otherwise) with its binomial SE."""
    rows = []
    strengths = np.linspace(0.0, 1.0, n_strengths)
    for scale in scales:
        for label, kind, back, monotonic in curves:
            rng = np.random.default_rng([seed, len(rows)])
            curve = true_curve(kind, strengths, scale.excursion, back)
            rate = non_monotonic_rate(curve, scale, limits, draws, rng)
            error = rate if monotonic else 1.0 - rate
            rows.append(
                {
                    "scale": scale.name,
                    "curve": label,
                    "truth": "monotonic" if monotonic else "non-monotonic",
                    "error": "false positive" if monotonic else "false negative",
                    "rate": error,
                    "rate_se": float(np.sqrt(error * (1 - error) / draws)),
                    "draws": draws,
                }
            )
            if progress:
                progress(f"{scale.name}, {label}: {error:.3f}")
    return rows
