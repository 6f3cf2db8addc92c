"""The real pipeline, run by Snakemake on the quick preset in a fresh copy of the workflow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runner import ROOT, planned_jobs, quick_preset, quick_study, snakemake

from manifold_smoothness.targets import model_conditions, model_figures, snapshots
from manifold_smoothness.vocabulary import FIGURE_FORMATS, STUDY_FIGURES

pytestmark = pytest.mark.workflow
STUDY = quick_study()
MODELS = [m["name"] for m in STUDY["models"]]


def test_quick_preset_builds_every_figure_and_the_claims(quick_run):
    figures = quick_run / "results" / "figures" / "mnist"
    for model in MODELS:
        for name in model_figures(STUDY, model):
            for ext in FIGURE_FORMATS:
                assert (figures / model / f"{name}.{ext}").stat().st_size > 1000, (model, name)
    for name in STUDY_FIGURES:
        assert (figures / f"{name}.png").stat().st_size > 1000
    claims = (quick_run / "results" / "claims" / "mnist.md").read_text()
    assert all(word in claims for word in ("Claim 1", "Claim 2", "Claim 3"))
    assert all(model in claims for model in MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_summary_holds_every_seed_condition_snapshot_and_layer(quick_run, model):
    spec = next(m for m in STUDY["models"] if m["name"] == model)
    summary = pd.read_parquet(quick_run / "results" / "mnist" / model / "summary.parquet")
    n_layers, seeds = len(spec["hidden"]), len(STUDY["seeds"])
    attacks = model_conditions(STUDY, model)[1:]
    conditions = 1 + sum(len(STUDY["attacks"][a]["strengths"]) for a in attacks)
    final = summary[summary["final"]]
    assert len(final) == seeds * conditions * n_layers
    snaps = summary[~summary["final"]]
    assert len(snaps) == seeds * len(snapshots(STUDY, model)) * n_layers
    assert (snaps["attack"] == "clean").all() and snaps["probe_accuracy"].notna().all()
    clean = final[final.attack == "clean"].sort_values(["seed", "layer"])
    assert clean["probe_accuracy"].notna().all() and clean["alpha_se"].gt(0).all()
    assert (clean.probe_accuracy > 0.5).all()
    assert set(summary["rule"]) == {spec["training"].get("rule", "local")}
    for attack in attacks:
        zero = final[(final.attack == attack) & (final.strength == 0)].sort_values(
            ["seed", "layer"]
        )
        assert clean.alpha.tolist() == zero.alpha.tolist()
    # one window per (seed, layer): every condition and snapshot of it is fitted on it
    assert (summary.groupby(["seed", "layer"])["last_rank"].nunique() == 1).all()


def test_every_job_left_a_log_and_a_benchmark(quick_run):
    logs = list((quick_run / "results" / "logs").rglob("*.log"))
    benchmarks = list((quick_run / "results" / "benchmarks").rglob("*.tsv"))
    assert len(logs) == len(benchmarks) > 20
    training_log = next((quick_run / "results" / "logs" / "train_model").rglob("*.log"))
    assert "epoch 3/3" in training_log.read_text()


def test_activations_are_temporary_their_spectra_kept(quick_run):
    seed_dir = quick_run / "results" / "mnist" / "quick" / "seed0"
    assert not (seed_dir / "clean" / "0" / "activations.parquet").exists()
    assert not (seed_dir / "gaussian" / "1" / "activations.parquet").exists()
    assert (seed_dir / "clean" / "0" / "spectrum.parquet").exists()
    assert (seed_dir / "gaussian" / "1" / "spectrum.parquet").exists()
    assert (seed_dir / "snapshots" / "0.5" / "spectrum.parquet").exists()


def test_a_complete_run_has_nothing_left_to_do(quick_run):
    assert planned_jobs(quick_run, "--configfile", "config/quick.yaml") == {}


def with_preset(tmp_path: Path, name: str, change) -> str:
    """A --configfile: the quick preset with `change` applied to it."""
    preset = quick_preset()
    change(preset)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(preset))
    return str(path)


def test_adding_one_strength_reruns_only_that_attacks_sweeps(quick_run, tmp_path):
    """One job records (and one analyses) every strength of an attack for a seed: a new
    strength reruns that attack's two jobs per seed of the models that sweep it, never
    training or the other attacks."""
    extra = with_preset(
        tmp_path, "extra", lambda c: c["attacks"]["gaussian"]["strengths"].append(0.25)
    )
    jobs = planned_jobs(quick_run, "--configfile", extra)
    sweeping = [m for m in MODELS if "gaussian" in model_conditions(STUDY, m)]
    expected = len(STUDY["seeds"]) * len(sweeping)
    out = snakemake(quick_run, "--dry-run", "--configfile", extra).stdout
    assert jobs["record_activations_gaussian"] == jobs["compute_spectrum_gaussian"] == expected
    assert not {"train_model", "prepare_dataset", "analyse_snapshot", "fit_probe"} & set(jobs)
    assert not [
        r for r in jobs if r.startswith(("record_activations", "compute_")) and "gaussian" not in r
    ]
    assert set(re.findall(r"gaussian/([0-9.]+)/activations", out)) == {"0.25", "0.5", "1"}


def test_adding_a_snapshot_point_retrains_that_model_only(quick_run, tmp_path):
    """The weights at a new point exist only by training through it: the model's training
    reruns (README, "Trajectories"), every other model and every other dataset stays."""

    def add_point(config):
        config["models"][0]["training"]["snapshots"].append(2)

    jobs = planned_jobs(quick_run, "--configfile", with_preset(tmp_path, "snap", add_point))
    assert jobs["train_model"] == len(STUDY["seeds"])  # the first model's seeds only
    assert jobs["summarize_spectra"] == 1 and "prepare_dataset" not in jobs


def test_changing_the_fit_window_reruns_only_the_summary_and_after(quick_run, tmp_path):
    changed = with_preset(tmp_path, "window", lambda c: c["analysis"].update(fit_window=[2, 100]))
    jobs = planned_jobs(quick_run, "--configfile", changed)
    assert jobs.get("summarize_spectra") == len(MODELS)
    assert not [r for r in jobs if r.startswith(("train_", "record_activations", "compute_"))]
    assert not {"analyse_snapshot", "fit_probe", "plot_training"} & set(jobs)


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
    for name in (*[f"{f}.png" for f in model_figures(STUDY, MODELS[0])], "config.yaml"):
        assert name in html, name
    assert "mnist.html" in html and "generalization.png" in html


def test_changing_the_fgsm_target_reruns_only_fgsm_conditions(quick_run, tmp_path):
    changed = with_preset(tmp_path, "target", lambda c: c["attacks"]["fgsm"].update(target="layer"))
    jobs = planned_jobs(quick_run, "--configfile", changed)
    sweeping = [m for m in MODELS if "fgsm" in model_conditions(STUDY, m)]
    assert jobs["record_activations_fgsm"] == len(STUDY["seeds"]) * len(sweeping)
    assert not {
        "record_activations_clean",
        "record_activations_gaussian",
        "record_activations_pgd",
        "train_model",
        "analyse_snapshot",
    } & set(jobs)


TINY_INTERVENTION = {
    "dataset": {"train_subset": 1000, "test_subset": 300},
    "models": [
        {
            "name": name,
            "hidden": [48, 48],
            "training": {"lr": 3.0e-3, "batch_size": 100, "epochs": 2, "spectral_penalty": penalty},
        }
        for name, penalty in (
            ("base", None),
            ("pen", {"weight": 0.01, "exponent": 3.0, "first_rank": 3}),
        )
    ],
    "seeds": [0, 1],
    "threads": 1,
    "analysis": {
        "fit_window": [3, 100],
        "short_window": [3, 20],
        "jackknife_blocks": 4,
        "dimension_samples": 100,
        "probe": {"train_samples": 300},
    },
    "attacks": {
        name: None for name in ("gaussian", "fgsm", "random_sign", "fgsm_layer", "pgd", "pgd_layer")
    },
    "audit": {"budgets": []},
    "intervention": {
        "baseline": "base",
        "robustness": {"samples": 100, "bisections": 4, "pgd_steps": 3},
        "verdict": {"bootstrap": 200},
    },
}


def test_the_intervention_runs_end_to_end_and_a_new_weight_trains_only_its_network(tmp_path):
    """config/intervention.yaml's study cut down to seconds, run by Snakemake in a fresh copy:
    the verdict, its table and figure; then one more penalty weight plans the new network's
    jobs and the verdict again, never the networks already trained."""
    from workflow_runner import copy_workflow

    workdir = copy_workflow(tmp_path / "workflow")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_INTERVENTION))
    target = "results/figures/mnist/intervention.json"
    snakemake(workdir, target, "--configfile", str(config))
    record = yaml.safe_load((workdir / target).read_text())  # JSON is YAML
    assert {row["model"] for row in record["networks"]} == {"base", "pen"}
    assert record["result"]["verdict"] in {
        "causal support",
        "opposite",
        "no effect",
        "inconclusive",
        "no manipulation",
        "undefined",
    }
    assert (workdir / "results/figures/mnist/intervention.png").stat().st_size > 0
    assert (
        "## Spectral intervention"
        in (workdir / "results/figures/mnist/intervention.md").read_text()
    )

    more = {**TINY_INTERVENTION, "models": [*TINY_INTERVENTION["models"]]}
    heavier = yaml.safe_load(yaml.safe_dump(TINY_INTERVENTION["models"][1]))
    heavier["name"] = "pen-heavier"
    heavier["training"]["spectral_penalty"]["weight"] = 0.1
    more["models"].append(heavier)
    config.write_text(yaml.safe_dump(more))
    jobs = planned_jobs(workdir, target, "--configfile", str(config))
    assert jobs["train_model"] == len(TINY_INTERVENTION["seeds"])  # the new network's only
    assert jobs["measure_robustness"] == len(TINY_INTERVENTION["seeds"])
    assert jobs["check_intervention"] == 1 and "prepare_dataset" not in jobs
