"""The real pipeline, run by Snakemake on the quick preset in a fresh copy of the workflow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runner import ROOT, planned_jobs, snakemake

from manifold_smoothness.study import ATTACKS, FIGURE_FORMATS, FIGURES

pytestmark = pytest.mark.workflow


def quick_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())


def test_quick_preset_builds_every_figure_and_the_claims(quick_run):
    figures = quick_run / "results" / "figures" / "mnist" / "quick"
    for name in FIGURES:
        for ext in FIGURE_FORMATS:
            assert (figures / f"{name}.{ext}").stat().st_size > 1000, name
    claims = (quick_run / "results" / "claims" / "mnist" / "quick.md").read_text()
    assert all(word in claims for word in ("Claim 1", "Claim 2", "Claim 3"))


def test_summary_holds_every_seed_condition_and_layer(quick_run):
    config = quick_config()
    summary = pd.read_parquet(quick_run / "results" / "mnist" / "quick" / "summary.parquet")
    n_layers = len(config["models"][0]["hidden"])
    grids = [config["attacks"][a]["strengths"] for a in ATTACKS]
    conditions = 1 + sum(len(g) for g in grids)  # clean + every grid point (0 copies clean)
    assert len(summary) == len(config["seeds"]) * conditions * n_layers
    clean = summary[summary.attack == "clean"].sort_values(["seed", "layer"])
    fgsm0 = summary[(summary.attack == "fgsm") & (summary.strength == 0)]
    fgsm0 = fgsm0.sort_values(["seed", "layer"])
    assert clean.accuracy.tolist() == fgsm0.accuracy.tolist()
    assert (clean.accuracy > 0.5).all()


def test_every_job_left_a_log_and_a_benchmark(quick_run):
    logs = list((quick_run / "results" / "logs").rglob("*.log"))
    benchmarks = list((quick_run / "results" / "benchmarks").rglob("*.tsv"))
    assert len(logs) == len(benchmarks) > 20
    training_log = next((quick_run / "results" / "logs" / "train_model").rglob("*.log"))
    assert "epoch 3/3" in training_log.read_text()


def test_swept_activations_are_temporary_clean_ones_kept(quick_run):
    seed_dir = quick_run / "results" / "mnist" / "quick" / "seed0"
    assert (seed_dir / "clean" / "0" / "activations.parquet").exists()
    assert not (seed_dir / "gaussian" / "1" / "activations.parquet").exists()
    assert (seed_dir / "gaussian" / "1" / "spectrum.parquet").exists()


def test_a_complete_run_has_nothing_left_to_do(quick_run):
    assert planned_jobs(quick_run, "--configfile", "config/quick.yaml") == {}


def test_adding_one_strength_reruns_only_that_attacks_sweeps(quick_run, tmp_path):
    """One job records (and one analyses) every strength of an attack for a seed: a new
    strength reruns that attack's two jobs per seed, never training or the other attacks."""
    config = quick_config()
    config["attacks"]["gaussian"]["strengths"].append(0.5)
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(quick_run, "--configfile", str(extra))
    seeds = len(config["seeds"])
    out = snakemake(quick_run, "--dry-run", "--configfile", str(extra)).stdout
    assert jobs["record_activations_gaussian"] == jobs["compute_spectrum_gaussian"] == seeds, out
    assert not {"train_model", "prepare_dataset"} & set(jobs)
    assert not [
        r for r in jobs if r.startswith(("record_activations", "compute_")) and "gaussian" not in r
    ]
    assert set(re.findall(r"gaussian/([0-9.]+)/activations", out)) == {"0.5", "1"}


def test_changing_the_fit_window_reruns_only_the_summary_and_after(quick_run, tmp_path):
    config = quick_config()
    config["analysis"]["fit_window"] = [2, 100]
    changed = tmp_path / "window.yaml"
    changed.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(quick_run, "--configfile", str(changed))
    assert jobs.get("summarize_spectra") == 1
    assert not [r for r in jobs if r.startswith(("train_", "record_activations", "compute_"))]
    assert "plot_training" not in jobs  # does not read the summary


def test_workflow_lints_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr or not result.stdout.strip()


def test_snakefmt_leaves_files_unchanged():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    result = subprocess.run(
        [str(snakefmt), "--check", "Snakefile", "rules"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_report_holds_every_figure_the_config_and_the_claims(quick_run):
    snakemake(quick_run, "--configfile", "config/quick.yaml", "--report", "results/report.html")
    html = (quick_run / "results" / "report.html").read_text()
    for name in (*[f"{figure}.png" for figure in FIGURES], "config.yaml", "quick.html"):
        assert name in html, name


def test_changing_the_fgsm_target_reruns_only_fgsm_conditions(quick_run, tmp_path):
    config = quick_config()
    config["attacks"]["fgsm"]["target"] = "layer"
    changed = tmp_path / "target.yaml"
    changed.write_text(yaml.safe_dump(config))
    jobs = planned_jobs(quick_run, "--configfile", str(changed))
    assert jobs["record_activations_fgsm"] == len(config["seeds"])
    assert not {"record_activations_clean", "record_activations_gaussian", "train_model"} & set(
        jobs
    )
