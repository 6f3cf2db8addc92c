"""Comparing two runs of one study: every decision paired, summary differences measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_claims import BACKPROP, PAPER, _evaluate, attacked, linear_fall, make_summary

from manifold_smoothness.cli import main
from manifold_smoothness.compare import (
    CompareError,
    compare_decisions,
    compare_runs,
    compare_summaries,
    decisions,
)
from manifold_smoothness.storage import write_table
from manifold_smoothness.summary import SUMMARY_COLUMNS, summary_table


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return make_summary()


def _noisy(summary: pd.DataFrame, scale: float, seed: int = 0) -> pd.DataFrame:
    """The same study with alpha moved by floating-point-sized noise."""
    out = summary.copy()
    out["alpha"] += np.random.default_rng(seed).normal(0, scale, len(out))
    return out


def test_decisions_name_every_verdict_and_per_layer_status(summary) -> None:
    decided = decisions(_evaluate(summary))
    assert [decided[f"claim {i} verdict"] for i in (1, 2, 3)] == ["PASS", "PASS", "PASS"]
    assert decided["claim 1: probe, layer 2"] == "supported"
    assert decided["claims 2/3: local5, fgsm, layer 3"] == "non-monotonic"
    assert decided["claims 2/3: local5, gaussian, layer 3"] == "monotonic"


def test_noise_below_the_uncertainty_changes_no_decision_but_is_measured(summary) -> None:
    noisy = _noisy(summary, 1e-4)
    decided = compare_decisions(_evaluate(summary), _evaluate(noisy))
    assert decided["same"].all()
    differences = compare_summaries(summary, noisy).set_index("measure")
    alpha = differences.loc["alpha"]
    assert alpha["rows"] == len(summary) and alpha["unmatched"] == 0
    assert 0.3e-4 < alpha["median_abs_diff"] < 1e-4 < alpha["max_abs_diff"] < 1e-3
    # alpha_se is 0.01 in every row: the ratio is the difference x 100
    assert alpha["median_diff_over_se"] == pytest.approx(alpha["median_abs_diff"] / 0.01)
    assert differences.loc["accuracy", "max_abs_diff"] == 0


def test_a_changed_verdict_is_reported_with_the_layers_behind_it(summary) -> None:
    flat = attacked({"gaussian": linear_fall, "fgsm": linear_fall, "random_sign": linear_fall})
    decided = compare_decisions(_evaluate(summary), _evaluate(make_summary(attack=flat)))
    differ = decided[~decided["same"]].set_index("decision")
    assert differ.loc["claim 3 verdict", ["a", "b"]].tolist() == ["PASS", "FAIL"]
    assert "claim 2 verdict" not in differ.index and "claim 1 verdict" not in differ.index
    for net in (PAPER, BACKPROP):
        key = f"claims 2/3: {net.name}, fgsm, layer 1"
        assert differ.loc[key, ["a", "b"]].tolist() == ["non-monotonic", "monotonic"]


def _write_run(root: Path, summary: pd.DataFrame, config: dict) -> Path:
    (root / "results/claims").mkdir(parents=True)
    (root / "results/config.yaml").write_text(yaml.safe_dump(config))
    (root / "results/claims/mnist.json").write_text(json.dumps(_evaluate(summary)))
    # the columns the claims do not read, filled so that the summary's schema holds
    summary = summary.assign(**{c: 0 for c in SUMMARY_COLUMNS if c not in summary})
    for model, rows in summary.groupby("model"):
        (root / f"results/mnist/{model}").mkdir(parents=True)
        write_table(summary_table(rows), root / f"results/mnist/{model}/summary.parquet")
    return root


CONFIG = {
    "dataset": {"names": ["mnist"]},
    "models": [{"name": PAPER.name}, {"name": BACKPROP.name}],
    "attacks": {"gaussian": {"method": "gaussian"}},
    "claims": {},
    "analysis": {},
}


def test_compare_command_reads_two_runs_and_exits_2_on_a_differing_verdict(
    tmp_path, summary, capsys
) -> None:
    run_a = _write_run(tmp_path / "a", summary, CONFIG)
    run_b = _write_run(tmp_path / "b", _noisy(summary, 1e-4), CONFIG)
    flat = attacked({"gaussian": linear_fall, "fgsm": linear_fall, "random_sign": linear_fall})
    run_c = _write_run(tmp_path / "c", make_summary(attack=flat), CONFIG)

    assert main(["compare", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert "0 of 3 verdicts differ" in out and "Decisions that differ" not in out
    assert main(["compare", str(run_a), str(run_c)]) == 2
    assert "| mnist | claim 3 verdict | PASS | FAIL | no |" in capsys.readouterr().out


def test_runs_that_are_not_comparable_are_refused(tmp_path, summary) -> None:
    run_a = _write_run(tmp_path / "a", summary, CONFIG)
    with pytest.raises(CompareError, match="results/config.yaml"):
        compare_runs(run_a, tmp_path / "nowhere")
    other = _write_run(tmp_path / "b", summary, CONFIG | {"claims": {"min_rho": 0.5}})
    with pytest.raises(CompareError, match="differ in 'claims'"):
        compare_runs(run_a, other)
    (other / "results/claims/mnist.json").unlink()
    with pytest.raises(CompareError, match="not finished: missing .*mnist.json"):
        compare_runs(other, other)
