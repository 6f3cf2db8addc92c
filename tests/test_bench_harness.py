"""bench/harness.py's interval of a median, which decides a row's ok between yes, no and
within noise."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from workflow_runner import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from harness import WITHIN_NOISE, Row, median_interval, verdict  # noqa: E402


@pytest.mark.parametrize(("n", "k", "coverage"), [(3, 1, 0.75), (7, 2, 0.875), (11, 3, 0.9346)])
def test_the_interval_is_the_narrowest_pair_of_order_statistics_that_covers(n, k, coverage):
    values = list(np.random.default_rng(n).permutation(np.arange(n, dtype=float)))
    low, high, reached = median_interval(values, confidence=0.8)
    assert (low, high) == (k - 1, n - k)  # x_(k) and x_(n+1-k) of 0..n-1
    assert reached == pytest.approx(coverage, abs=1e-4)


def test_the_coverage_is_what_the_median_of_samples_meets():
    """Over many draws of 7 values, the interval holds the true median ~87.5 % of the time."""
    rng = np.random.default_rng(0)
    draws = rng.lognormal(0.0, 0.2, size=(20000, 7))  # true median 1
    hits = 0
    for row in draws:
        low, high, _ = median_interval(row)
        hits += low <= 1.0 <= high
    assert hits / len(draws) == pytest.approx(0.875, abs=0.01)


def test_the_verdict_is_undecided_only_when_the_interval_holds_the_target():
    assert verdict(1.1, 1.29, 1.3) is True
    assert verdict(1.31, 1.5, 1.3) is False
    assert verdict(1.2, 1.4, 1.3) == WITHIN_NOISE
    row = Row("4a", "m", "v", "<= 1.3", WITHIN_NOISE)
    assert row.ok_text == "within noise"
    assert [Row("x", "m", "v", "t", ok).ok_text for ok in (True, False, None)] == ["yes", "no", "-"]
