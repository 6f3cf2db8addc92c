"""The workflow on a real (one-node) SLURM cluster, through Snakemake's slurm executor.

Needs the cluster that `.ci/slurm-up` starts; CI sets REQUIRE_SLURM=1 so that a missing cluster
fails instead of skipping. Reproduce by hand: `.ci/slurm-up && pytest -m slurm; .ci/slurm-down`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from workflow_runner import ROOT, copy_workflow, quick_preset, quick_study

from manifold_smoothness.targets import model_figures

pytestmark = pytest.mark.slurm
QUICK = "config/quick.yaml"


def _cluster_up() -> str | None:
    """None when a SLURM controller answers, else why not."""
    if shutil.which("sinfo") is None:
        return "SLURM client tools are not installed"
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    usable = {"idle", "mixed", "allocated"}
    if result.returncode != 0 or not usable & set(result.stdout.split()):
        return f"no idle SLURM node ({result.stderr.strip() or result.stdout.strip()})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster():
    reason = _cluster_up()
    if reason and os.environ.get("REQUIRE_SLURM") == "1":
        pytest.fail(f"REQUIRE_SLURM=1 but {reason}; start it with .ci/slurm-up")
    if reason:
        pytest.skip(f"{reason}; start one with .ci/slurm-up")


def on_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--profile", "profiles/local-slurm", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1200)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_quick_preset_on_slurm_equals_the_local_run(tmp_path, quick_run):
    """The first model of the quick preset (the one that sweeps every attack) on the cluster:
    its summary equals the local run's (a model's results do not depend on the others)."""
    workdir = copy_workflow(tmp_path)
    preset = quick_preset()
    preset["models"] = preset["models"][:1]
    first_model = workdir / "first_model.yaml"
    first_model.write_text(yaml.safe_dump(preset))
    on_slurm(workdir, "--configfile", str(first_model))
    summary = "results/mnist/quick/summary.parquet"
    pd.testing.assert_frame_equal(
        pd.read_parquet(workdir / summary), pd.read_parquet(quick_run / summary), check_exact=True
    )
    local_figures = sorted(p.name for p in (quick_run / "results/figures/mnist/quick").iterdir())
    slurm_figures = sorted(p.name for p in (workdir / "results/figures/mnist/quick").iterdir())
    expected = 2 * len(model_figures(quick_study(), "quick"))
    assert slurm_figures == local_figures and len(slurm_figures) == expected
    assert (workdir / "results/claims/mnist.md").exists()


def test_training_killed_by_the_time_limit_resumes_on_retry(tmp_path):
    """First attempt gets 1 minute of SLURM time for 2-4 minutes of training; the retry (3 min)
    resumes from the checkpoint and must end with the weights of an uninterrupted run."""
    config = yaml.safe_load((ROOT / QUICK).read_text())
    config["dataset"] = {"train_subset": 12000, "test_subset": 600}
    config["models"] = [
        {
            "name": "slow",
            "hidden": [256, 256, 256],
            "training": {"lr": 1.0e-3, "batch_size": 50, "epochs": 120},
        }
    ]
    config["seeds"] = [0]
    model = "results/mnist/slow/seed0/model.pt"

    reference_dir = copy_workflow(tmp_path / "reference")
    slurm_dir = copy_workflow(tmp_path / "slurm")
    for workdir in (reference_dir, slurm_dir):
        (workdir / "slow.yaml").write_text(yaml.safe_dump(config))
    reference = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "1",
            "--configfile",
            "slow.yaml",
            "--",
            model,
        ],
        cwd=reference_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result = on_slurm(
        slurm_dir,
        "--configfile",
        "slow.yaml",
        "--set-resources",
        "train_model:runtime=2*attempt-1",
        "--",
        model,
    )
    assert reference.wait(timeout=1200) == 0
    slurm_logs = (slurm_dir / "results/logs/slurm").rglob("*.log")
    assert any("DUE TO TIME LIMIT" in p.read_text() for p in slurm_logs), result.stdout
    log = (slurm_dir / "results/logs/train_model/mnist/slow/seed0.log").read_text()
    assert "resuming from" in log
    got = torch.load(slurm_dir / model, weights_only=True)["state_dict"]
    expected = torch.load(reference_dir / model, weights_only=True)["state_dict"]
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
