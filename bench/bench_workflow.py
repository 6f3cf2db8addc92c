"""Row 2: one analysed condition as the workflow runs it, against the same work in-process.

In a fresh copy of the workflow (tests/workflow_runner.copy_workflow) the real prepare_dataset
rule writes the MNIST splits; a randomly initialised first model (`local`) stands in for a
trained one (written by training.write_outputs with the metadata training writes, beside an empty
snapshot bundle, so Snakemake and the stages accept it). Then `snakemake --cores 2 <fgsm 0.1
spectrum.parquet>` runs the two jobs of one condition (record_activations, compute_spectrum:
process starts, imports, reads, attack, forward, TwoNN dimension of the attacked inputs, parquet
write, covariance with its jackknife block scatters, 1 + B eigensolves per layer, spectrum
write), against the same computation of the 5 layers in this process, alternately.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from harness import ROOT, Context, Row, log, skipped

ATTACK, STRENGTH, SEED = "fgsm", 0.1, 0
RULES = ("record_activations", "compute_spectrum")


def workflow_copy(ctx: Context, name: str) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from workflow_runner import copy_workflow

    return copy_workflow(ctx.scratch / name)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-2000:]
        raise RuntimeError(f"{' '.join(command[2:])} failed in {workdir}:\n{tail}")
    return result


def job_stats(output: str) -> dict[str, int]:
    """Rule -> job count from a dry run's "Job stats" table (empty: nothing to do)."""
    counts, inside = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if not parts:
                break
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
    return counts


def benchmark_seconds(path: Path) -> float:
    with path.open() as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def one_condition_config(config: dict) -> dict:
    """The default config cut to one condition: the first model without snapshots, one seed,
    and the one attack with the one analysed strength. The workflow's jobs then cover exactly
    this condition, however they group conditions."""
    config = json.loads(json.dumps(config))
    config["seeds"] = [SEED]
    model = config["models"][0]
    model["training"]["snapshots"] = []
    model["attacks"] = [ATTACK]
    config["models"] = [model]
    config["attacks"] = {ATTACK: {**config["attacks"][ATTACK], "strengths": [0.0, STRENGTH]}}
    return config


def write_untrained_model(workdir: Path, spec: dict, seed_dir: Path) -> None:
    """A randomly initialised model where training would put it: every output of train_model
    (model.pt, training.parquet, an empty snapshots.pt), with training's metadata."""
    from manifold_smoothness.model import LocalErrorMLP, ModelConfig, save_snapshots
    from manifold_smoothness.training import write_outputs

    model = LocalErrorMLP(ModelConfig.from_spec(spec), SEED)
    label = {"dataset": "mnist", "model": spec["name"], "seed": SEED}
    meta = {
        **label,
        "rule": spec["training"].get("rule", "local"),
        "train_rows": 60_000,
        "train_config": json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True),
    }
    folder = workdir / seed_dir
    write_outputs(model, [], folder / "model.pt", folder / "training.parquet", meta)
    save_snapshots(folder / "snapshots.pt", [], [], model.config, label)


def in_process(ctx: Context, model_path: Path, test_path: Path) -> None:
    """The computation of the two jobs (stages record_activations and compute_spectrum) without
    processes, imports or files in between."""
    from manifold_smoothness import activations, data, intrinsic, sampling
    from manifold_smoothness.attacks import AttackSpec
    from manifold_smoothness.model import load_model, readout_accuracy
    from manifold_smoothness.spectrum import layer_spectrum

    analysis = ctx.config["analysis"]
    model = load_model(model_path).to(ctx.device)
    test = data.read_split(test_path)
    keep = data.stratified_subset(test.labels, analysis["samples"])
    x, y = data.split_tensors(test)
    x, y = x[keep].to(ctx.device), y[keep].to(ctx.device)
    spec = AttackSpec.from_config(ctx.config["attacks"][ATTACK])
    hiddens, _, inputs = activations.record(model, x, y, spec, STRENGTH, SEED)
    intrinsic.input_dimensions(
        inputs, sampling.dimension_rows(len(keep), analysis["dimension_samples"])
    )
    labels = test.labels[keep].astype("int64")
    for layer, h in enumerate(hiddens):
        readout_accuracy(h, model.readout(layer).cpu().numpy(), labels)
        layer_spectrum(h, analysis["jackknife_blocks"], ctx.device)


def measure(ctx: Context) -> list[Row]:
    measure_name = "one condition: snakemake (2 jobs) / in-process compute"
    if importlib.util.find_spec("snakemake") is None:
        return [skipped("2", measure_name, "<= 1.5 (cpu)", "snakemake not installed")]
    from manifold_smoothness.study import CONDITION_DIR, DATA_DIR, SEED_DIR, format_strength

    spec = ctx.config["models"][0]
    grid = ctx.config["attacks"][ATTACK]["strengths"]
    if STRENGTH not in grid:
        return [skipped("2", measure_name, "<= 1.5 (cpu)", f"{ATTACK} {STRENGTH} not in grid")]
    wildcards = {
        "dataset": "mnist",
        "model": spec["name"],
        "seed": SEED,
        "attack": ATTACK,
        "strength": format_strength(STRENGTH),
    }
    target = f"{CONDITION_DIR}/spectrum.parquet".format(**wildcards)
    data_dir = Path(DATA_DIR.format(**wildcards))
    seed_dir = Path(SEED_DIR.format(**wildcards))

    log("row 2: a workflow copy, the MNIST splits (prepare_dataset rule), an untrained model")
    workdir = workflow_copy(ctx, "condition")
    (workdir / "config.yaml").write_text(yaml.safe_dump(one_condition_config(ctx.config)))
    try:
        snakemake(workdir, str(data_dir / "test.parquet"))
    except RuntimeError as err:
        ctx.note(f"2: prepare_dataset failed: {str(err)[-300:]}")
        return [skipped("2", measure_name, "<= 1.5 (cpu)", "no MNIST source (see notes)")]
    write_untrained_model(workdir, spec, seed_dir)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "src"], cwd=workdir, check=True)
    planned = job_stats(snakemake(workdir, "--dry-run", target).stdout)
    planned.pop("total", None)
    if sorted(planned.values()) != [1, 1] or not all(
        any(rule.startswith(stem) for stem in RULES) for rule in planned
    ):
        raise RuntimeError(f"dry run of {target} plans {planned}, expected one job of each {RULES}")

    def workflow_run() -> float:
        (workdir / target).unlink(missing_ok=True)
        shutil.rmtree(workdir / "results" / "benchmarks", ignore_errors=True)
        tic = time.perf_counter()
        snakemake(workdir, target)
        return time.perf_counter() - tic

    def compute() -> float:
        ctx.sync()
        tic = time.perf_counter()
        in_process(ctx, workdir / seed_dir / "model.pt", workdir / data_dir / "test.parquet")
        ctx.sync()
        return time.perf_counter() - tic

    log(f"row 2: {ctx.repeat} x (snakemake {target}, the same in-process)")
    compute()  # warm-up: first use of the attack and solver code paths in this process
    wall, inproc, jobs = [], [], {rule: [] for rule in RULES}
    for _ in range(ctx.repeat):
        wall.append(workflow_run())
        for rule in RULES:
            files = list((workdir / "results" / "benchmarks").glob(f"{rule}*/**/*.tsv"))
            jobs[rule].append(sum(benchmark_seconds(f) for f in files))
        inproc.append(compute())
    t_wall, t_in = statistics.median(wall), statistics.median(inproc)
    t_jobs = {rule: statistics.median(v) for rule, v in jobs.items()}
    ratio = t_wall / t_in
    analysis = ctx.config["analysis"]
    ctx.note(
        f"2: default size (10,000 test images, 5 x 1,000 units, jackknife "
        f"{analysis['jackknife_blocks']} blocks, TwoNN on {analysis['dimension_samples']} "
        f"images), {ATTACK} {STRENGTH}, an untrained `{spec['name']}` model (same FLOPs as a "
        "trained one); medians of "
        f"{ctx.repeat}, alternating. Snakemake's wall includes its own start and DAG build "
        "(the workflow parse with its code hashes); the jobs' times are from their "
        "benchmark files (results/benchmarks/<rule>/...)."
    )
    job_text = ", ".join(f"{rule} {t:.1f} s" for rule, t in t_jobs.items())
    return [
        Row(
            "2a",
            measure_name,
            f"{ratio:.2f} ({t_wall:.1f} / {t_in:.1f} s)",
            "<= 1.5 (cpu)",
            ratio <= 1.5 if not ctx.cuda else None,
            {"snakemake_s": t_wall, "in_process_s": t_in},
        ),
        Row(
            "2b",
            "the two jobs' own time (benchmark files) / in-process compute",
            f"{sum(t_jobs.values()) / t_in:.2f} ({job_text})",
            "-",
            None,
            {f"{rule}_s": t for rule, t in t_jobs.items()},
        ),
    ]
