"""bench/device_study.py: the one-call study run for a lent GPU machine, run here on the CPU."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import psutil
from workflow_runner import ROOT, copy_workflow

sys.path.insert(0, str(ROOT / "bench"))
import device_study  # noqa: E402


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def test_tables_hold_what_the_claims_read_and_leave_out_the_heavy_files(quick_run, tmp_path):
    results = quick_run / "results"
    packed = device_study.pack(results, tmp_path / "tables.tgz", device_study.is_table)
    names = _members(tmp_path / "tables.tgz")
    assert packed["files"] == len(names) and "left_out" not in packed
    for model in ("quick", "quick-backprop", "quick-greedy"):
        assert f"results/mnist/{model}/summary.parquet" in names
        assert f"results/mnist/{model}/seed0/training.parquet" in names
    assert any(n.startswith("results/claims/") for n in names)
    assert any(n.startswith("results/benchmarks/") for n in names)
    assert not [n for n in names if n.endswith((".pt", ".png", ".pdf", "spectrum.parquet"))]
    assert not [n for n in names if n.startswith("results/data/")]

    device_study.pack(results, tmp_path / "figures.tgz", device_study.is_figure)
    figures = _members(tmp_path / "figures.tgz")
    assert figures and all(n.endswith((".png", ".pdf")) for n in figures)


def test_an_archive_over_the_limit_is_left_out_and_said_so(quick_run, tmp_path):
    archive = tmp_path / "tables.tgz"
    packed = device_study.pack(quick_run / "results", archive, device_study.is_table, limit=1000)
    assert not archive.exists()
    assert packed["left_out"] == "over 1000 bytes" and packed["bytes"] > 1000


def test_stage_seconds_count_every_job_of_every_rule(quick_run):
    stages = device_study.stage_seconds(quick_run / "results")
    benchmarks = quick_run / "results" / "benchmarks"
    for rule, row in stages.items():
        assert row["jobs"] == len(list((benchmarks / rule).rglob("*.tsv")))
        assert row["max_s"] <= row["sum_s"] and row["mean_s"] <= row["max_s"]
    assert {"train_model", "analyse_snapshot", "check_claims"} <= set(stages)


def test_jobs_done_reads_the_last_progress_line():
    stats = "Job stats:\njob      count\n-----  -------\nall          1\ntotal       80\n\n"
    log = stats + "1 of 80 steps (1%) done\nnoise 3 of 9 steps\n12 of 80 steps (15%) done\n"
    assert device_study.jobs_done(log) == {"jobs_done": 12, "jobs_planned": 80}
    assert device_study.jobs_done(stats) == {"jobs_done": 0, "jobs_planned": 80}
    assert device_study.jobs_done("Building DAG of jobs...") == {
        "jobs_done": 0,
        "jobs_planned": None,
    }


def test_the_budget_stops_the_study_and_what_ran_is_reported(tmp_path):
    """A budget shorter than the study: Snakemake and its jobs are stopped, nothing is left
    running, and run.json says how far it got."""
    workdir = copy_workflow(tmp_path / "workflow")
    out = tmp_path / "out"
    argv = ["--budget", "30", "--cores", "2", "--out", str(out), "--workdir", str(workdir)]
    code = device_study.main([*argv, "--", "--configfile", "config/quick.yaml"])
    report = json.loads((out / "run.json").read_text())
    run = report["run"]
    assert code == 1 and run["stopped_by_budget"] and run["returncode"] != 0
    assert run["jobs_planned"] and run["jobs_done"] < run["jobs_planned"]
    assert 30 <= run["wall_s"] < 30 + device_study.STOP_GRACE_S + 30
    assert report["install"].startswith("snakemake already importable")
    assert (out / "snakemake.log").read_text()
    left = []
    for process in psutil.process_iter(["cwd"]):
        try:
            if (process.info["cwd"] or "").startswith(str(workdir)):
                left.append(process.pid)
        except psutil.Error:
            pass
    assert not left, f"processes left running in the workflow: {left}"
