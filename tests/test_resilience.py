"""Failure behaviour of the real workflow: interruption, divergence, damaged files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runner import ROOT, copy_workflow, quick_study, snakemake

from manifold_smoothness.targets import model_figures

pytestmark = pytest.mark.workflow
QUICK = "config/quick.yaml"


def outputs(workdir: Path) -> dict[Path, int]:
    """Every result file (logs and benchmarks aside) with its modification time."""
    skip = ("logs", "benchmarks")
    return {
        p.relative_to(workdir): p.stat().st_mtime_ns
        for p in (workdir / "results").rglob("*")
        if p.is_file() and not any(part in skip for part in p.parts)
    }


def _default_sigint() -> None:
    """Undo an inherited SIG_IGN: a shell starts background jobs (CI runners often do) with
    SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_redoes_only_what_was_incomplete(tmp_path, quick_run):
    workdir = copy_workflow(tmp_path)
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", QUICK]
    proc = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=_default_sigint,
    )  # fmt: skip
    spectra = workdir / "results" / "mnist" / "quick"
    deadline = time.monotonic() + 300
    while len(list(spectra.rglob("spectrum.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    # Ctrl-C in a terminal signals the whole group. A SIGINT that lands between two jobs can
    # go unnoticed by Snakemake, so press it again until Snakemake has stopped.
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(1.0)
    proc.wait(timeout=10)
    before = outputs(workdir)
    claims = workdir / "results/claims/mnist.md"
    assert not claims.exists(), "the run finished before the interrupt"
    # Snakemake's own view: jobs that were running when interrupted are incomplete and planned
    plan = snakemake(workdir, "--dry-run", "--configfile", QUICK).stdout
    planned = {Path(p) for line in re.findall(r"output: (.*)", plan) for p in line.split(", ")}
    kept = {p for p in before if p not in planned}
    assert kept, "nothing survived the interrupt; the test proves nothing"

    snakemake(workdir, "--configfile", QUICK)
    after = outputs(workdir)
    redone = sorted(str(p) for p in kept if p in after and after[p] != before[p])
    assert not redone, f"complete outputs were rebuilt: {redone}"
    removed = [p for p in kept if p not in after]
    assert all(p.name == "activations.parquet" for p in removed)  # temporary ones only
    reference = pd.read_parquet(quick_run / "results/mnist/quick/summary.parquet")
    resumed = pd.read_parquet(workdir / "results/mnist/quick/summary.parquet")
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)


def test_diverging_model_fails_clearly_and_others_still_build(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((ROOT / QUICK).read_text())
    good = config["models"][0]
    bad = {**good, "name": "diverges", "training": {**good["training"], "lr": 1.0e30}}
    config["models"] = [good, bad]
    config["seeds"] = [0]
    (workdir / "two.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--configfile", "two.yaml", "--keep-going", check=False)
    assert result.returncode != 0
    log = (workdir / "results/logs/train_model/mnist/diverges/seed0.log").read_text()
    assert "DivergenceError" in log and "at epoch 1" in log and "lower the learning rate" in log
    assert not list((workdir / "results/mnist/diverges").rglob("model.pt"))
    assert not list((workdir / "results/mnist/diverges").rglob("training.parquet"))
    figures = workdir / "results/figures/mnist/quick"
    assert len(list(figures.glob("*.png"))) == len(model_figures(quick_study(), "quick"))
    # the claims compare every model of the dataset: without the diverged one there are none
    assert not (workdir / "results/claims/mnist.md").exists()


def test_damaged_file_is_named_with_the_way_to_rebuild_it(tmp_path, quick_run):
    workdir = copy_workflow(tmp_path)
    subprocess.run(["cp", "-a", f"{quick_run}/results", f"{quick_run}/.snakemake", str(workdir)])
    damaged = workdir / "results/mnist/quick/seed1/fgsm/0.2/spectrum.parquet"
    damaged.write_bytes(damaged.read_bytes()[:300])  # a truncated write, newer than its users
    result = snakemake(workdir, "--configfile", QUICK, check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert (
        "results/mnist/quick/seed1/fgsm/0.2/spectrum.parquet is not a readable parquet" in message
    )
    assert "delete it and rerun snakemake" in message

    damaged.unlink()
    snakemake(workdir, "--configfile", QUICK)
    rebuilt = pd.read_parquet(workdir / "results/mnist/quick/summary.parquet")
    reference = pd.read_parquet(quick_run / "results/mnist/quick/summary.parquet")
    pd.testing.assert_frame_equal(rebuilt, reference, check_exact=True)
