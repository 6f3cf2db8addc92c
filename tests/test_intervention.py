"""Tests for the spectral intervention's verdict (intervention), on synthetic families whose
robustness is a known function of alpha."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from manifold_smoothness.intervention import (
    CAUSAL_SUPPORT,
    NO_EFFECT,
    NO_MANIPULATION,
    OPPOSITE,
    UNDEFINED,
    Penalty,
    VerdictSettings,
    decide,
    network_table,
    ols_slope,
    rank_correlation,
    render_markdown,
    robustness_of_verdict,
    sensitivity,
)

BASE = "base"
FAMILY = {BASE: Penalty(0.0), "pen-2.5": Penalty(1.0, 2.5), "pen-3": Penalty(1.0, 3.0)}
ALPHAS = {BASE: 2.0, "pen-2.5": 2.4, "pen-3": 2.8}
SEEDS, LAYERS = 3, 3
FAST = VerdictSettings(bootstrap=500)


def _summary_rows(model: str, seed: int, alpha: float, accuracy: float) -> list[dict]:
    """Clean final rows (layer alphas around `alpha`, the last layer at `accuracy`), plus a
    snapshot and an attacked row per layer that the table must ignore."""
    rows = []
    for layer in range(1, LAYERS + 1):
        row = {"model": model, "seed": seed, "layer": layer, "alpha_se": 0.01}
        rows += [
            {**row, "attack": "clean", "final": True, "alpha": alpha + 0.05 * (layer - 2)}
            | {"accuracy": accuracy - 0.01 * (LAYERS - layer)},
            {**row, "attack": "clean", "final": False, "alpha": 9.0, "accuracy": 0.5},
            {**row, "attack": "fgsm-0.1", "final": True, "alpha": 9.0, "accuracy": 0.1},
        ]
    return rows


def _distance_rows(model: str, seed: int, median: float, censored: bool) -> list[dict]:
    """Five images whose median distance is `median` (inf if most are censored)."""
    values = [0.0, median, math.inf, math.inf, math.inf] if censored else [0.0, 0.5, 1, 1.5, 2]
    values = values if censored else [v * median for v in values]
    return [
        {"model": model, "seed": seed, "sample": i, "clean_correct": d > 0, "distance": d}
        for i, d in enumerate(values)
    ]


def family_frames(
    relative: Callable[[float], float],
    alphas: dict[str, float] = ALPHAS,
    accuracy: dict[str, float] | None = None,
    noise: float = 0.01,
    censored: tuple[str, ...] = (),
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, distances) of a family: per model and seed an alpha around alphas[model]
    (sd 0.03) and a median distance 0.1 * relative(alpha) * (1 + noise * N(0, 1))."""
    rng = np.random.default_rng(seed)
    summary, distances = [], []
    for model, centre in alphas.items():
        for s in range(SEEDS):
            alpha = centre + 0.03 * rng.standard_normal()
            summary += _summary_rows(model, s, alpha, (accuracy or {}).get(model, 0.97))
            median = 0.1 * relative(alpha) * (1 + noise * rng.standard_normal())
            distances += _distance_rows(model, s, median, model in censored)
    return pd.DataFrame(summary), pd.DataFrame(distances)


def table(relative: Callable[[float], float], family=FAMILY, **kwargs) -> pd.DataFrame:
    return network_table(*family_frames(relative, **kwargs), family)


def rising(alpha: float) -> float:
    return 1 + 0.5 * (alpha - 2.0)


def flat(alpha: float) -> float:
    return 1.0


def test_network_table_reads_clean_final_rows_and_pivots_the_audit():
    summary, distances = family_frames(rising)
    audit = pd.DataFrame(
        [
            {"model": m, "seed": s, "budget": b, "attack": a, "accuracy": 0.5 - b}
            for m in FAMILY
            for s in range(SEEDS)
            for b in (0.1, 0.3)
            for a in ("worst", "fgsm")
        ]
    )
    networks = network_table(summary, distances, FAMILY, audit)
    assert len(networks) == len(FAMILY) * SEEDS
    assert networks["model"].iloc[0] == BASE and math.isnan(networks["exponent"].iloc[0])
    assert (networks["clean_accuracy"] == 0.97).all()  # the last layer's, not a snapshot's
    layer_mean = networks[["alpha_1", "alpha_2", "alpha_3"]].mean(axis=1)
    np.testing.assert_allclose(networks["alpha"], layer_mean)
    assert (networks["alpha"] < 3.5).all()  # attacked and snapshot rows (alpha 9) ignored
    assert (networks["n_samples"] == 5).all() and (networks["censored"] == 0).all()
    assert list(networks.columns[-4:]) == ["fgsm@0.1", "fgsm@0.3", "worst@0.1", "worst@0.3"]
    np.testing.assert_allclose(networks["worst@0.3"], 0.2)


def test_median_distance_is_inf_when_most_images_are_censored():
    networks = table(rising, censored=("pen-3",))
    censored = networks[networks["model"] == "pen-3"]
    assert np.isinf(censored["median_distance"]).all()
    assert (censored["censored"] == 0.6).all()


def test_missing_summary_rows_raise_naming_the_model():
    summary, distances = family_frames(rising)
    with pytest.raises(ValueError, match="'ghost' has no clean final rows"):
        network_table(summary, distances, {**FAMILY, "ghost": Penalty(1.0, 4.0)})


def test_missing_distances_raise_naming_the_model_and_seed():
    summary, distances = family_frames(rising)
    with pytest.raises(ValueError, match="'pen-3' has no adversarial distances"):
        network_table(summary, distances[distances["model"] != "pen-3"], FAMILY)
    dropped = distances[(distances["model"] != "pen-3") | (distances["seed"] != 2)]
    with pytest.raises(ValueError, match=r"'pen-3' seed\(s\) \[2\] have no adversarial"):
        network_table(summary, dropped, FAMILY)


def test_robustness_rising_with_alpha_is_causal_support():
    result = decide(table(rising), BASE, FAST)
    assert result["verdict"] == CAUSAL_SUPPORT
    assert 0.4 < result["low"] < result["slope"] < result["high"] < 0.6
    assert result["answer"].startswith("Causal support: making the hidden spectrum decay")
    json.dumps(result, allow_nan=False)


def test_robustness_falling_with_alpha_is_opposite():
    result = decide(table(lambda a: 1 - 0.3 * (a - 2.0)), BASE, FAST)
    assert result["verdict"] == OPPOSITE
    assert result["high"] < -0.1


def test_flat_robustness_with_tight_noise_is_no_effect():
    result = decide(table(flat, noise=0.005), BASE, FAST)
    assert result["verdict"] == NO_EFFECT
    assert -0.1 < result["low"] < result["high"] < 0.1


def test_network_that_costs_clean_accuracy_is_excluded_and_named():
    networks = table(rising, accuracy={"pen-3": 0.95})
    result = decide(networks, BASE, FAST)
    assert result["kept"] == [BASE, "pen-2.5"]
    [excluded] = result["excluded"]
    assert excluded["model"] == "pen-3" and excluded["deficit"] == pytest.approx(0.02)
    assert result["verdict"] == CAUSAL_SUPPORT  # from the accuracy-matched networks alone
    checks = {row["model"]: row for row in result["manipulation"]["networks"]}
    assert checks["pen-3"]["kept"] is False
    markdown = render_markdown(networks, result, sensitivity(networks, BASE, FAST))
    left_out = markdown.split("### Left out")[1].split("###")[0]
    assert "pen-3" in left_out and "pen-2.5" not in left_out


def test_a_network_with_a_collapsed_layer_is_left_out_with_its_reason():
    networks = table(rising)
    networks.loc[(networks.model == "pen-3") & (networks.seed == 1), ["alpha", "alpha_2"]] = np.nan
    result = decide(networks, BASE, FAST)
    assert result["kept"] == [BASE, "pen-2.5"]
    [excluded] = result["excluded"]
    assert excluded["model"] == "pen-3" and excluded["reason"].startswith("alpha undefined")
    assert result["verdict"] == CAUSAL_SUPPORT


def test_penalties_that_do_not_move_alpha_are_no_manipulation():
    alphas = {BASE: 2.0, "pen-2.5": 2.01, "pen-3": 2.02}
    result = decide(table(rising, alphas=alphas), BASE, FAST)
    assert result["verdict"] == NO_MANIPULATION
    assert result["manipulation"]["alpha_range"] < 0.1
    checks = {row["model"]: row for row in result["manipulation"]["networks"]}
    assert checks["pen-3"]["alpha_minus_target"] == pytest.approx(-0.98, abs=0.05)
    assert checks[BASE]["alpha_minus_target"] is None


def test_censored_majority_is_undefined_and_json_safe():
    result = decide(table(rising, censored=("pen-3",)), BASE, FAST)
    assert result["verdict"] == UNDEFINED
    assert "censored" in result["reason"] and "pen-3 seed 0" in result["reason"]
    assert result["slope"] is None and result["low"] is None
    json.dumps(result, allow_nan=False)


def test_fewer_than_two_kept_networks_is_undefined():
    networks = table(rising, accuracy={"pen-2.5": 0.9, "pen-3": 0.9})
    result = decide(networks, BASE, FAST)
    assert result["verdict"] == UNDEFINED and "fewer than two" in result["reason"]


def test_bootstrap_is_reproducible_and_widens_with_seed_noise():
    networks = table(rising)
    first, again = decide(networks, BASE, FAST), decide(networks, BASE, FAST)
    assert (first["low"], first["high"]) == (again["low"], again["high"])
    other = decide(networks, BASE, VerdictSettings(bootstrap=500, seed=1))
    assert (other["low"], other["high"]) != (first["low"], first["high"])
    noisy = decide(table(rising, noise=0.1), BASE, FAST)
    assert noisy["high"] - noisy["low"] > 3 * (first["high"] - first["low"])


def test_layer_rho_is_reported_per_layer_with_its_interval():
    result = decide(table(rising), BASE, FAST)
    assert [row["layer"] for row in result["layers"]] == [1, 2, 3]
    for row in result["layers"]:
        assert row["rho"] > 0.8 and row["low"] <= row["rho"] <= row["high"]


def test_sensitivity_flags_a_verdict_that_rests_on_the_minimum_effect():
    networks = table(lambda a: 1 + 0.15 * (a - 2.0), noise=0.005)
    grid = sensitivity(networks, BASE, FAST)
    verdicts = grid.set_index("min_effect")["verdict"]
    assert grid["configured"].sum() == 1
    assert set(verdicts[[0.05, 0.1]]) == {CAUSAL_SUPPORT} and set(verdicts[[0.2]]) == {NO_EFFECT}
    assert robustness_of_verdict(grid) == "rests on min_effect"
    configured = grid[grid["configured"]]["verdict"].item()
    assert configured == decide(networks, BASE, FAST)["verdict"]


def test_sensitivity_flags_a_verdict_that_rests_on_the_accuracy_tolerance():
    # a network 0.015 below the baseline's accuracy, with high alpha and low robustness
    alphas = {**ALPHAS, "costly": 3.5}
    family = {**FAMILY, "costly": Penalty(5.0, 4.0)}
    networks = table(
        lambda a: 0.2 if a > 3.2 else 1.0, family=family, alphas=alphas, noise=0.005,
        accuracy={"costly": 0.955},
    )  # fmt: skip
    grid = sensitivity(networks, BASE, FAST)
    by_tolerance = grid.groupby("accuracy_tolerance")["verdict"].agg(set)
    assert by_tolerance[0.01] == {NO_EFFECT} and NO_EFFECT not in by_tolerance[0.02]
    assert robustness_of_verdict(grid) == "rests on accuracy_tolerance"


def test_a_clear_verdict_is_robust():
    assert robustness_of_verdict(sensitivity(table(rising), BASE, FAST)) == "robust"


def test_render_markdown_shows_every_part():
    networks = table(rising)
    result = decide(networks, BASE, FAST)
    markdown = render_markdown(networks, result, sensitivity(networks, BASE, FAST))
    assert markdown.startswith("## Spectral intervention")
    assert result["answer"] in markdown
    for heading in ("Networks", "Left out", "Manipulation check", "per layer", "Sensitivity"):
        assert f"### {heading}" in markdown or heading in markdown
    assert "**Verdict: causal support** (robust)" in markdown
    assert "| pen-3 |" in markdown and "**causal support**" in markdown
    assert "bootstrap p of slope 0: < 0.002" in markdown  # p 0 of 500 resamples


def test_settings_from_config_take_defaults_and_reject_unknown_or_bad_values():
    settings = VerdictSettings.from_config({"min_effect": 0.2})
    assert settings.min_effect == 0.2 and settings.accuracy_tolerance == 0.01
    with pytest.raises(ValueError, match="min_efect"):
        VerdictSettings.from_config({"min_efect": 0.2})
    with pytest.raises(ValueError, match="'confidence'"):
        VerdictSettings.from_config({"confidence": 1.5})
    with pytest.raises(ValueError, match="'bootstrap'"):
        VerdictSettings.from_config({"bootstrap": 2.5})


def test_a_penalised_network_needs_a_target_exponent():
    with pytest.raises(ValueError, match="target exponent"):
        Penalty(1.0)


def test_decide_rejects_an_unknown_baseline():
    with pytest.raises(ValueError, match="'nobody' is not in the network table"):
        decide(table(rising), "nobody", FAST)


def test_slope_and_rank_correlation_along_the_last_axis():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]])
    np.testing.assert_allclose(ols_slope(x, 2 * x + 1), [2.0, np.nan])
    rho = rank_correlation(x, np.exp(x))
    assert rho[0] == pytest.approx(1.0) and np.isnan(rho[1])
    assert rank_correlation([1.0, 2.0, 3.0], [3.0, 2.0, np.inf]) == pytest.approx(0.5)
