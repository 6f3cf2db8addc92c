"""Tests for manifold_smoothness.shape_errors: the simulated error rates of the shape call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_claims_spec import THRESHOLDS

from manifold_smoothness import cli
from manifold_smoothness.claims_statistics import relative_reversals, seed_mean_curve
from manifold_smoothness.shape_errors import SCALES, error_rates, true_curve

STRENGTHS = np.linspace(0.0, 1.0, 21)


@pytest.mark.parametrize("back", [0.0, 0.25, 0.5, 1.0])
def test_a_hump_has_the_relative_reversal_it_is_built_with(back: float) -> None:
    curve = true_curve("hump", STRENGTHS, 0.3, back)
    assert relative_reversals(curve) == pytest.approx(back)
    assert np.ptp(curve[: STRENGTHS.size // 2 + 1]) == pytest.approx(0.3)


def test_monotonic_truths_are_monotonic() -> None:
    for kind in ("flat", "saturating"):
        assert relative_reversals(true_curve(kind, STRENGTHS, 0.3, 0.0)) == 0.0
    with pytest.raises(ValueError, match="unknown curve kind 'wave'"):
        true_curve("wave", STRENGTHS, 0.3, 0.0)


def test_the_simulated_errors_are_the_ones_the_claims_estimate() -> None:
    """The simulation's pooled seed variance and combined error equal seed_mean_curve's."""
    rng = np.random.default_rng(5)
    scale = SCALES[0]
    alpha = 2.0 + rng.normal(0.0, scale.seed_sd, (STRENGTHS.size, 3))
    rows = pd.DataFrame(
        {
            "strength": np.repeat(STRENGTHS, 3),
            "seed": np.tile([0, 1, 2], STRENGTHS.size),
            "alpha": alpha.reshape(-1),
            "alpha_se": scale.jackknife_se,
            "accuracy": 0.5,
        }
    )
    curve = seed_mean_curve(rows)
    pooled = alpha.var(axis=1, ddof=1).mean()
    np.testing.assert_allclose(curve.se, np.sqrt(pooled / 3 + scale.jackknife_se**2))
    np.testing.assert_allclose(curve.alpha, alpha.mean(axis=1))


def test_error_rates_stay_low_where_the_effect_is_clear() -> None:
    """At both scales: monotonic truths are rarely called non-monotonic (<= 5 %), and a curve
    that returns all the way is rarely missed (<= 5 %)."""
    rows = error_rates(THRESHOLDS, draws=300)
    assert {r["scale"] for r in rows} == {s.name for s in SCALES}
    for row in rows:
        if row["error"] == "false positive" or "full return" in row["curve"]:
            assert row["rate"] <= 0.05, row
    assert error_rates(THRESHOLDS, draws=300) == rows  # seeded: the same in every run


def test_the_command_prints_the_table(capsys) -> None:
    assert cli.main(["shape-errors", "--draws", "50", "--strengths", "11"]) == 0
    out = capsys.readouterr().out
    assert "| noise scale | true curve | error | rate | SE |" in out
    assert out.count("false negative") == 4 and "paper width" in out
