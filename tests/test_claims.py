"""Tests for manifold_smoothness.claims (and its report) on synthetic summaries built to pass or
fail."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from manifold_smoothness.claims import ClaimsError, Verdict, evaluate_claims, smoothness_bound
from manifold_smoothness.claims_report import render_markdown
from manifold_smoothness.claims_spec import CLAIMS

THRESHOLDS = {"high_accuracy": 0.9, "monotonic_rho": 0.9, "min_extremum_depth": 2.0}
SIGMAS = np.round(np.linspace(0.0, 1.0, 11), 12)
EPSILONS = np.round(np.linspace(0.0, 0.5, 11), 12)
SEEDS = (0, 1, 2)
LAYERS = (1, 2, 3)
D = 10.0  # input dimension -> bound 1.2

# A curve maps (layer, seed, strength) -> (accuracy, alpha); at strength 0 it must give the
# clean values, like the real sweeps whose strength-0 rows duplicate the clean rows.
Curve = Callable[[int, int, float], tuple[float, float]]


def _clean(layer: int, seed: int) -> tuple[float, float]:
    """Clean accuracy ~0.97 and alpha ~1.5 + 0.1 layer, with a small seed effect."""
    return 0.98 - 0.005 * layer - 0.001 * seed, 1.5 + 0.1 * layer + 0.01 * seed


def _noise(layer: int, seed: int, strength: float, scale: float) -> float:
    """Reproducible pseudo-random jitter; zero at strength 0 so clean rows stay consistent."""
    if strength == 0:
        return 0.0
    rng = np.random.default_rng([layer, seed, int(round(strength * 1e6))])
    return float(scale * rng.standard_normal())


def gauss_monotonic(layer: int, seed: int, sigma: float) -> tuple[float, float]:
    """Accuracy and alpha both fall linearly with sigma (tiny jitter on alpha)."""
    acc, alpha = _clean(layer, seed)
    return acc - 0.6 * sigma, alpha - 0.8 * sigma + _noise(layer, seed, sigma, 1e-3)


def gauss_random_alpha(layer: int, seed: int, sigma: float) -> tuple[float, float]:
    """Accuracy falls with sigma, alpha jumps at random around its clean value."""
    acc, alpha = _clean(layer, seed)
    return acc - 0.6 * sigma, alpha + _noise(layer, seed, sigma, 0.3)


def fgsm_bump(layer: int, seed: int, eps: float) -> tuple[float, float]:
    """Accuracy falls; alpha rises by 0.5 to eps = 0.25 then falls back (jitter 0.01)."""
    acc, alpha = _clean(layer, seed)
    return max(acc - 1.8 * eps, 0.05), alpha + 8 * eps * (0.5 - eps) + _noise(
        layer, seed, eps, 0.01
    )


def fgsm_noisy_bump(layer: int, seed: int, eps: float) -> tuple[float, float]:
    """The same bump drowned in seed-to-seed jitter of 0.5."""
    acc, alpha = fgsm_bump(layer, seed, eps)
    return acc, alpha + _noise(layer, seed, eps, 0.5)


def fgsm_monotonic(layer: int, seed: int, eps: float) -> tuple[float, float]:
    """Accuracy and alpha both fall linearly with eps."""
    acc, alpha = _clean(layer, seed)
    return max(acc - 1.8 * eps, 0.05), alpha - 1.0 * eps + _noise(layer, seed, eps, 0.01)


def make_summary(
    gauss: Curve = gauss_monotonic,
    fgsm: Curve = fgsm_bump,
    seeds: tuple[int, ...] = SEEDS,
    layers: tuple[int, ...] = LAYERS,
    sigmas: np.ndarray = SIGMAS,
    epsilons: np.ndarray = EPSILONS,
) -> pd.DataFrame:
    """A summary table in the pipeline's layout: clean rows plus both sweeps (0 included)."""
    rows = []
    sweeps = [
        ("clean", np.array([0.0]), gauss),
        ("gaussian", sigmas, gauss),
        ("fgsm", epsilons, fgsm),
    ]
    for seed in seeds:
        for attack, grid, curve in sweeps:
            for strength in grid:
                for layer in layers:
                    acc, alpha = curve(layer, seed, float(strength))
                    rows.append(
                        {
                            "dataset": "mnist",
                            "model": "mlp5x1000",
                            "seed": seed,
                            "attack": attack,
                            "strength": float(strength),
                            "layer": layer,
                            "width": 1000,
                            "n_samples": 10000,
                            "accuracy": acc,
                            "alpha": alpha,
                            "alpha_intercept": 0.0,
                            "alpha_r2": 0.99,
                            "first_rank": 11,
                            "last_rank": 500,
                            "alpha_short": alpha,
                            "alpha_short_r2": 0.99,
                            "dimension": 20.0,
                            "perturbation_l2": float(strength),
                            "perturbation_linf": float(strength),
                        }
                    )
    return pd.DataFrame(rows)


def _evaluate(summary: pd.DataFrame, **kwargs) -> dict:
    return evaluate_claims(summary, kwargs.pop("thresholds", THRESHOLDS), D, **kwargs)


def _claim(result: dict, number: int) -> dict:
    (claim,) = [c for c in result["claims"] if c["id"] == number]
    return claim


@pytest.fixture(scope="module")
def default_result() -> dict:
    return _evaluate(make_summary())


# --- claim 1 ----------------------------------------------------------------------------------


def _alpha_of_accuracy(sign: float) -> Curve:
    """Curves in which alpha is a strictly monotonic function of accuracy, under any attack."""

    def curve(layer: int, seed: int, strength: float) -> tuple[float, float]:
        acc = _clean(layer, seed)[0] - 1.2 * strength
        return acc, 2.0 + sign * (acc - 0.5)

    return curve


def test_claim1_passes_when_alpha_rises_with_accuracy() -> None:
    curve = _alpha_of_accuracy(+1.0)
    claim = _claim(_evaluate(make_summary(gauss=curve, fgsm=curve)), 1)
    assert claim["verdict"] == Verdict.PASS.value
    numbers = claim["numbers"]
    assert numbers["spearman_rho"] == pytest.approx(1.0)
    assert numbers["fraction_high_accuracy_above_median_alpha"] == 1.0
    assert numbers["mannwhitney_p_greater"] < 0.05
    assert numbers["smoothness_bound"] == pytest.approx(1.2)


def test_claim1_fails_when_alpha_falls_with_accuracy() -> None:
    curve = _alpha_of_accuracy(-1.0)
    claim = _claim(_evaluate(make_summary(gauss=curve, fgsm=curve)), 1)
    assert claim["verdict"] == Verdict.FAIL.value
    assert claim["numbers"]["spearman_rho"] == pytest.approx(-1.0)


def test_claim1_counts_clean_once_per_layer() -> None:
    numbers = _claim(_evaluate(make_summary()), 1)["numbers"]
    n_conditions = 1 + (len(SIGMAS) - 1) + (len(EPSILONS) - 1)
    assert numbers["n_conditions"] == n_conditions
    assert numbers["n_points"] == n_conditions * len(LAYERS)


def test_claim1_inconclusive_with_too_few_points() -> None:
    summary = make_summary(layers=(1,), sigmas=SIGMAS[:2], epsilons=EPSILONS[:2])
    claim = _claim(_evaluate(summary), 1)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "fewer than" in claim["reason"]


def test_claim1_inconclusive_without_high_accuracy_points() -> None:
    curve = _alpha_of_accuracy(+1.0)
    thresholds = {**THRESHOLDS, "high_accuracy": 0.999}
    claim = _claim(_evaluate(make_summary(gauss=curve, fgsm=curve), thresholds=thresholds), 1)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "0.999" in claim["reason"]
    assert claim["numbers"]["n_high_accuracy"] == 0


# --- claim 2 ----------------------------------------------------------------------------------


def test_claim2_passes_when_accuracy_and_alpha_fall_together(default_result: dict) -> None:
    claim = _claim(default_result, 2)
    assert claim["verdict"] == Verdict.PASS.value
    for row in claim["numbers"]["per_layer"]:
        assert row["status"] == "monotonic"
        assert row["sign"] == "+"
        assert row["rho_mean"] == pytest.approx(1.0)
        assert len(row["rho_per_seed"]) == len(SEEDS)


def test_claim2_passes_for_a_consistent_negative_relation() -> None:
    def curve(layer: int, seed: int, sigma: float) -> tuple[float, float]:
        acc, alpha = _clean(layer, seed)
        return acc - 0.6 * sigma, alpha + 0.5 * sigma

    claim = _claim(_evaluate(make_summary(gauss=curve)), 2)
    assert claim["verdict"] == Verdict.PASS.value
    assert {row["sign"] for row in claim["numbers"]["per_layer"]} == {"-"}


def test_claim2_fails_with_random_alpha() -> None:
    claim = _claim(_evaluate(make_summary(gauss=gauss_random_alpha)), 2)
    assert claim["verdict"] == Verdict.FAIL.value
    assert "non-monotonic" in {row["status"] for row in claim["numbers"]["per_layer"]}


def test_claim2_inconclusive_with_too_few_strengths() -> None:
    claim = _claim(_evaluate(make_summary(sigmas=SIGMAS[:3])), 2)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "fewer than 4" in claim["reason"]


def test_claim2_inconclusive_with_constant_alpha() -> None:
    def curve(layer: int, seed: int, sigma: float) -> tuple[float, float]:
        acc, alpha = _clean(layer, seed)
        return acc - 0.6 * sigma, alpha

    claim = _claim(_evaluate(make_summary(gauss=curve)), 2)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "constant" in claim["reason"]
    assert {row["status"] for row in claim["numbers"]["per_layer"]} == {"undefined"}


# --- claim 3 ----------------------------------------------------------------------------------


def test_claim3_passes_for_a_bump_with_small_seed_spread(default_result: dict) -> None:
    claim = _claim(default_result, 3)
    assert claim["verdict"] == Verdict.PASS.value
    numbers = claim["numbers"]
    assert numbers["n_layers_with_effect"] == len(LAYERS)
    for row in numbers["per_layer"]:
        assert row["extremum"] == "max"
        assert row["extremum_strength"] == pytest.approx(0.25)
        assert row["depth"] == pytest.approx(0.5, abs=0.05)
        assert row["depth_over_spread"] > 10
        assert row["rho_accuracy_eps"] < 0


def test_claim3_fails_for_monotonic_alpha() -> None:
    claim = _claim(_evaluate(make_summary(fgsm=fgsm_monotonic)), 3)
    assert claim["verdict"] == Verdict.FAIL.value
    assert claim["numbers"]["n_layers_with_effect"] == 0


def test_claim3_fails_when_bump_is_within_seed_spread() -> None:
    claim = _claim(_evaluate(make_summary(fgsm=fgsm_noisy_bump)), 3)
    assert claim["verdict"] == Verdict.FAIL.value
    for row in claim["numbers"]["per_layer"]:
        assert row["depth_over_spread"] is None or row["depth_over_spread"] < 2.0


def test_claim3_inconclusive_with_a_single_seed() -> None:
    result = _evaluate(make_summary(seeds=(0,)))
    claim = _claim(result, 3)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "single seed" in claim["reason"]
    assert all(row["seed_spread"] is None for row in claim["numbers"]["per_layer"])
    json.dumps(result, allow_nan=False)


def test_claim3_inconclusive_with_too_few_strengths() -> None:
    claim = _claim(_evaluate(make_summary(epsilons=EPSILONS[:3])), 3)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "fewer than 4" in claim["reason"]


def test_claim3_inconclusive_for_a_minority_of_layers() -> None:
    def curve(layer: int, seed: int, eps: float) -> tuple[float, float]:
        return (fgsm_bump if layer == 1 else fgsm_monotonic)(layer, seed, eps)

    claim = _claim(_evaluate(make_summary(fgsm=curve)), 3)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert claim["numbers"]["n_layers_with_effect"] == 1


# --- smoothness, output, validation -----------------------------------------------------------


def test_smoothness_section_compares_alpha_with_the_bound(default_result: dict) -> None:
    section = default_result["smoothness"]
    assert section["bound"] == pytest.approx(smoothness_bound(D)) == pytest.approx(1.2)
    assert [c["attack"] for c in section["conditions"]] == ["clean", "gaussian", "fgsm"]
    for row in section["per_layer"]:
        clean_alpha = np.mean([_clean(row["layer"], s)[1] for s in SEEDS])
        assert row["clean"]["alpha_mean"] == pytest.approx(clean_alpha)
        assert row["clean"]["meets_bound"] is True
        assert row["gaussian"]["meets_bound"] is False  # alpha - 0.8 at sigma = 1
        assert 0 < row["fraction_conditions_meeting_bound"] < 1


def test_statistic_is_the_specs_definition_with_the_thresholds(default_result: dict) -> None:
    for claim, spec in zip(default_result["claims"], CLAIMS, strict=True):
        assert claim["statistic"] == spec.statistic_text(THRESHOLDS)
    assert "depth > 2 x spread" in _claim(default_result, 3)["statistic"]


def test_result_is_strict_json(default_result: dict) -> None:
    text = json.dumps(default_result, allow_nan=False)
    assert json.loads(text) == default_result
    assert default_result["thresholds"] == THRESHOLDS


def test_markdown_reports_every_verdict_and_section(default_result: dict) -> None:
    text = render_markdown(default_result)
    assert text.startswith("# Claims check: mnist / mlp5x1000")
    for claim in default_result["claims"]:
        assert f"**Verdict: {claim['verdict']}.**" in text
        assert f"## Claim {claim['id']}:" in text
    assert "## Smoothness bound" in text
    assert "## Thresholds" in text
    assert "min_extremum_depth = 2" in text


def test_markdown_renders_inconclusive_and_fail_verdicts() -> None:
    result = _evaluate(make_summary(gauss=gauss_random_alpha, seeds=(0,)))
    text = render_markdown(result)
    assert "**Verdict: FAIL.**" in text
    assert "**Verdict: INCONCLUSIVE.**" in text
    assert "n/a" in text  # undefined seed spread


def test_non_finite_rows_are_dropped_and_counted() -> None:
    summary = make_summary()
    summary.loc[summary.index[-1], "alpha"] = np.nan
    result = _evaluate(summary)
    assert result["n_rows_dropped_non_finite"] == 1
    assert result["n_rows"] == len(summary)


def test_input_dimension_source_is_reported() -> None:
    result = _evaluate(make_summary(), input_dimension_source="TwoNN on the test images")
    assert "TwoNN on the test images" in render_markdown(result)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda df: df.drop(columns="alpha"), "lacks column"),
        (lambda df: df.iloc[0:0], "no rows"),
        (lambda df: df.assign(model=["a", "b"] * (len(df) // 2)), "several model"),
        (lambda df: df.assign(attack="pgd"), "unknown attack"),
        (lambda df: df.assign(layer=1.5), "integers"),
        (lambda df: df.assign(strength=-1.0), "strength"),
        (lambda df: df.assign(accuracy="high"), "numeric"),
        (lambda df: df.assign(alpha=np.nan), "non-finite"),
    ],
)
def test_bad_summaries_raise(mutate: Callable, match: str) -> None:
    with pytest.raises(ClaimsError, match=match):
        _evaluate(mutate(make_summary(layers=(1, 2))))


def test_bad_thresholds_raise_before_any_statistic() -> None:
    with pytest.raises(ClaimsError, match=r"claims\.monotonic_rho"):
        evaluate_claims(make_summary(layers=(1,)), {**THRESHOLDS, "monotonic_rho": 0.0}, D)


@pytest.mark.parametrize("d", [0.0, -2.0, float("nan"), float("inf"), "ten"])
def test_bad_input_dimension_raises(d) -> None:
    with pytest.raises(ClaimsError, match="input_dimension"):
        evaluate_claims(make_summary(layers=(1,)), THRESHOLDS, d)


def test_extra_threshold_keys_are_ignored() -> None:
    result = evaluate_claims(make_summary(layers=(1,)), {**THRESHOLDS, "input_dimension": None}, D)
    assert set(result["thresholds"]) == set(THRESHOLDS)
