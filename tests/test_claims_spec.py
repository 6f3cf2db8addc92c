"""Tests for manifold_smoothness.claims_spec: the thresholds check and the claims' definitions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from manifold_smoothness.claims_spec import (
    CLAIMS,
    MIN_STRENGTHS,
    THRESHOLD_KEYS,
    ClaimsError,
    check_thresholds,
)

THRESHOLDS = {"high_accuracy": 0.9, "monotonic_rho": 0.9, "min_extremum_depth": 2.0}


def test_thresholds_come_back_as_floats_without_other_keys() -> None:
    limits = check_thresholds({**THRESHOLDS, "min_extremum_depth": 3, "input_dimension": None})
    assert limits == {**THRESHOLDS, "min_extremum_depth": 3.0}
    assert all(type(v) is float for v in limits.values())


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("high_accuracy", 1.5, "(0, 1]"),
        ("high_accuracy", 0.0, "(0, 1]"),
        ("monotonic_rho", 0.0, "(0, 1]"),
        ("min_extremum_depth", -1.0, "[0, inf)"),
    ],
)
def test_out_of_range_threshold_names_the_key_and_range(key: str, value: float, allowed) -> None:
    with pytest.raises(ClaimsError) as err:
        check_thresholds({**THRESHOLDS, key: value})
    assert f"'claims.{key}'" in str(err.value)
    assert allowed in str(err.value)


@pytest.mark.parametrize("key", THRESHOLD_KEYS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_threshold_raises(key: str, value: float) -> None:
    with pytest.raises(ClaimsError, match=rf"'claims\.{key}': .* is not finite"):
        check_thresholds({**THRESHOLDS, key: value})


@pytest.mark.parametrize("value", ["0.9", True, None, [0.9]])
def test_non_number_threshold_raises(value) -> None:
    with pytest.raises(ClaimsError, match=r"'claims\.monotonic_rho': .* is not a number"):
        check_thresholds({**THRESHOLDS, "monotonic_rho": value})


def test_missing_threshold_raises() -> None:
    thresholds = {k: v for k, v in THRESHOLDS.items() if k != "min_extremum_depth"}
    with pytest.raises(ClaimsError, match=r"'claims\.min_extremum_depth' is missing"):
        check_thresholds(thresholds)


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
    text = CLAIMS[1].statistic_text({**THRESHOLDS, "monotonic_rho": 0.75})
    assert "|rho| >= 0.75" in text
    assert f"fewer than {MIN_STRENGTHS} strengths" in text


@pytest.mark.parametrize("spec", CLAIMS, ids=lambda spec: f"claim{spec.id}")
def test_every_statistic_template_is_filled(spec) -> None:
    assert "{" not in spec.statistic_text(THRESHOLDS)
