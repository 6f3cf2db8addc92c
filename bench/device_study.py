"""A whole study on a lent GPU machine in one call, and what the README's GPU rows need back.

    python3 bench/device_study.py [--budget 480] [--cores 16] [--out DIR] [-- SNAKEMAKE ARGS]

Made for the `device` tool's machines (torch there; no Snakemake, no package registry; one
call, 15 minutes of device time a session with the machine's start): carry the `.whl` folder
that ../shared/gpu/fetch-wheels makes, and this script installs it into /tmp/site first
(skipped where Snakemake imports already, as on a workstation). It runs `snakemake --cores N`
on the checkout, stops it after --budget seconds (a partial study still reports its jobs), and
writes into --out (default $OUT; the tool brings back at most 8 files of 16 MiB):

- run.json: date, machine (GPU, torch, CPUs), the command, its return code, whether the budget
  stopped it, wall seconds, jobs done of planned, and per rule its jobs and job seconds
  (results/benchmarks; the README's per-stage times);
- snakemake.log: the run's output;
- tables.tgz: results/ without the model weights, data, spectra and activations (summaries,
  probes, training logs, audit, claims, logs, benchmarks): what `compare` and the claims read;
- figures.tgz: the figures.

An archive over the size limit is left out and run.json says so. Bench row 5 reads the wall time
of a finished run from its log: `python bench/run.py --only 5 --study-log snakemake.log`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from bench_study import benchmark_rows, rule_seconds
from bench_workflow import job_stats

ROOT = Path(__file__).resolve().parents[1]
SITE = Path("/tmp/site")
LIMIT_BYTES = 16 * 2**20  # per file the device tool brings back
# Left out of tables.tgz: rebuilt from the rest, or too large to bring back (spectra ~0.5 MB
# each at paper width, several hundred of them).
HEAVY = ("*.pt", "activations.parquet", "spectrum.parquet")
FIGURES = ("*.png", "*.pdf")
STOP_GRACE_S = 60  # after the budget: Snakemake's own shutdown, then the process group is killed


def install_wheels(wheels: Path, env: dict[str, str], site: Path = SITE) -> str:
    """Install the carried wheels where Snakemake is missing from `env`; returns what was
    done."""
    probe = subprocess.run([sys.executable, "-c", "import snakemake"], capture_output=True, env=env)
    if probe.returncode == 0:
        return "snakemake already importable: no wheels installed"
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise SystemExit(
            f"Snakemake is not installed and {wheels} holds no wheels: run "
            "../shared/gpu/fetch-wheels here and carry .whl (../shared/gpu/README.md)"
        )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        + ["--upgrade", "--target", str(site), *map(str, found)],
        check=True,
    )
    return f"installed {len(found)} wheels into {site}"


def environment(workdir: Path, site: Path = SITE) -> dict[str, str]:
    """The jobs' environment: the installed wheels and the workflow's package importable."""
    paths = [str(site)] if site.is_dir() else []
    paths += [str(workdir / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run_snakemake(
    workdir: Path, args: list[str], cores: int, budget_s: float, log_path: Path, env: dict
) -> dict:
    """Run Snakemake in its own process group, at most budget_s seconds: then SIGTERM (it
    stops its jobs and marks their outputs incomplete), after STOP_GRACE_S SIGKILL to all."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    tic = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        stopped = False
        try:
            process.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            stopped = True
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # jobs left behind, if any
            except ProcessLookupError:
                pass
    return {
        "command": command,
        "returncode": process.returncode,
        "stopped_by_budget": stopped,
        "wall_s": round(time.monotonic() - tic, 1),
        **jobs_done(log_path.read_text(errors="replace")),
    }


def jobs_done(log_text: str) -> dict:
    """Jobs planned (the job stats' total, printed before the first job) and done (the last
    'N of M steps' line) in a Snakemake log."""
    steps = re.findall(r"^(\d+) of (\d+) steps", log_text, re.M)
    if steps:
        return {"jobs_done": int(steps[-1][0]), "jobs_planned": int(steps[-1][1])}
    return {"jobs_done": 0, "jobs_planned": job_stats(log_text).get("total")}


def stage_seconds(results: Path) -> dict[str, dict]:
    """Per rule, its finished jobs and their seconds (sum, mean, max) from results/benchmarks."""
    rows = benchmark_rows(results) if (results / "benchmarks").is_dir() else []
    return {
        rule: {
            "jobs": len(s),
            "sum_s": round(sum(s), 1),
            "mean_s": round(sum(s) / len(s), 1),
            "max_s": round(max(s), 1),
        }
        for rule, s in rule_seconds(rows).items()
    }


def pack(results: Path, archive: Path, keep, limit: int = LIMIT_BYTES) -> dict:
    """tar.gz of the files under results/ whose path relative to it `keep` accepts; removed
    again, and said so, when it is over `limit` bytes."""
    files = sorted(p for p in results.rglob("*") if p.is_file() and keep(p.relative_to(results)))
    with tarfile.open(archive, "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(results.parent))
    size = archive.stat().st_size
    if size > limit:
        archive.unlink()
        return {"files": len(files), "bytes": size, "left_out": f"over {limit} bytes"}
    return {"files": len(files), "bytes": size}


def is_table(path: Path) -> bool:
    """A file of results/ (path relative to it) that tables.tgz holds."""
    return path.parts[0] != "data" and not any(path.match(p) for p in HEAVY + FIGURES)


def is_figure(path: Path) -> bool:
    return any(path.match(p) for p in FIGURES)


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:
        info["torch"] = None
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=480, help="seconds before the stop")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"))
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl")
    parser.add_argument("--workdir", type=Path, default=ROOT, help="the workflow to run")
    parser.add_argument("snakemake_args", nargs="*", help="after --, e.g. --configfile X")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required where $OUT is not set")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "install": install_wheels(args.wheels, environment(args.workdir)),
    }
    report["run"] = run_snakemake(
        args.workdir, args.snakemake_args, args.cores, args.budget, args.out / "snakemake.log",
        environment(args.workdir),
    )  # fmt: skip
    report["machine"] = machine()  # after the run: no CUDA context of ours beside its jobs
    results = args.workdir / "results"
    report["stages"] = stage_seconds(results)
    if results.is_dir():
        report["tables"] = pack(results, args.out / "tables.tgz", is_table)
        report["figures"] = pack(results, args.out / "figures.tgz", is_figure)
    (args.out / "run.json").write_text(json.dumps(report, indent=1) + "\n")
    run = report["run"]
    print(
        f"study: {run['jobs_done']} of {run['jobs_planned']} jobs in {run['wall_s']} s, "
        f"return code {run['returncode']}"
        + (", stopped by the budget" if run["stopped_by_budget"] else "")
    )
    return 0 if run["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
