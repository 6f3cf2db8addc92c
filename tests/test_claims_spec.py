"""Tests for manifold_smoothness.claims_spec: the thresholds check and the claims' definitions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from manifold_smoothness.claims_spec import (
    CLAIMS,
    MIN_POINTS,
    MIN_STRENGTHS,
    THRESHOLD_KEYS,
    ClaimsError,
    check_thresholds,
    is_paper_network,
    smoothness_text,
)

THRESHOLDS = {
    "high_accuracy": 0.9,
    "min_rho": 0.3,
    "min_accuracy_gap": 0.02,
    "min_relative_reversal": 0.25,
    "uncertainty_k": 3.0,
    "monotonic_majority": 0.8,
    "bound_margin": 0.1,
}


def test_thresholds_come_back_as_floats_without_other_keys() -> None:
    limits = check_thresholds({**THRESHOLDS, "uncertainty_k": 3, "input_dimension": None})
    assert limits == THRESHOLDS
    assert all(type(v) is float for v in limits.values())


def test_every_key_of_the_config_section_is_checked() -> None:
    assert set(THRESHOLD_KEYS) == set(THRESHOLDS)


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("high_accuracy", 0.0, "(0, 1]"),
        ("high_accuracy", 1.01, "(0, 1]"),
        ("min_rho", 0.0, "(0, 1]"),
        ("min_rho", 1.5, "(0, 1]"),
        ("min_accuracy_gap", 0.0, "(0, 1]"),
        ("min_accuracy_gap", 2.0, "(0, 1]"),
        ("min_relative_reversal", 0.0, "(0, 1]"),
        ("min_relative_reversal", 1.5, "(0, 1]"),
        ("uncertainty_k", 0.0, "(0, inf)"),
        ("monotonic_majority", 0.5, "(0.5, 1]"),
        ("monotonic_majority", 1.1, "(0.5, 1]"),
        ("bound_margin", -0.01, "[0, inf)"),
    ],
)
def test_out_of_range_threshold_names_the_key_and_range(key: str, value: float, allowed) -> None:
    with pytest.raises(ClaimsError) as err:
        check_thresholds({**THRESHOLDS, key: value})
    assert f"'claims.{key}'" in str(err.value)
    assert allowed in str(err.value)


@pytest.mark.parametrize(
    "key, value",
    [
        ("high_accuracy", 1.0),
        ("min_rho", 1.0),
        ("min_accuracy_gap", 1.0),
        ("min_relative_reversal", 1.0),
        ("uncertainty_k", 1e-3),
        ("monotonic_majority", 1.0),
        ("bound_margin", 0.0),
    ],
)
def test_range_edges_are_accepted(key: str, value: float) -> None:
    assert check_thresholds({**THRESHOLDS, key: value})[key] == value


@pytest.mark.parametrize("key", THRESHOLD_KEYS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_threshold_raises(key: str, value: float) -> None:
    with pytest.raises(ClaimsError, match=rf"'claims\.{key}': .* is not finite"):
        check_thresholds({**THRESHOLDS, key: value})


@pytest.mark.parametrize("key", THRESHOLD_KEYS)
@pytest.mark.parametrize("value", ["0.9", True, None, [0.9]])
def test_non_number_threshold_raises(key: str, value) -> None:
    with pytest.raises(ClaimsError, match=rf"'claims\.{key}': .* is not a number"):
        check_thresholds({**THRESHOLDS, key: value})


@pytest.mark.parametrize("key", THRESHOLD_KEYS)
def test_missing_threshold_raises(key: str) -> None:
    thresholds = {k: v for k, v in THRESHOLDS.items() if k != key}
    with pytest.raises(ClaimsError, match=rf"'claims\.{key}' is missing"):
        check_thresholds(thresholds)


def test_old_keys_are_not_enough() -> None:
    old = {"high_accuracy": 0.9, "monotonic_rho": 0.9, "min_extremum_depth": 2.0}
    with pytest.raises(ClaimsError, match=r"'claims\.min_rho' is missing"):
        check_thresholds(old)


def test_thresholds_must_be_a_mapping() -> None:
    with pytest.raises(ClaimsError, match="must be a mapping; got list"):
        check_thresholds([0.9, 0.9, 2.0])


def test_claims_error_is_a_value_error() -> None:
    assert issubclass(ClaimsError, ValueError)


def test_import_loads_no_numerics() -> None:
    code = (
        "import sys, manifold_smoothness.claims_spec; "
        "print(sorted({'numpy', 'pandas', 'scipy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_statistic_text_fills_thresholds_and_fixed_parameters() -> None:
    claim1, claim2, claim3 = (spec.statistic_text(THRESHOLDS) for spec in CLAIMS)
    assert "mean rho over seeds is >= 0.3" in claim1
    assert "g_s >= 0.02" in claim1 and f"at least {MIN_POINTS} finite points" in claim1
    assert "r >= 0.25" in claim2 and "D >= 3 x se_D" in claim2
    assert f"at least {MIN_STRENGTHS} strengths" in claim2
    assert "fraction of monotonic curves is >= 0.8" in claim2
    assert "<= 0.2 (1 - monotonic_majority)" in claim3
    assert "target output" in claim3 and "target output" not in claim2
    assert "[0, 0.1)" in smoothness_text(THRESHOLDS)


@pytest.mark.parametrize("spec", CLAIMS, ids=lambda spec: f"claim{spec.id}")
def test_every_statistic_states_null_uncertainty_and_minimum_effect(spec) -> None:
    text = spec.statistic_text(THRESHOLDS)
    assert "{" not in text
    for part in ("Null:", "Uncertainty:", "Minimum effect:", "PASS", "FAIL", "INCONCLUSIVE"):
        assert part in text, part


@pytest.mark.parametrize(
    "rule, train_subset, label_noise, paper",
    [
        ("local", 0, 0.0, True),
        ("greedy", 0, 0.0, False),
        ("backprop", 0, 0.0, False),
        ("local", 6000, 0.0, False),
        ("local", 0, 0.2, False),
    ],
)
def test_paper_networks_are_local_on_the_full_clean_training_set(
    rule: str, train_subset: int, label_noise: float, paper: bool
) -> None:
    assert is_paper_network(rule, train_subset, label_noise) is paper
