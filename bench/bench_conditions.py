"""Rows 7 and 8: the analysis stages at the config's width, against their arithmetic floor.

7<method>: one analysed condition of each attack method, as the stages record_activations and
compute_spectrum run it (plain namespace jobs in this process: reads, the grid's attack,
forwards, TwoNN of the inputs, parquet write and read, accuracies, covariances with their
jackknife block scatters, 1 + B eigensolves per layer, spectrum writes), per strength of a grid,
against the floor of the same grid measured in the same run: the gradient passes the method
needs (FGSM one per grid, PGD `steps` per strength: input_gradient_sign over the same images),
one forward per strength, and per layer and strength the float64 covariance and the 1 + B
eigensolves of the exact jackknife (summary's alpha_se is computed from them; a first-order
update was measured and rejected, see the README).
8: one snapshot analysis (stage analyse_snapshot: forward, spectra with the jackknife,
accuracies, TwoNN of the inputs, the five layers' probes with their training images' forward),
against its floor measured in the same run: the two forwards, the spectra of row 7's floor, and
each probe's L-BFGS iterations times the two float32 products of one evaluation (the floor of
that solver; a solver that needed fewer iterations would lower it).

A randomly initialised model of the config's first architecture stands in for a trained one:
the arithmetic is the same, and the probes of a trained state converge in fewer iterations.
Process start and imports are not in these rows (row 2 measures them).
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from harness import Context, Row, interleaved, log, median_interval, timed, verdict

SEED = 0
GRID = 3  # non-zero strengths per grid (PGD: 1; its steps cost 20 gradient passes each)
TARGET_CONDITION = 1.5
TARGET_SNAPSHOT_S = 10.0


def _job(inputs: dict, outputs: dict, params: dict, wildcards: dict) -> SimpleNamespace:
    return SimpleNamespace(
        input=SimpleNamespace(**inputs),
        output=SimpleNamespace(**outputs),
        params=SimpleNamespace(**params),
        wildcards=SimpleNamespace(**wildcards),
    )


def _prepare(ctx: Context) -> tuple[Path, Path, Path, Path]:
    """MNIST splits, an untrained model of the first architecture and a one-snapshot bundle."""
    from bench_workflow import write_untrained_model

    from manifold_smoothness import data
    from manifold_smoothness.model import load_model, save_snapshots

    spec = ctx.config["models"][0]
    folder = ctx.scratch / "conditions"
    train, test = folder / "train.parquet", folder / "test.parquet"
    dataset = ctx.config["dataset"]
    data.prepare_dataset(
        "mnist", dataset["source"], dataset["root"], False, None, None, train, test
    )
    write_untrained_model(folder, spec, Path("seed"))
    model_path = folder / "seed" / "model.pt"
    model = load_model(model_path)
    snapshots = folder / "seed" / "snapshots.pt"
    label = {"dataset": "mnist", "model": spec["name"], "seed": SEED}
    save_snapshots(snapshots, [0.0], [model.state_dict()], model.config, label)
    return train, test, model_path, snapshots


def _grids(ctx: Context) -> dict[str, tuple[str, dict, list[float]]]:
    """method -> (attack name, entry, grid): the first output-target attack of each method."""
    grids = {}
    for name, entry in ctx.config["attacks"].items():
        if not entry or entry.get("target", "output") != "output" or entry["method"] in grids:
            continue
        strengths = [s for s in entry["strengths"] if s > 0][
            : 1 if entry["method"] == "pgd" else GRID
        ]
        grids[entry["method"]] = (name, entry, strengths)
    return grids


def _run_grid(ctx: Context, name: str, entry: dict, grid: list[float], paths) -> float:
    """Seconds of the two stages on one grid, run as the rules run them."""
    from manifold_smoothness.stages.compute_spectrum import compute_spectrum
    from manifold_smoothness.stages.record_activations import record_activations
    from manifold_smoothness.study import format_strength

    _, test, model_path, _ = paths
    spec = ctx.config["models"][0]
    analysis = ctx.config["analysis"]
    wildcards = {"dataset": "mnist", "model": spec["name"], "seed": str(SEED)}
    folder = ctx.scratch / "conditions" / name
    acts = [str(folder / format_strength(s) / "activations.parquet") for s in grid]
    spectra = [str(folder / format_strength(s) / "spectrum.parquet") for s in grid]
    params = {k: v for k, v in entry.items() if k != "strengths"}
    record = _job(
        {"model": str(model_path), "test": str(test)},
        {"activations": acts},
        {
            "attack": name,
            "spec": params,
            "strengths": grid,
            "seed": SEED,
            "samples": analysis["samples"],
            "dimension_samples": analysis["dimension_samples"],
            "device": ctx.device,
        },
        wildcards,
    )
    conditions = [{**wildcards, "attack": name, "strength": format_strength(s)} for s in grid]
    spectrum = _job(
        {"activations": acts, "model": str(model_path)},
        {"spectra": spectra},
        {
            "conditions": conditions,
            "jackknife_blocks": analysis["jackknife_blocks"],
            "device": ctx.device,
        },
        wildcards,
    )
    shutil.rmtree(folder, ignore_errors=True)  # the rules write new files, never over old ones
    tic = time.perf_counter()
    record_activations(record)
    compute_spectrum(spectrum)
    ctx.sync()
    return time.perf_counter() - tic


def _floor_parts(ctx: Context, paths) -> dict[str, float]:
    """Seconds of one gradient pass and one forward over the analysed images, and of the
    covariances and 1 + B eigensolves of every layer (the spectra of one condition)."""
    import torch

    from manifold_smoothness import activations, data
    from manifold_smoothness.attacks import input_gradient_sign
    from manifold_smoothness.model import load_model

    _, test, model_path, _ = paths
    model = load_model(model_path).to(ctx.device)
    split = data.read_split(test)
    keep = data.stratified_subset(split.labels, ctx.config["analysis"]["samples"])
    x, y = data.split_tensors(split)
    x, y = x[keep].to(ctx.device), y[keep].to(ctx.device)
    chunk = 2000

    def gradient() -> None:
        for i in range(0, len(x), chunk):
            input_gradient_sign(model, x[i : i + chunk], y[i : i + chunk])

    hiddens = activations.hiddens(model, x)
    solves = ctx.config["analysis"]["jackknife_blocks"] + 1

    def spectra() -> None:
        for h in hiddens:
            centred = h.astype(np.float64)
            centred -= centred.mean(0)
            covariance = centred.T @ centred / (len(h) - 1)
            for _ in range(solves):
                np.linalg.eigvalsh(covariance)

    def forward() -> None:
        with torch.no_grad():
            activations.hiddens(model, x)

    gradient_s, forward_s, spectra_s = interleaved(
        [gradient, forward, spectra], ctx.repeat, ctx.sync, warmup=0
    )
    return {
        "gradient": gradient_s,
        "forward": forward_s,
        "spectra": spectra_s,
        "n": len(x),
        "solves": solves,
    }


def _condition_rows(ctx: Context, paths, floor: dict) -> list[Row]:
    rows = []
    for method, (name, entry, grid) in _grids(ctx).items():
        log(f"row 7: {name} ({method}) on a grid of {len(grid)} strengths, {ctx.repeat} runs")
        runs = [_run_grid(ctx, name, entry, grid, paths) for _ in range(ctx.repeat)]
        seconds = statistics.median(runs)
        passes = {"fgsm": 1, "pgd": entry.get("steps", 0) * len(grid)}.get(method, 0)
        floor_s = passes * floor["gradient"] + len(grid) * (floor["forward"] + floor["spectra"])
        ratio = seconds / floor_s
        low, high, coverage = median_interval([run / floor_s for run in runs])
        rows.append(
            Row(
                f"7{method[0]}" if method != "random_sign" else "7r",
                f"{method} condition ({name}): stages / floor, per strength",
                f"{ratio:.2f} ({seconds / len(grid):.1f} / {floor_s / len(grid):.1f} s; "
                f"{coverage:.0%} interval {low:.2f}-{high:.2f})",
                f"<= {TARGET_CONDITION} (cpu)",
                verdict(low, high, TARGET_CONDITION) if not ctx.cuda else None,
                {
                    "seconds": seconds,
                    "runs": runs,
                    "floor_s": floor_s,
                    "interval": [low, high, coverage],
                    "grid": grid,
                    "passes": passes,
                },
            )
        )
    ctx.note(
        f"7: {floor['n']} test images, the config's first architecture untrained, grids of "
        f"{GRID} non-zero strengths (PGD 1), the median of {ctx.repeat} runs each (row 8 too), "
        "with a distribution-free interval of that median (the floor taken as measured; ok: "
        "within noise when the interval holds the target). Floor parts measured here: a "
        f"gradient pass {floor['gradient']:.2f} s, a forward {floor['forward']:.2f} s, the "
        f"covariances and {floor['solves']} eigensolves of every layer {floor['spectra']:.2f} s "
        "per strength. The stages add to it: TwoNN of the inputs, the parquet round trip of the "
        "activations, the accuracies and the block scatters."
    )
    return rows


def _probe_evaluation(ctx: Context, n: int, width: int, n_classes: int) -> float:
    """Median seconds of the two products of one probe evaluation (probe._objective's
    logits and gradient) in float32 at (n, width) features and n_classes classes, the
    cheapest evaluation the probe's solver makes."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    X = torch.randn(n, width, generator=generator).to(ctx.device)
    W = torch.randn(n_classes, width, generator=generator).to(ctx.device)
    b = torch.zeros(n_classes, device=ctx.device)

    def evaluation() -> None:
        residual = torch.addmm(b, X, W.T)
        residual.T @ X

    (seconds,) = interleaved([evaluation], max(5, ctx.repeat), ctx.sync)
    return seconds


def _snapshot_floor(ctx: Context, paths, floor: dict, probe_file: Path) -> dict:
    """The snapshot analysis's floor, measured here: the test images' forward and every
    layer's covariance and 1 + B eigensolves (row 7's parts), the forward of the probe's
    training images, and per probe its L-BFGS iterations (read from the stage's output) times
    the two float32 products of one evaluation. Not in it: the splits' reading, TwoNN, the
    line search's extra evaluations, the float64 finish and the solver's bookkeeping."""
    import pyarrow.parquet as pq
    import torch

    from manifold_smoothness import activations, data
    from manifold_smoothness.model import load_model

    train, _, model_path, _ = paths
    model = load_model(model_path).to(ctx.device)
    split = data.read_split(train)
    samples = ctx.config["analysis"]["probe"]["train_samples"]
    chosen = data.stratified_subset(split.labels, samples)
    x, _ = data.split_tensors(split)
    x = x[chosen].to(ctx.device)

    def forward() -> None:
        with torch.no_grad():
            activations.hiddens(model, x)

    (train_forward,) = interleaved([forward], ctx.repeat, ctx.sync, warmup=0)
    iterations = pq.read_table(probe_file)["probe_iterations"].to_pylist()
    widths = ctx.config["models"][0]["hidden"]
    per_eval = {w: _probe_evaluation(ctx, len(chosen), w, 10) for w in set(widths)}
    probes = sum(i * per_eval[w] for i, w in zip(iterations, widths, strict=True))
    parts = {
        "spectra": floor["spectra"],
        "forwards": floor["forward"] + train_forward,
        "probes": probes,
    }
    return {
        **parts,
        "total": sum(parts.values()),
        "iterations": iterations,
        "evaluation_s": per_eval,
    }


def _snapshot_row(ctx: Context, paths, floor: dict) -> Row:
    from manifold_smoothness.stages.analyse_snapshot import analyse_snapshot

    train, test, _, snapshots = paths
    spec = ctx.config["models"][0]
    analysis = ctx.config["analysis"]
    folder = ctx.scratch / "conditions" / "snapshot"
    job = _job(
        {"snapshots": str(snapshots), "train": str(train), "test": str(test)},
        {"spectrum": str(folder / "spectrum.parquet"), "probe": str(folder / "probe.parquet")},
        {
            "seed": SEED,
            "epoch": 0.0,
            "samples": analysis["samples"],
            "dimension_samples": analysis["dimension_samples"],
            "jackknife_blocks": analysis["jackknife_blocks"],
            "probe": json.loads(json.dumps(analysis["probe"])),
            "device": ctx.device,
        },
        {"dataset": "mnist", "model": spec["name"], "seed": str(SEED)},
    )
    log(f"row 8: one snapshot analysis, {ctx.repeat} runs, then its floor")
    seconds = statistics.median(
        timed(lambda: analyse_snapshot(job), ctx.sync) for _ in range(ctx.repeat)
    )
    least = _snapshot_floor(ctx, paths, floor, folder / "probe.parquet")
    ok = seconds <= TARGET_SNAPSHOT_S
    return Row(
        "8",
        "snapshot analysis (spectra, accuracies, TwoNN, probes) / its floor",
        f"{seconds:.1f} s; floor {least['total']:.1f} s ({seconds / least['total']:.2f}x): "
        f"spectra {least['spectra']:.1f}, forwards {least['forwards']:.1f}, probe products "
        f"{least['probes']:.1f} s ({sum(least['iterations'])} L-BFGS iterations)",
        f"<= {TARGET_SNAPSHOT_S:g} s (cpu)",
        ok if not ctx.cuda else None,
        {"seconds": seconds, "floor": least},
    )


def measure(ctx: Context) -> list[Row]:
    log("rows 7-8: MNIST splits and an untrained model of the first architecture")
    paths = _prepare(ctx)
    floor = _floor_parts(ctx, paths)
    return [*_condition_rows(ctx, paths, floor), _snapshot_row(ctx, paths, floor)]
