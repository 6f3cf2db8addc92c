"""Tests for the verdicts' threshold sensitivity (claims_sensitivity) and the Gaussian-FGSM
contrast (claims_statistics.shape_contrast), on the synthetic summaries of test_claims."""

from __future__ import annotations

import pytest
from test_claims import (
    FGSM,
    GAUSSIAN,
    PAPER,
    _claim,
    _evaluate,
    attacked,
    hump,
    linear_fall,
    make_summary,
)
from test_claims_spec import THRESHOLDS

from manifold_smoothness.claims_report import render_markdown
from manifold_smoothness.claims_sensitivity import verdict_at
from manifold_smoothness.claims_spec import (
    ACCURACY_NEEDS_DECAY,
    SENSITIVITY_FACTORS,
    SHAPE_THRESHOLDS,
    Verdict,
)
from manifold_smoothness.claims_statistics import (
    CONTRAST_FGSM,
    CONTRAST_GAUSSIAN,
    CONTRAST_NONE,
    relative_reversals,
)


def fall_then_back(strength: float, back: float = 0.3) -> float:
    """Falls by 1.0 to strength 0.15, then climbs back by `back` at 0.3: r = back."""
    if strength <= 0.15:
        return -strength / 0.15
    return -1.0 + back * (strength - 0.15) / 0.15


@pytest.fixture(scope="module")
def paper_result() -> dict:
    """Gaussian falls, FGSM rises and falls back completely (r = 1): the paper's picture."""
    return _evaluate(make_summary(sweeps=(GAUSSIAN, FGSM)))


@pytest.fixture(scope="module")
def borderline_result() -> dict:
    """FGSM turns back by 0.3 of its fall: non-monotonic at min_relative_reversal 0.25 only."""
    attack = attacked({"gaussian": linear_fall, "fgsm": fall_then_back})
    return _evaluate(make_summary(attack=attack, sweeps=(GAUSSIAN, FGSM)))


def test_clear_shape_verdicts_are_robust(paper_result) -> None:
    for number in (2, 3):
        claim = _claim(paper_result, number)
        assert claim["verdict"] == Verdict.PASS.value
        assert claim["sensitivity"] == {
            **claim["sensitivity"],
            "robust": True,
            "rests_on": [],
        }
        keys = [row["key"] for row in claim["sensitivity"]["thresholds"]]
        assert keys == list(SHAPE_THRESHOLDS)


def test_every_threshold_is_moved_from_half_to_double_within_its_range(paper_result) -> None:
    rows = {row["key"]: row for row in _claim(paper_result, 3)["sensitivity"]["thresholds"]}
    tested = [t["value"] for t in rows["uncertainty_k"]["tested"]]
    assert tested == pytest.approx([f * THRESHOLDS["uncertainty_k"] for f in SENSITIVITY_FACTORS])
    # monotonic_majority 0.8: 0.4 and 1.2 .. 1.6 lie outside (0.5, 1] and are skipped
    tested = [t["value"] for t in rows["monotonic_majority"]["tested"]]
    assert min(tested) > 0.5 and max(tested) <= 1.0 and 0.8 in tested


def test_a_verdict_on_the_edge_of_a_threshold_names_it_and_where_it_flips(
    borderline_result,
) -> None:
    claim = _claim(borderline_result, 3)
    assert claim["verdict"] == Verdict.PASS.value
    sensitivity = claim["sensitivity"]
    assert sensitivity["robust"] is False
    assert sensitivity["rests_on"] == ["min_relative_reversal"]
    (row,) = [r for r in sensitivity["thresholds"] if r["key"] == "min_relative_reversal"]
    (flip,) = row["flips"]
    assert (flip["from"], flip["to"]) == ("PASS", "FAIL")
    assert flip["between"][0] < flip["at"] <= flip["between"][1]
    assert flip["at"] == pytest.approx(0.3, abs=0.02)  # the curves' own r
    text = render_markdown(borderline_result)
    assert "rests on min_relative_reversal = 0.25 (FAIL from 0.3" in text


def test_re_deciding_at_the_configured_thresholds_gives_the_verdict(borderline_result) -> None:
    claim = _claim(borderline_result, 1)
    limits = borderline_result["thresholds"]
    # claim 1 from the JSON numbers (rho and gap per seed) at its own and at strict thresholds
    assert verdict_at(ACCURACY_NEEDS_DECAY, claim["numbers"], limits).value == claim["verdict"]
    strict = {**limits, "min_accuracy_gap": 1.0}
    assert verdict_at(ACCURACY_NEEDS_DECAY, claim["numbers"], strict) is not Verdict.PASS


def test_relative_reversal_is_zero_for_monotonic_and_one_for_a_full_return() -> None:
    curves = [[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0] * 4]
    assert relative_reversals(curves).tolist() == [0.0, 0.0, 1.0, 0.0]


def test_the_contrast_finds_fgsm_reversing_where_gaussian_does_not(paper_result) -> None:
    rows = _claim(paper_result, 3)["numbers"]["contrast"]
    paper = [r for r in rows if r["model"] == PAPER.name]
    assert [r["layer"] for r in paper] == [1, 2, 3]
    for row in paper:
        assert row["call"] == CONTRAST_FGSM
        assert row["delta"] == pytest.approx(1.0, abs=0.05)
        assert row["delta_low"] > 0.5 and row["delta_se"] < 0.1
    assert "**Gaussian-FGSM contrast per layer.**" in render_markdown(paper_result)


def test_the_contrast_is_signed_and_zero_without_a_difference() -> None:
    swapped = attacked({"gaussian": hump, "fgsm": linear_fall})
    rows = _claim(_evaluate(make_summary(attack=swapped, sweeps=(GAUSSIAN, FGSM))), 3)
    assert {r["call"] for r in rows["numbers"]["contrast"]} == {CONTRAST_GAUSSIAN}
    same = attacked({"gaussian": linear_fall, "fgsm": linear_fall})
    rows = _claim(_evaluate(make_summary(attack=same, sweeps=(GAUSSIAN, FGSM))), 3)
    for row in rows["numbers"]["contrast"]:
        assert row["call"] == CONTRAST_NONE
        assert abs(row["delta"]) < 0.1


def test_the_contrast_is_the_same_in_every_run(paper_result) -> None:
    again = _evaluate(make_summary(sweeps=(GAUSSIAN, FGSM)))
    assert _claim(again, 3)["numbers"]["contrast"] == _claim(paper_result, 3)["numbers"]["contrast"]
