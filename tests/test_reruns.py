"""Exact reruns of the real workflow after a code or data change: the rerun hash of every rule
follows its imports, and training never resumes a checkpoint that other code or data wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from workflow_runner import ROOT, planned_jobs, quick_study, snakemake

from manifold_smoothness.targets import model_conditions, snapshots

pytestmark = pytest.mark.workflow
QUICK = "config/quick.yaml"
PACKAGE = Path("src/manifold_smoothness")
SUMMARY_READERS = {
    "summarize_spectra",
    "plot_spectra",
    "plot_layers",
    "plot_trajectory",
    "plot_attack",
    "plot_accuracy_alpha",
    "plot_generalization",
    "check_claims",
}


@pytest.fixture
def finished(quick_run, tmp_path) -> Path:
    """A private copy of the finished quick run (with Snakemake's metadata), to edit."""
    workdir = tmp_path / "run"
    shutil.copytree(quick_run, workdir, symlinks=True)
    return workdir


def edit(workdir: Path, module: str) -> None:
    """A real edit of a package module (a new line of code, not only a comment)."""
    path = workdir / PACKAGE / module
    path.write_text(path.read_text() + "\n_EDITED = True\n")


def test_editing_a_module_imported_indirectly_reruns_exactly_its_rules(finished):
    # spectrum.py is imported by no rule script directly: compute_spectrum and analyse_snapshot
    # reach it through their stage modules, summarize_spectra through summary.py
    edit(finished, "spectrum.py")
    jobs = planned_jobs(finished, "--configfile", QUICK)
    study = quick_study()
    seeds, models = len(study["seeds"]), [m["name"] for m in study["models"]]
    attacks = {a for m in models for a in model_conditions(study, m)}
    spectra = {
        f"compute_spectrum_{a}": seeds * sum(a in model_conditions(study, m) for m in models)
        for a in attacks
    }
    # activations are temp(), gone once their spectra were made: recording them again is the
    # price of recomputing their spectra
    records = {r.replace("compute_spectrum_", "record_activations_"): n for r, n in spectra.items()}
    assert {r: n for r, n in jobs.items() if r.startswith(("compute", "record"))} == {
        **spectra,
        **records,
    }
    assert jobs["analyse_snapshot"] == seeds * sum(len(snapshots(study, m)) for m in models)
    assert set(jobs) - {"all", "analyse_snapshot"} - set(spectra) - set(records) == (
        SUMMARY_READERS
    )


def test_editing_an_unrelated_module_reruns_none_of_the_analysis(finished):
    edit(finished, "claims_report.py")  # only the claims check imports it
    jobs = planned_jobs(finished, "--configfile", QUICK)
    assert set(jobs) - {"all"} == {"check_claims"}


def test_editing_the_training_code_retrains_from_scratch(finished):
    edit(finished, "training.py")
    jobs = planned_jobs(finished, "--configfile", QUICK)
    assert "train_model" in jobs and "prepare_dataset" not in jobs
    snakemake(finished, "--configfile", QUICK, "--", "results/mnist/quick/seed0/model.pt")
    log = (finished / "results/logs/train_model/mnist/quick/seed0.log").read_text()
    assert "resuming" not in log
    assert "ignoring" in log  # the finished checkpoint was seen and refused


def test_a_new_test_subset_retrains_instead_of_resuming(finished, tmp_path):
    config = yaml.safe_load((ROOT / QUICK).read_text())
    config["dataset"]["test_subset"] = 300
    changed = tmp_path / "test_subset.yaml"
    changed.write_text(yaml.safe_dump(config))
    before = (finished / "results/mnist/quick/seed0/training.parquet").read_bytes()
    snakemake(finished, "--configfile", str(changed), "--", "results/mnist/quick/seed0/model.pt")
    log = (finished / "results/logs/train_model/mnist/quick/seed0.log").read_text()
    assert "resuming" not in log and "ignoring" in log
    after = (finished / "results/mnist/quick/seed0/training.parquet").read_bytes()
    assert after != before
