"""The cost of a study before it runs: its FLOP model, the memory check and the message."""

from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.utils import update_config, validate
from workflow_runner import ROOT, copy_workflow, quick_study, refused_dry_run, snakemake

from manifold_smoothness import budget, targets
from manifold_smoothness.budget import MemoryBudgetError, Rates, Sizes, Work
from manifold_smoothness.config import drop_removed_attacks, intervention_family

RATES = Rates(net=50e9, cpu64=25e9, eig_1000=0.1)  # fixed, so that the tests do not time


def default_study() -> dict:
    """config.yaml as the Snakefile sees it: the paper-scale default study, defaults filled."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    drop_removed_attacks(config)
    validate(config, str(ROOT / "rules" / "schemas" / "config.schema.yaml"), set_default=True)
    return config


def study_jobs(config: dict) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job of the study that does arithmetic, from its targets."""
    jobs = []
    for dataset, model in targets.models(config):
        for seed in config["seeds"]:
            wildcards = {"dataset": dataset, "model": model, "seed": str(seed)}
            jobs += [("train_model", wildcards), ("fit_probe", wildcards)]
            jobs += [
                ("analyse_snapshot", {**wildcards, "epoch": epoch})
                for epoch in targets.snapshots(config, model)
            ]
            for attack in targets.model_conditions(config, model):
                jobs += [(f"record_activations_{attack}", wildcards)]
                jobs += [(f"compute_spectrum_{attack}", wildcards)]
            if config["audit"]["budgets"] and len(targets.model_conditions(config, model)) > 1:
                jobs.append(("audit_attacks", wildcards))
            if model in intervention_family(config):
                jobs.append(("measure_robustness", wildcards))
    return jobs


def study_seconds(config: dict) -> float:
    return sum(budget.job_work(config, r, w).seconds(RATES) for r, w in study_jobs(config))


def test_the_jobs_add_up_to_the_floor_of_the_study():
    """One model: the per-job work the Snakefile prints sums to bench_study's per-stage floor."""
    config = quick_study()
    by_model = budget.floor_terms(config, RATES)
    floor = sum(seconds for terms in by_model.values() for _, _, seconds, _ in terms)
    assert study_seconds(config) == pytest.approx(floor, rel=1e-12)


def intervention_study() -> dict:
    """config/intervention.yaml over config.yaml, defaults filled."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config" / "intervention.yaml").read_text()))
    drop_removed_attacks(config)
    validate(config, str(ROOT / "rules" / "schemas" / "config.schema.yaml"), set_default=True)
    return config


def test_the_intervention_jobs_add_up_to_its_floor():
    config = intervention_study()
    by_model = budget.floor_terms(config, RATES)
    floor = sum(seconds for terms in by_model.values() for _, _, seconds, _ in terms)
    assert study_seconds(config) == pytest.approx(floor, rel=1e-12)
    assert any("minimum distances" in stage for stage, *_ in by_model["local-w256"])


def test_the_spectral_penalty_and_the_distances_cost_work_and_memory():
    config = intervention_study()
    wildcards = {"dataset": "mnist", "seed": "0"}
    plain, penalised = (
        budget.job_work(config, "train_model", {**wildcards, "model": m}).seconds(RATES)
        for m in ("local-w256", "local-w256-a1-w1")
    )
    assert 1.5 < penalised / plain < 4  # the projections on the eigenvectors: ~2 N^2 per P
    assert budget.job_work(config, "measure_robustness", {**wildcards, "model": "local-w256"}).net
    kinds = {job for job, *_ in budget.study_memory(config)}
    assert "measure_robustness" in kinds


def test_doubling_the_seeds_doubles_the_work():
    config = quick_study()
    doubled = copy.deepcopy(config)
    doubled["seeds"] = [0, 1, 2, 3]
    assert len(config["seeds"]) == 2
    assert study_seconds(doubled) == pytest.approx(2 * study_seconds(config), rel=1e-12)


def test_doubling_the_width_about_quadruples_the_matrix_products():
    sizes = Sizes.from_config(quick_study())
    narrow = {"hidden": [1000] * 5, "training": {"rule": "local", "epochs": 2}}
    wide = {"hidden": [2000] * 5, "training": {"rule": "local", "epochs": 2}}
    train = budget.training(wide, sizes)[0].net / budget.training(narrow, sizes)[0].net
    assert 3.5 < train < 4  # 4 N^2 layers, and the first layer's 784 N grows only twice
    spectra = budget.spectra(wide["hidden"], sizes).cpu64 / budget.spectra([1000] * 5, sizes).cpu64
    assert spectra == pytest.approx(4)
    assert budget.spectra(wide["hidden"], sizes).eig == pytest.approx(
        8 * budget.spectra(narrow["hidden"], sizes).eig
    )


def test_pgd_costs_its_steps_per_strength_and_fgsm_one_gradient_per_grid():
    config = quick_study()
    spec, sizes = config["models"][0], Sizes.from_config(config)
    grid = [0.0, 0.1, 0.2]
    clean = budget.recording(None, spec, sizes, grid).net  # three forwards
    pgd = budget.recording(config["attacks"]["pgd"], spec, sizes, grid).net
    steps = config["attacks"]["pgd"]["steps"]
    assert pgd == pytest.approx((4 * steps * 2 + 2 * 3) / (2 * 3) * clean)
    fgsm = budget.recording({"method": "fgsm"}, spec, sizes, grid).net
    assert fgsm == pytest.approx((4 + 2 * 3) / (2 * 3) * clean)
    assert budget.gradient_passes({"method": "fgsm"}, [0.0]) == 0


def test_jobs_without_arithmetic_cost_nothing():
    config = quick_study()
    assert budget.job_work(config, "plot_attack", {"model": "quick"}) == Work()
    assert budget.job_work(config, "record_config", {}) == Work()


def test_the_message_gives_the_floor_on_the_cores_and_the_range():
    config = quick_study()
    jobs = study_jobs(config)
    floor = study_seconds(config) / 2
    low = budget.FLOOR_FACTORS[0] * floor + budget.JOB_SECONDS[0] * len(jobs) / 2
    high = budget.FLOOR_FACTORS[1] * floor + budget.JOB_SECONDS[1] * len(jobs) / 2
    text = budget.cost_message(config, jobs, cores=2, rates=RATES)
    assert f"Cost estimate of {len(jobs)} jobs on 2 cores" in text
    assert f"about {budget.duration(low)} to {budget.duration(high)}" in text
    assert f"Arithmetic floor {budget.duration(floor)}" in text
    assert "cost_estimate=False" in text
    assert "config/quick.yaml" not in text  # minutes: no presets offered


def test_hours_of_work_point_to_the_presets():
    config = default_study()
    text = budget.cost_message(config, study_jobs(config), cores=2, rates=RATES)
    assert " h " in text and "config/paper-cpu.yaml" in text and "config/quick.yaml" in text


def test_the_paper_scale_default_study_fits_in_16_gb():
    config = default_study()
    assert config["models"][0]["hidden"] == [1000] * 5
    assert budget.check_memory(config, available=16e9) is None
    peaks = {name: peak for name, _, peak, _ in budget.study_memory(config)}
    assert 1.5e9 < peaks["train_model"] < 3e9  # 2.2 GB measured (README, row 6a)


def test_a_huge_width_is_refused_naming_the_key():
    config = quick_study()
    config["models"][1]["hidden"] = [100_000, 64]
    with pytest.raises(MemoryBudgetError, match=r"config key 'models\[1\]\.hidden'.*GB"):
        budget.check_memory(config, available=32e9)


def test_a_study_close_to_the_memory_is_warned_about():
    config = quick_study()
    peak = max(peak for _, _, peak, _ in budget.study_memory(config))
    assert budget.check_memory(config, available=1.1 * peak) is not None
    assert budget.check_memory(config, available=2 * peak) is None


def test_the_machine_memory_is_read():
    assert budget.machine_memory() > 1e9


def test_a_dry_run_refuses_a_huge_width_before_any_job(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("models:\n  - name: huge\n    hidden: [100000, 100000]\n")
    output = refused_dry_run(huge)
    assert "MemoryBudgetError" in output
    assert "config key 'models[0].hidden'" in output


@pytest.mark.workflow
def test_a_run_prints_its_cost_before_the_first_job_unless_silenced(tmp_path):
    workdir = copy_workflow(tmp_path)
    target = "results/config.yaml"  # one quick job
    printed = snakemake(workdir, target).stderr
    assert "Cost estimate of 1 jobs" in printed
    assert printed.index("Cost estimate") < printed.index("rule record_config")
    args = ("--forcerun", "record_config", "--config", "cost_estimate=False")
    assert "Cost estimate" not in snakemake(workdir, target, *args).stderr
    assert "Cost estimate" not in snakemake(workdir, "-n", "--forcerun", "record_config").stderr
