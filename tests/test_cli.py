"""Tests for `python -m manifold_smoothness summary` on a small real summary file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from manifold_smoothness.cli import main
from manifold_smoothness.storage import write_table
from manifold_smoothness.summary import SUMMARY_COLUMNS, summary_table

CONDITIONS = [("clean", 0.0), ("fgsm", 0.0), ("fgsm", 0.2), ("gaussian", 0.0), ("gaussian", 1.0)]


def _row(seed: int, attack: str, strength: float, layer: int) -> dict:
    """accuracy 0.9 - 0.1 strength, alpha 1 + 0.1 layer, D 10 - layer; seeds differ by 0.02."""
    values = dict.fromkeys(SUMMARY_COLUMNS, 0.0)
    values.update(dataset="mnist", model="tiny", seed=seed, attack=attack, strength=strength)
    values.update(rule="local", method=attack, target="output", final=True, epoch=3.0)
    values.update(train_subset=0, n_valid=8, window_inside=True, probe_accuracy=0.95)
    values.update(layer=layer, width=8, n_samples=100, first_rank=3, last_rank=8)
    values.update(
        accuracy=0.9 - 0.1 * strength + 0.02 * seed,
        alpha=1.0 + 0.1 * layer + 0.02 * seed,
        dimension=10.0 - layer + 0.02 * seed,
    )
    return values


@pytest.fixture
def summary_file(tmp_path: Path) -> Path:
    rows = [
        _row(seed, attack, strength, layer)
        for seed in (0, 1)
        for attack, strength in CONDITIONS
        for layer in (1, 2, 3)
    ]
    path = tmp_path / "summary.parquet"
    write_table(summary_table(pd.DataFrame(rows)), path)
    return path


def _table_rows(output: str) -> list[list[str]]:
    """The data lines of the printed table, split into fields (title and headers dropped)."""
    return [line.split() for line in output.splitlines()[3:]]


def test_clean_is_the_default_with_mean_and_std_over_seeds(summary_file, capsys):
    assert main(["summary", str(summary_file)]) == 0
    rows = _table_rows(capsys.readouterr().out)
    # layer, accuracy mean/std, probe mean/std, alpha mean/std, D mean/std, seeds
    assert rows[1] == [
        "2", "0.9100", "0.0141", "0.9500", "0.0000", "1.2100", "0.0141", "8.0100", "0.0141", "2"
    ]  # fmt: skip
    assert len(rows) == 3


def test_trajectory_lists_the_clean_rows_of_every_snapshot(tmp_path, capsys):
    rows = [
        {**_row(seed, "clean", 0.0, layer), "epoch": epoch, "final": epoch == 3.0}
        for seed in (0, 1)
        for epoch in (0.0, 1.0, 3.0)
        for layer in (1, 2)
    ]
    path = tmp_path / "summary.parquet"
    write_table(summary_table(pd.DataFrame(rows)), path)
    assert main(["summary", str(path), "--trajectory"]) == 0
    printed = _table_rows(capsys.readouterr().out)
    assert len(printed) == 6 and printed[0][:2] == ["0.0", "1"]


def test_attack_and_strength_select_one_condition(summary_file, capsys):
    assert main(["summary", str(summary_file), "--attack", "fgsm", "--strength", "0.2"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [row[:2] for row in rows] == [["1", "0.8900"], ["2", "0.8900"], ["3", "0.8900"]]


def test_attack_without_strength_lists_every_strength(summary_file, capsys):
    assert main(["summary", str(summary_file), "--attack", "gaussian"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == 6  # 2 strengths x 3 layers
    assert rows[3][:3] == ["1.0", "1", "0.8100"]  # strength 1, layer 1


def test_missing_file_fails_with_its_name(tmp_path, capsys):
    missing = tmp_path / "nothing.parquet"
    assert main(["summary", str(missing)]) == 1
    assert f"{missing} does not exist" in capsys.readouterr().err


def test_file_that_is_not_parquet_fails_clearly(tmp_path, capsys):
    text = tmp_path / "summary.parquet"
    text.write_text("not a table\n")
    assert main(["summary", str(text)]) == 1
    assert "is not a readable parquet file" in capsys.readouterr().err


def test_parquet_without_summary_columns_names_them(tmp_path, capsys):
    other = tmp_path / "spectrum.parquet"
    write_table(summary_table(pd.DataFrame([_row(0, "clean", 0.0, 1)])).drop(["alpha"]), other)
    assert main(["summary", str(other)]) == 1
    assert "has no column(s) ['alpha']" in capsys.readouterr().err


def test_unknown_attack_lists_the_attacks_present(summary_file, capsys):
    assert main(["summary", str(summary_file), "--attack", "pgd"]) == 1
    assert "no attack 'pgd'" in capsys.readouterr().err


def test_unknown_strength_lists_the_strengths_present(summary_file, capsys):
    assert main(["summary", str(summary_file), "--attack", "fgsm", "--strength", "0.3"]) == 1
    assert "no strength 0.3 for attack 'fgsm'; it has [0.0, 0.2]" in capsys.readouterr().err


def test_module_entry_point_exits_non_zero_on_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "manifold_smoothness", "summary", str(tmp_path / "x.parquet")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stdout == ""
