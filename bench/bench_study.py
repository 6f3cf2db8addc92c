"""Row 5: the default study's wall time beside its floor; rows 6: peak memory and disk of a run.

The floor is the study's arithmetic at this machine's measured rates, per model and stage
(training, snapshot analysis, the final model's probe, the input conditions): network FLOPs at
the float32 matmul peak of the device (row 1), covariance FLOPs (with the jackknife's block
scatters), probe fits and TwoNN's pairwise distances at the CPU's float64 peak (numpy and the
probe's CPU fits, float64), and the measured eigensolves (1 + B per spectrum). The wall time
of a study cannot be measured within the benchmark: it is read from a finished run (its
Snakemake log and results/benchmarks/), if there is one.
"""

from __future__ import annotations

import csv
import datetime
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from harness import Context, Row, flop_rate, interleaved, log, matmul_peak

N_TRAIN, N_TEST, N_PIXELS = 60_000, 10_000, 784
RSS_LIMIT_MB = 4096  # 4 GB per job (Snakemake's max_rss is in MB)
DISK_LIMIT = 3e9
PROBE_ITERATIONS = 150  # L-BFGS iterations of a typical probe fit (probe.max_iter caps them)


@dataclass(frozen=True)
class Rates:
    """What the floor runs at: network passes at the device's float32 matmul peak, covariances,
    probe fits and TwoNN distances at the CPU's float64 peak (numpy and the probe's CPU fits,
    both float64), eigensolves at the measured seconds of one 1000 x 1000 eigvalsh."""

    net: float
    cpu64: float
    eig_1000: float


@dataclass
class Work:
    """One stage's work: FLOPs at each rate and eigensolves in units of a 1000 x 1000 one."""

    net: float = 0.0
    cpu64: float = 0.0
    eig: float = 0.0

    def __iadd__(self, other: Work) -> Work:
        self.net += other.net
        self.cpu64 += other.cpu64
        self.eig += other.eig
        return self

    def scaled(self, k: float) -> Work:
        return Work(k * self.net, k * self.cpu64, k * self.eig)

    def seconds(self, rates: Rates) -> float:
        return self.net / rates.net + self.cpu64 / rates.cpu64 + self.eig * rates.eig_1000


@dataclass(frozen=True)
class Sizes:
    """The default study's sample counts: training split, test split (training's evaluation),
    analysed test images, probe training images, TwoNN images, jackknife blocks."""

    n_train: int
    n_test_split: int
    n_test: int
    n_probe: int
    m: int
    blocks: int

    @classmethod
    def from_config(cls, cfg: dict) -> Sizes:
        n_train = cfg["dataset"].get("train_subset") or N_TRAIN
        n_test_split = cfg["dataset"].get("test_subset") or N_TEST
        n_test = min(cfg["analysis"].get("samples") or n_test_split, n_test_split)
        n_probe = min(cfg["analysis"]["probe"]["train_samples"], n_train)
        m = min(cfg["analysis"]["dimension_samples"], n_test)
        blocks = cfg["analysis"].get("jackknife_blocks", 0)
        return cls(n_train, n_test_split, n_test, n_probe, m, blocks)

    @property
    def solves(self) -> int:
        """Eigensolves per spectrum: the full one and one per deleted block (none: B = 0)."""
        return self.blocks + 1 if self.blocks else 1


def layer_weights(spec: dict) -> list[int]:
    """P_l: weights of each hidden layer's linear map (784 x N_1, N_1 x N_2, ...)."""
    return [a * b for a, b in pairwise([N_PIXELS, *spec["hidden"]])]


def spectra(hidden: list[int], sizes: Sizes) -> Work:
    """Every layer's spectrum of the analysed test images with its delete-one-block jackknife:
    the block scatters add up to one symmetric product, n x N_l^2, then sizes.solves
    eigensolves of N_l x N_l."""
    return Work(
        cpu64=sum(sizes.n_test * w * w for w in hidden),
        eig=sizes.solves * sum((w / 1000) ** 3 for w in hidden),
    )


def probes(hidden: list[int], n_probe: int) -> Work:
    """The linear probe of every layer: PROBE_ITERATIONS x 2 products of (n_probe x N_l) by
    (N_l x 10), float64."""
    return Work(cpu64=sum(PROBE_ITERATIONS * 2 * 2 * n_probe * w * 10 for w in hidden))


def twonn(m: int) -> Work:
    """TwoNN of m images: their pairwise distances, 2 x m^2 x 784, float64."""
    return Work(cpu64=2 * m * m * N_PIXELS)


def training(spec: dict, sizes: Sizes) -> tuple[Work, str]:
    """One run's training: local 4P per training image (forward 2P, weight gradients 2P),
    backprop 6P - 2P_1 (input gradients of layers 2..L too), greedy per layer phase k the frozen
    forward below it, its forward and its weight gradients, 2 P_1..k + 2 P_k; plus the test
    evaluation of every layer (2P per test image) after every epoch."""
    train = spec["training"]
    rule, epochs = train.get("rule", "local"), int(train["epochs"])
    weights = layer_weights(spec)
    p, n_layers = sum(weights), len(weights)
    n = min(train.get("train_subset") or sizes.n_train, sizes.n_train)
    if rule == "greedy":  # per_image sums the L phases, each `epochs` long
        per_image = sum(2 * sum(weights[: k + 1]) + 2 * weights[k] for k in range(n_layers))
        total = epochs * n_layers
        text = (
            f"{epochs} epochs per layer x {n} x sum_k (2 P_1..k + 2 P_k) [= {per_image / p:.2f}P]"
        )
    else:
        per_image = 6 * p - 2 * weights[0] if rule == "backprop" else 4 * p
        total = epochs
        text = f"{epochs} epochs x {n} x " + ("(6P - 2P_1)" if rule == "backprop" else "4P")
    flops = epochs * per_image * n + total * sizes.n_test_split * 2 * p
    return Work(net=flops), f"{text} + {total} x {sizes.n_test_split} x 2P test, P = {p:,}"


def snapshot(spec: dict, sizes: Sizes) -> Work:
    """One snapshot: forward of the test and probe images, spectra, probes, TwoNN of the clean
    test images."""
    hidden, p = list(spec["hidden"]), sum(layer_weights(spec))
    work = Work(net=(sizes.n_test + sizes.n_probe) * 2 * p)
    work += spectra(hidden, sizes)
    work += probes(hidden, sizes.n_probe)
    work += twonn(sizes.m)
    return work


def final_probe(spec: dict, sizes: Sizes) -> Work:
    """fit_probe of the final model: forward of the test and probe images, the probes."""
    work = Work(net=(sizes.n_test + sizes.n_probe) * 2 * sum(layer_weights(spec)))
    work += probes(list(spec["hidden"]), sizes.n_probe)
    return work


def condition(entry: dict | None, spec: dict, sizes: Sizes) -> tuple[Work, int]:
    """One input condition (entry None: the clean images) and its count of gradient passes.

    A gradient pass is a forward and the input gradients, 4P per image (fgsm 1, pgd `steps`);
    with target `layer` every layer l is attacked through its own readout, 4 P_1..l per pass,
    and recorded by a forward to it, 2 P_1..l, and each layer saw its own inputs (L TwoNN
    estimates); otherwise one forward of 2P and one TwoNN estimate. Then the spectra."""
    weights, hidden, n = layer_weights(spec), list(spec["hidden"]), sizes.n_test
    method = entry["method"] if entry else "clean"
    passes = {"fgsm": 1, "pgd": (entry or {}).get("steps", 0)}.get(method, 0)
    if entry and entry.get("target") == "layer":
        reach = [sum(weights[: k + 1]) for k in range(len(weights))]
        work = Work(net=sum(n * (4 * passes + 2) * r for r in reach))
        inputs = len(weights)
    else:
        work = Work(net=n * (4 * passes + 2) * sum(weights))
        inputs = 1
    work += spectra(hidden, sizes)
    work += twonn(sizes.m).scaled(inputs)
    return work, passes * (len(weights) if inputs > 1 else 1)


def model_terms(cfg: dict, spec: dict, sizes: Sizes, rates: Rates) -> list[tuple]:
    """(stage, FLOPs, seconds, formula) of one model's stages over all its runs (seeds x
    datasets): training, snapshot analysis, final probe, input conditions (clean + attacks)."""
    from manifold_smoothness import targets

    name, hidden = spec["name"], list(spec["hidden"])
    runs = len(cfg["seeds"]) * len(cfg["dataset"]["names"])
    n_layers = len(hidden)
    n_snapshots = len(targets.snapshots(cfg, name))
    train, train_text = training(spec, sizes)
    conditions, n_cond, grads, n_sets = Work(), 0, 0, 0
    parts = []
    for attack in targets.model_conditions(cfg, name):
        entry = cfg["attacks"].get(attack)  # None: the clean images
        grid = targets.grid(cfg, attack)
        work, passes = condition(entry, spec, sizes)
        conditions += work.scaled(len(grid))
        n_cond += len(grid)
        grads += passes * len(grid)
        layer = entry is not None and entry.get("target") == "layer"
        n_sets += len(grid) * (n_layers if layer else 1)
        parts.append(f"{attack} {len(grid)}" + (f" x {passes} gradient passes" if passes else ""))
    spectra_text = f"sum_l {sizes.n_test} x N_l^2 + {sizes.solves} eigensolves per layer" + (
        f" (jackknife {sizes.blocks} blocks)" if sizes.blocks else ""
    )
    probe_text = f"probes {PROBE_ITERATIONS} x 2 x 2 x {sizes.n_probe} x N_l x 10 per layer"
    twonn_text = f"TwoNN 2 x {sizes.m}^2 x 784"
    stages = [
        ("training", train, train_text),
        (
            f"snapshots ({n_snapshots})",
            snapshot(spec, sizes).scaled(n_snapshots),
            f"each: ({sizes.n_test} test + {sizes.n_probe} probe) x 2P, {spectra_text}, "
            f"{probe_text}, {twonn_text}",
        ),
        (
            "final probe",
            final_probe(spec, sizes),
            f"({sizes.n_test} + {sizes.n_probe}) x 2P, {probe_text}",
        ),
        (
            f"conditions ({n_cond})",
            conditions,
            f"{', '.join(parts)} (strengths x passes each): "
            + (f"{grads} gradient passes of 4P_1..l x {sizes.n_test}, " if grads else "")
            + f"forwards 2P_1..l x {sizes.n_test}, {spectra_text} each, {twonn_text} x "
            f"{n_sets} input sets",
        ),
    ]
    return [
        (
            f"{name} {stage}",
            runs * (work.net + work.cpu64),
            runs * work.seconds(rates),
            f"{runs} runs x [{text}]",
        )
        for stage, work, text in stages
        if work.net or work.cpu64 or work.eig
    ]


def floor_terms(
    ctx: Context, peak32: float, peak64: float, eig_1000: float
) -> dict[str, list[tuple]]:
    """Model name -> (stage, FLOPs, seconds, formula) of every stage of that model in the
    default study. FLOPs count the matrix products; eigensolves are in the seconds, measured."""
    rates = Rates(net=peak32, cpu64=peak64, eig_1000=eig_1000)
    sizes = Sizes.from_config(ctx.config)
    return {
        spec["name"]: model_terms(ctx.config, spec, sizes, rates) for spec in ctx.config["models"]
    }


def stage_kind(stage: str) -> str:
    """'local snapshots (9)' -> 'snapshots': the stage a term belongs to, whatever the model."""
    return stage.split(" ", 1)[1].split(" (")[0]


def eigensolve_seconds(ctx: Context) -> float:
    if "eigvalsh_s" in ctx.cache:
        return ctx.cache["eigvalsh_s"]
    x = np.random.default_rng(0).standard_normal((2000, 1000))
    gram = x.T @ x
    return interleaved([lambda: np.linalg.eigvalsh(gram)], ctx.repeat)[0]


def study_wall(ctx: Context) -> tuple[float | None, str]:
    """Seconds of a finished full run and where they come from (None: no run found)."""
    if ctx.study_log:
        seconds = log_elapsed(ctx.study_log)
        return seconds, f"--study-log {ctx.study_log}"
    if not (ctx.results / "benchmarks").is_dir():
        return None, "no results/benchmarks"
    logs = sorted((ctx.results.parent / ".snakemake" / "log").glob("*.snakemake.log"))
    finished = [(log_elapsed(p), p) for p in logs if "(100%) done" in p.read_text()]
    finished = [(s, p) for s, p in finished if s is not None]
    if not finished:
        return None, "no finished Snakemake log in .snakemake/log"
    seconds, path = max(finished)  # the longest finished invocation: the study itself
    return seconds, f"{path.name} (longest finished run in .snakemake/log)"


def log_elapsed(path: Path) -> float | None:
    text = path.read_text()
    match = re.search(r"Elapsed time: (?:(\d+) days?, )?(\d+):(\d+):([\d.]+)", text)
    if match:
        days, h, m, s = match.groups()
        return int(days or 0) * 86400 + int(h) * 3600 + int(m) * 60 + float(s)
    stamps = re.findall(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$", text, re.M)
    if len(stamps) < 2:
        return None
    parse = lambda s: datetime.datetime.strptime(" ".join(s.split()), "%a %b %d %H:%M:%S %Y")  # noqa: E731
    return (parse(stamps[-1]) - parse(stamps[0])).total_seconds()


def benchmark_rows(results: Path) -> list[dict]:
    rows = []
    for path in (results / "benchmarks").rglob("*.tsv"):
        with path.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                rows.append({**row, "path": path.relative_to(results / "benchmarks")})
    return rows


def disk_usage(path: Path) -> int:
    """Bytes allocated under path, as `du` counts them."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(Path(folder) / name).st_blocks * 512
            except OSError:
                pass
    return total


def measure(ctx: Context) -> list[Row]:
    log("row 5: the default study's FLOP floor, and an existing run if there is one")
    peak32 = ctx.cache.get("peak32") or matmul_peak(ctx)["flops"]
    peak64 = matmul_peak(ctx, "float64", "cpu")["flops"]
    eig = eigensolve_seconds(ctx)
    by_model = floor_terms(ctx, peak32, peak64, eig)
    terms = [term for stages in by_model.values() for term in stages]
    floor = sum(t[2] for t in terms)
    wall, source = study_wall(ctx)
    per_model = " ".join(
        f"[{model}: "
        + "; ".join(
            f"{stage[len(model) + 1 :]}: {(f'{flops:.3g} FLOP = ' if flops else '')}"
            f"{seconds:.0f} s ({formula})"
            for stage, flops, seconds, formula in stages
        )
        + f"; model total {sum(t[2] for t in stages):.0f} s]"
        for model, stages in by_model.items()
    )
    per_stage: dict[str, float] = defaultdict(float)
    for stage, _, seconds, _ in terms:
        per_stage[stage_kind(stage)] += seconds
    ctx.note(
        f"5: floor = sum of the stages at float32 peak {flop_rate(peak32)} ({ctx.device}), "
        f"CPU float64 peak {flop_rate(peak64)} ({ctx.threads} threads), one 1000 x 1000 "
        f"eigensolve {eig:.3f} s (measured), per model: {per_model}. Per stage: "
        + ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in per_stage.items())
        + f". Total {floor:.0f} s. Study wall time: {source}."
    )
    bench = benchmark_rows(ctx.results) if (ctx.results / "benchmarks").is_dir() else []
    if bench:
        per_rule: dict[str, list[float]] = defaultdict(list)
        for row in bench:
            per_rule[Path(row["path"]).parts[0]].append(float(row["s"]))
        ctx.note(
            "5: job seconds in results/benchmarks (rule: jobs, sum): "
            + ", ".join(f"{r}: {len(v)}, {sum(v):.0f} s" for r, v in sorted(per_rule.items()))
        )
    if wall is None:
        value, ok = f"not measured (run `snakemake` first); floor {floor / 60:.1f} min", None
    else:
        value = f"{wall / floor:.2f} ({wall / 60:.1f} / {floor / 60:.1f} min)"
        ok = wall / floor <= 1.5 if not ctx.cuda else None
    rows = [
        Row(
            "5",
            "default study wall time / FLOP floor",
            value,
            "<= 1.5 (cpu)",
            ok,
            {"wall_s": wall, "floor_s": floor, "terms": terms},
        )
    ]
    rows += _also(ctx, bench)
    return rows


def _also(ctx: Context, bench: list[dict]) -> list[Row]:
    if not bench:
        why = f"no run in {ctx.results} (run `snakemake` first)"
        return [
            Row("6a", "peak RSS of any job (max_rss)", f"not measured: {why}", "< 4 GB", None),
            Row("6b", "disk use of results/ (du)", f"not measured: {why}", "< 3 GB", None),
        ]
    rss = [(float(r["max_rss"]), r["path"]) for r in bench if r.get("max_rss") not in (None, "-")]
    top, where = max(rss) if rss else (float("nan"), "-")
    used = disk_usage(ctx.results)
    return [
        Row(
            "6a",
            "peak RSS of any job (max_rss)",
            f"{top / 1024:.2f} GB ({where}; {len(rss)} jobs)",
            "< 4 GB",
            top < RSS_LIMIT_MB,
            {"max_rss_mb": top, "job": str(where)},
        ),
        Row(
            "6b",
            "disk use of results/ (du)",
            f"{used / 1e9:.2f} GB",
            "< 3 GB",
            used < DISK_LIMIT,
            {"bytes": used},
        ),
    ]
