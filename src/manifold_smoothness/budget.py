"""What a study costs before it runs: the arithmetic floor of its time, and every job's peak
memory, both from the config alone.

The time is a FLOP model of each job (network passes at the float32 matmul rate; covariances,
probe fits and TwoNN distances at the float64 rate; eigensolves), divided by the cores that run
the jobs. It is a floor: process starts, I/O and the parts that are not matrix products come on
top (whole runs took 1.7-2.4x their floor here, README: Performance). The memory is a sum of the
arrays a job holds at its peak, over the resident size of a Python process with torch (within
0.8-1.2x of Snakemake's max_rss at paper width here), so a run that cannot fit is refused while
planning, naming the config key that drives it.

Torch-free: the Snakefile imports it while planning (rules/common.smk) and bench/bench_study.py
reports the same floor beside a finished run.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from manifold_smoothness import targets
from manifold_smoothness.config import (
    ConfigError,
    audit_enabled,
    audited,
    gpu_visible,
    intervention_family,
    key_path,
    penalty_of,
)
from manifold_smoothness.sources import N_CLASSES, N_PIXELS, N_TEST, N_TRAIN
from manifold_smoothness.vocabulary import (
    ATTACK_METHODS,
    CLEAN,
    LEARNING_RULES,
    PENALTY_CHUNK,
    PGD_GRID_ROWS,
    rule_of,
    total_epochs,
)

PROBE_ITERATIONS = 150  # L-BFGS iterations of a typical probe fit (probe.max_iter caps them)
# One eigvalsh of N x N costs about as long as 4 N^3 FLOPs at the float64 matmul rate: 0.117 s
# for N = 1000 at 35 GFLOP/s on this machine (2026-12-07; 0.05 s when idle, README row 3a).
EIGH_FLOPS_PER_N3 = 4.0
# Whole runs took this many times their floor here (README: Performance), plus per job a few
# seconds that are not arithmetic (process start, imports, files, probe iterations): what the
# quick and the small preset took per job beyond their floor here (README: Performance).
FLOOR_FACTORS = (1.7, 2.4)
JOB_SECONDS = (4.7, 10.0)
PRESETS_FROM = 2 * 3600  # seconds of the shortest expected run that point to the presets
PRESETS = (
    "config/paper-cpu.yaml (paper width, 2 networks, 1-2 h on 2 cores)",
    "config/small.yaml (the whole design at 64 units, ~30 min)",
    "config/quick.yaml (~3 min)",
)

# --------------------------------------------------------------------------------------------
# time


@dataclass(frozen=True)
class Rates:
    """What the floor runs at, per core: network passes at the float32 matmul rate, covariances,
    probe fits and TwoNN distances at the float64 rate (numpy and the probe's CPU fits, both
    float64), eigensolves at the seconds of one 1000 x 1000 eigvalsh."""

    net: float
    cpu64: float
    eig_1000: float

    @classmethod
    def measure(cls, size: int = 512, repeat: int = 5) -> Rates:
        """This machine's rates on one core: the best of `repeat` numpy products of two
        size x size matrices in float32 and float64 (~0.1 s in all); the eigensolve from the
        float64 rate (EIGH_FLOPS_PER_N3)."""
        import numpy as np
        from threadpoolctl import threadpool_limits

        rng = np.random.default_rng(0)
        rates = []
        with threadpool_limits(1):  # a job's BLAS runs on its own thread (threads: 1)
            for dtype in (np.float32, np.float64):
                a = rng.standard_normal((size, size)).astype(dtype)
                a @ a  # warm-up
                best = float("inf")
                for _ in range(repeat):
                    tic = time.perf_counter()
                    a @ a
                    best = min(best, time.perf_counter() - tic)
                rates.append(2 * size**3 / best)
        return cls(net=rates[0], cpu64=rates[1], eig_1000=EIGH_FLOPS_PER_N3 * 1e9 / rates[1])


@dataclass
class Work:
    """One job's work: FLOPs at each rate and eigensolves in units of a 1000 x 1000 one."""

    net: float = 0.0
    cpu64: float = 0.0
    eig: float = 0.0

    def __iadd__(self, other: Work) -> Work:
        self.net += other.net
        self.cpu64 += other.cpu64
        self.eig += other.eig
        return self

    def __add__(self, other: Work) -> Work:
        return Work(self.net + other.net, self.cpu64 + other.cpu64, self.eig + other.eig)

    def scaled(self, k: float) -> Work:
        return Work(k * self.net, k * self.cpu64, k * self.eig)

    def seconds(self, rates: Rates) -> float:
        return self.net / rates.net + self.cpu64 / rates.cpu64 + self.eig * rates.eig_1000


@dataclass(frozen=True)
class Sizes:
    """The study's sample counts: training split, test split (training's evaluation), analysed
    test images, probe training images, TwoNN images, jackknife blocks."""

    n_train: int
    n_test_split: int
    n_test: int
    n_probe: int
    m: int
    blocks: int

    @classmethod
    def from_config(cls, cfg: Mapping) -> Sizes:
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


def layer_weights(spec: Mapping) -> list[int]:
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
    return Work(cpu64=sum(PROBE_ITERATIONS * 2 * 2 * n_probe * w * N_CLASSES for w in hidden))


def twonn(m: int) -> Work:
    """TwoNN of m images: their pairwise distances, 2 x m^2 x 784, float64."""
    return Work(cpu64=2 * m * m * N_PIXELS)


def training(spec: Mapping, sizes: Sizes) -> tuple[Work, str]:
    """One run's training: local 4P per training image (forward 2P, weight gradients 2P),
    backprop 6P - 2P_1 (input gradients of layers 2..L too), greedy per layer phase k the frozen
    forward below it, its forward and its weight gradients, 2 P_1..k + 2 P_k; plus the test
    evaluation of every layer (2P per test image) after every epoch."""
    train = spec["training"]
    rule, epochs = LEARNING_RULES[rule_of(spec)], int(train["epochs"])
    weights = layer_weights(spec)
    p = sum(weights)
    n = min(train.get("train_subset") or sizes.n_train, sizes.n_train)
    per_image = rule.flops(weights)  # summed over a layer-wise rule's phases, each `epochs` long
    total = total_epochs(spec)
    per = " per layer" if rule.layerwise else ""
    text = f"{epochs} epochs{per} x {n} x {rule.flops_text} [= {per_image / p:.2f}P]"
    flops = epochs * per_image * n + total * sizes.n_test_split * 2 * p
    text += f" + {total} x {sizes.n_test_split} x 2P test, P = {p:,}"
    if penalty_of(spec) is None:
        return Work(net=flops), text
    # the spectral penalty (spectral_penalty.PenaltyTerm): per image and layer the projection on
    # the eigenvectors and its gradient, 6 N^2; per epoch a forward of the training set, the
    # float64 scatters, 2 N^2 per image and layer, and one eigensolve per layer
    squares = sum(width**2 for width in spec["hidden"])
    eigs = sum((width / 1000) ** 3 for width in spec["hidden"])
    penalty = Work(net=epochs * n * (6 * squares + 2 * p), cpu64=epochs * n * 2 * squares)
    return Work(net=flops, eig=epochs * eigs) + penalty, text + " + penalty 8 N^2 per image"


def snapshot(spec: Mapping, sizes: Sizes) -> Work:
    """One snapshot: forward of the test and probe images, spectra, probes, TwoNN of the clean
    test images."""
    hidden, p = list(spec["hidden"]), sum(layer_weights(spec))
    work = Work(net=(sizes.n_test + sizes.n_probe) * 2 * p)
    work += spectra(hidden, sizes)
    work += probes(hidden, sizes.n_probe)
    work += twonn(sizes.m)
    return work


def audit_images(cfg: Mapping, sizes: Sizes) -> int:
    """Test images the attack audit attacks."""
    return min(cfg["audit"].get("samples") or sizes.n_test_split, sizes.n_test_split)


def auditing(cfg: Mapping, spec: Mapping, sizes: Sizes) -> Work:
    """The attack audit of one seed (audit.run_audit): per budget FGSM's share of one gradient,
    PGD's steps and the two APGD runs' iterations (4P per image each, as a gradient pass) and
    a forward per attack (2P); PGD at eps 0 and the zero-gradient check on top."""
    entry, p = cfg["audit"], sum(layer_weights(spec))
    budgets = len(entry["budgets"])
    passes = 1 + 1 + entry["pgd_steps"] * (budgets + 1) + 2 * entry["apgd_iterations"] * budgets
    forwards = 1 + 4 * budgets + 1
    return Work(net=audit_images(cfg, sizes) * (4 * passes + 2 * forwards) * p)


def robustness_images(cfg: Mapping, sizes: Sizes) -> int:
    """Test images whose minimum adversarial distance is measured."""
    entry = cfg["intervention"]["robustness"]
    return min(entry.get("samples") or sizes.n_test_split, sizes.n_test_split)


def measuring(cfg: Mapping, spec: Mapping, sizes: Sizes) -> Work:
    """The minimum distances of one seed (robustness.minimum_distances): at most 1 +
    bisections PGD runs of pgd_steps gradient passes (4P) per image, and a forward (2P) each."""
    entry, p = cfg["intervention"]["robustness"], sum(layer_weights(spec))
    runs = 1 + entry["bisections"]
    return Work(net=robustness_images(cfg, sizes) * runs * (4 * entry["pgd_steps"] + 2) * p)


def final_probe(spec: Mapping, sizes: Sizes) -> Work:
    """fit_probe of the final model: forward of the test and probe images, the probes."""
    work = Work(net=(sizes.n_test + sizes.n_probe) * 2 * sum(layer_weights(spec)))
    work += probes(list(spec["hidden"]), sizes.n_probe)
    return work


def gradient_passes(entry: Mapping | None, grid: list[float]) -> int:
    """Gradient passes of one grid of an attack (attacks.perturb_grid): fgsm one for the whole
    grid (its sign at the clean input serves every eps), pgd `steps` per non-zero strength,
    none for noise or the clean images."""
    if entry is None:  # the clean images
        return 0
    attacked = sum(1 for strength in grid if strength > 0)
    gradients = ATTACK_METHODS[entry["method"]].gradients
    if gradients == "one":
        return 1 if attacked else 0
    if gradients == "steps":
        return entry.get("steps", 0) * attacked
    return 0


def attacked_rows(entry: Mapping | None, grid: list[float], n: int) -> int:
    """Image rows one input set of a recording holds at its peak (attacks.perturb_grid): PGD
    a group of strengths of at most vocabulary.PGD_GRID_ROWS rows, three times (starts, clean
    copies, results); the others the attacked images and their noise or direction."""
    if entry is not None and ATTACK_METHODS[entry["method"]].gradients == "steps":
        attacked = sum(1 for strength in grid if strength > 0)
        return 3 * n * min(max(1, PGD_GRID_ROWS // n), max(attacked, 1))
    return 2 * n


def layer_target(entry: Mapping | None) -> bool:
    return entry is not None and entry.get("target") == "layer"


def recording(entry: Mapping | None, spec: Mapping, sizes: Sizes, grid: list[float]) -> Work:
    """Recording one grid of an input condition (entry None: the clean images): its gradient
    passes, a forward and the inputs' TwoNN per strength.

    A gradient pass is a forward and the input gradients, 4P per image; with target `layer`
    every layer l is attacked through its own readout, 4 P_1..l per pass, and recorded by a
    forward to it, 2 P_1..l, and each layer saw its own inputs (L TwoNN estimates); otherwise
    one forward of 2P and one TwoNN estimate per strength."""
    weights, n = layer_weights(spec), sizes.n_test
    passes, forwards = gradient_passes(entry, grid), len(grid)
    if layer_target(entry):
        reach = [sum(weights[: k + 1]) for k in range(len(weights))]
        net = sum(n * (4 * passes + 2 * forwards) * r for r in reach)
        return Work(net=net) + twonn(sizes.m).scaled(len(weights) * forwards)
    return Work(net=n * (4 * passes + 2 * forwards) * sum(weights)) + twonn(sizes.m).scaled(
        forwards
    )


def model_terms(cfg: Mapping, spec: Mapping, sizes: Sizes, rates: Rates) -> list[tuple]:
    """(stage, FLOPs, seconds, formula) of one model's stages over all its runs (seeds x
    datasets): training, snapshot analysis, final probe, input conditions (clean + attacks)."""
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
        conditions += recording(entry, spec, sizes, grid)
        conditions += spectra(hidden, sizes).scaled(len(grid))
        passes = gradient_passes(entry, grid) * (n_layers if layer_target(entry) else 1)
        n_cond += len(grid)
        grads += passes
        n_sets += len(grid) * (n_layers if layer_target(entry) else 1)
        parts.append(f"{attack} {len(grid)}" + (f" ({passes} gradient passes)" if passes else ""))
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
            f"{', '.join(parts)} (strengths): "
            + (f"{grads} gradient passes of 4P_1..l x {sizes.n_test}, " if grads else "")
            + f"forwards 2P_1..l x {sizes.n_test}, {spectra_text} each, {twonn_text} x "
            f"{n_sets} input sets",
        ),
    ]
    if name in intervention_family(cfg):
        entry = cfg["intervention"]["robustness"]
        stages.append(
            (
                "minimum distances",
                measuring(cfg, spec, sizes),
                f"(1 + {entry['bisections']}) x {entry['pgd_steps']} PGD steps on "
                f"{robustness_images(cfg, sizes)} images",
            )
        )
    if audited(cfg, name):
        n = audit_images(cfg, sizes)
        stages.append(
            (
                "attack audit",
                auditing(cfg, spec, sizes),
                f"{len(cfg['audit']['budgets'])} budgets x (FGSM, PGD, 2 APGD) on {n} images",
            )
        )
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


def floor_terms(cfg: Mapping, rates: Rates) -> dict[str, list[tuple]]:
    """Model name -> (stage, FLOPs, seconds, formula) of every stage of that model in the
    study. FLOPs count the matrix products; eigensolves are in the seconds."""
    sizes = Sizes.from_config(cfg)
    return {spec["name"]: model_terms(cfg, spec, sizes, rates) for spec in cfg["models"]}


def stage_of(cfg: Mapping, rule: str) -> tuple[str, str | None]:
    """A rule's stage and its attack: 'record_activations_fgsm' -> ('record_activations',
    'fgsm'); 'train_model' -> ('train_model', None)."""
    for stage in ("record_activations", "compute_spectrum"):
        attack = rule.removeprefix(f"{stage}_")
        if attack != rule and (attack == CLEAN or attack in cfg["attacks"]):
            return stage, attack
    return rule, None


def job_work(cfg: Mapping, rule: str, wildcards: Mapping[str, str]) -> Work:
    """The arithmetic of one job of the workflow (none for the jobs that only read, write and
    draw: data, summaries, figures, claims)."""
    stage, attack = stage_of(cfg, rule)
    if "model" not in wildcards:
        return Work()
    spec, sizes = targets.model_spec(cfg, wildcards["model"]), Sizes.from_config(cfg)
    if stage == "train_model":
        return training(spec, sizes)[0]
    if stage == "analyse_snapshot":
        return snapshot(spec, sizes)
    if stage == "fit_probe":
        return final_probe(spec, sizes)
    if stage == "audit_attacks":
        return auditing(cfg, spec, sizes) if audit_enabled(cfg) else Work()
    if stage == "measure_robustness":
        return measuring(cfg, spec, sizes)
    if attack is None:
        return Work()
    grid = targets.grid(cfg, attack)
    if stage == "record_activations":
        return recording(cfg["attacks"].get(attack), spec, sizes, grid)
    return spectra(list(spec["hidden"]), sizes).scaled(len(grid))


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cost_message(
    cfg: Mapping,
    jobs: Iterable[tuple[str, Mapping[str, str]]],
    cores: int | None,
    rates: Rates | None = None,
) -> str:
    """What the jobs about to run (rule, wildcards) cost at this machine's rates: the arithmetic
    floor of their time on `cores` cores (None: on a cluster, in CPU time), its largest stages,
    the range that runs here took and, when that is hours, the presets that take less."""
    rates = rates or Rates.measure()
    by_stage: dict[str, float] = defaultdict(float)
    n_jobs = 0
    for rule, wildcards in jobs:
        n_jobs += 1
        by_stage[stage_of(cfg, rule)[0]] += job_work(cfg, rule, wildcards).seconds(rates)
    parallel = min(cores, os.cpu_count() or cores) if cores else 1
    floor = sum(by_stage.values()) / parallel
    low, high = (
        (floor * k + n_jobs * j / parallel) for k, j in zip(FLOOR_FACTORS, JOB_SECONDS, strict=True)
    )
    where = f"on {parallel} cores" if cores else "of CPU time (on a cluster)"
    top = sorted(((s, t) for s, t in by_stage.items() if t), key=lambda st: -st[1])[:3]
    stages = "; ".join(f"{s} {duration(t / parallel)}" for s, t in top) if floor >= 60 else ""
    lines = [
        f"Cost estimate of {n_jobs} jobs {where}: about {duration(low)} to {duration(high)}.",
        f"Arithmetic floor {duration(floor)}" + (f" ({stages})" if stages else "") + " at "
        f"float32 {rates.net / 1e9:.0f}, float64 {rates.cpu64 / 1e9:.0f} GFLOP/s per core, "
        f"measured now; runs here took {FLOOR_FACTORS[0]}-{FLOOR_FACTORS[1]}x their floor, "
        f"plus {JOB_SECONDS[0]:g}-{JOB_SECONDS[1]:g} s per job.",
    ]
    if cfg.get("device") != "cpu" and gpu_visible():
        lines.append("On a GPU the network passes run far faster than this CPU estimate.")
    if low >= PRESETS_FROM:
        lines.append("Shorter runs: --configfile " + "; ".join(PRESETS) + ".")
    lines.append("Silence this with cost_estimate: false (--config cost_estimate=False).")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# memory

# Resident size of a job's Python process once torch, pyarrow and the package are imported
# (0.81 GB measured here, 2026-12-07), with Snakemake's script preamble.
PROCESS_BYTES = 0.85e9
# Reading a split (parquet -> uint8, the parquet reader's buffers) and its float32 tensor: the
# peak of data.read_split + data.split_tensors of all of MNIST's training images was 0.69 GB
# over the process, 14.7 bytes per pixel (the test images' 17).
SPLIT_BYTES_PER_PIXEL = 15
F32, F64 = 4, 8
EVAL_CHUNK = 4096  # training.layer_accuracies
FORWARD_CHUNK = 2000  # activations.hiddens and record
TWONN_CHUNK = 1024  # intrinsic.nearest_neighbour_distances
WARN_FRACTION = 0.8


@dataclass(frozen=True)
class Term:
    """Bytes one job holds for one reason, and the config keys that drive them (the main one
    first)."""

    bytes: float
    what: str
    keys: tuple[str, ...]


class MemoryBudgetError(ConfigError):
    """A job of the configured study cannot fit in this machine's memory."""


def _model_key(index: int, *rest: str) -> str:
    return key_path(("models", index, *rest))


def split_bytes(n: int) -> float:
    return SPLIT_BYTES_PER_PIXEL * n * N_PIXELS


def job_memory(cfg: Mapping, index: int, stage: str, attack: str | None = None) -> list[Term]:
    """The arrays one job of model cfg['models'][index] holds at its peak, beyond the process
    itself (PROCESS_BYTES). Stages: train_model, analyse_snapshot, fit_probe,
    record_activations, compute_spectrum (the last two per attack), audit_attacks."""
    spec = cfg["models"][index]
    sizes = Sizes.from_config(cfg)
    hidden = list(spec["hidden"])
    widest, units = max(hidden), sum(hidden)
    weights = sum(layer_weights(spec)) + units * N_CLASSES  # hidden layers and the readouts
    n_snapshots = len(spec["training"].get("snapshots") or [])
    width = _model_key(index, "hidden")
    snapshots_key = _model_key(index, "training", "snapshots")
    test_data = Term(split_bytes(sizes.n_test_split), "test images", ("dataset.test_subset",))
    train_data = Term(split_bytes(sizes.n_train), "training images", ("dataset.train_subset",))
    model = Term(F32 * weights, "weights", (width,))
    # The test activations of every layer (float32), twice while the chunks are concatenated.
    activations = Term(
        2 * F32 * sizes.n_test * units, "test activations", (width, "analysis.samples")
    )
    # A layer's spectrum: its activations in block order, their float64 copy, the B + 1 block
    # scatters and two covariance temporaries of N x N.
    spectrum = Term(
        (F32 + F64) * sizes.n_test * widest + F64 * widest**2 * (sizes.solves + 2),
        "a layer's spectrum and jackknife",
        (width, "analysis.jackknife_blocks"),
    )
    # The probe's training activations (float32, twice while concatenated), a layer's float64
    # standardised copy and a chunk of the test set in float64.
    probe = Term(
        2 * F32 * sizes.n_probe * units + F64 * sizes.n_probe * widest,
        "probe activations",
        ("analysis.probe.train_samples", width),
    )
    # TwoNN: the test images in float64 and the distance block of a chunk of query rows.
    twonn_rows = Term(
        F64 * sizes.n_test * N_PIXELS + 2 * F64 * min(TWONN_CHUNK, sizes.m) * sizes.m,
        "TwoNN distances",
        ("analysis.dimension_samples",),
    )
    if stage == "train_model":
        batch = spec["training"]["batch_size"]
        return [
            train_data,
            test_data,
            # weights, gradients and Adam's two moments, and a checkpoint being written
            Term(F32 * weights * 6, "weights, gradients, Adam moments, checkpoint", (width,)),
            Term(F32 * weights * n_snapshots, "weight snapshots", (width, snapshots_key)),
            Term(
                3 * F32 * batch * units,
                "a batch's activations and gradients",
                (_model_key(index, "training", "batch_size"), width),
            ),
            Term(F32 * min(EVAL_CHUNK, sizes.n_test_split) * units, "test evaluation", (width,)),
            # the spectral penalty's refresh: a chunk's hidden layers in float32 and float64,
            # and each layer's float64 scatter and eigenvectors
            Term(
                (F32 + F64) * min(PENALTY_CHUNK, sizes.n_train) * units
                + 3 * F64 * sum(w * w for w in hidden)
                if penalty_of(spec)
                else 0,
                "the spectral penalty's covariances",
                (_model_key(index, "training", "spectral_penalty"), width),
            ),
        ]
    if stage == "analyse_snapshot":
        # the bundle of every snapshot, loaded and rebuilt as models
        bundle = Term(2 * F32 * weights * n_snapshots, "weight snapshots", (width, snapshots_key))
        # the spectra, the probe and TwoNN run one after the other
        analysis = max(spectrum, probe, twonn_rows, key=lambda t: t.bytes)
        return [train_data, test_data, bundle, activations, analysis]
    if stage == "fit_probe":
        return [train_data, test_data, model, activations, probe]
    if stage == "record_activations":
        entry = cfg["attacks"].get(attack)
        inputs = len(hidden) if layer_target(entry) else 1
        grid = targets.grid(cfg, attack)
        graph = (
            3 * F32 * min(FORWARD_CHUNK, sizes.n_test) * units
            if gradient_passes(entry, grid)
            else 0
        )
        return [
            test_data,
            model,
            # activations and their parquet file being written
            Term(3 * F32 * sizes.n_test * units, "activations", (width, "analysis.samples")),
            Term(
                F32 * N_PIXELS * attacked_rows(entry, grid, sizes.n_test) * inputs,
                "attacked inputs",
                ("analysis.samples",),
            ),
            Term(graph, "a chunk's gradients", (width,)),
            twonn_rows,
        ]
    if stage == "compute_spectrum":
        layer = Term(F32 * sizes.n_test * widest, "a layer's activations", (width,))
        return [model, layer, spectrum]
    if stage == "audit_attacks":
        n = audit_images(cfg, sizes)
        budgets = len(cfg["audit"]["budgets"])
        # FGSM's and PGD's grids (PGD's three copies of a group of budgets), APGD's arrays
        rows = n * (budgets + 3 * min(budgets, max(1, PGD_GRID_ROWS // n)) + 4)
        return [
            test_data,
            model,
            Term(F32 * N_PIXELS * rows, "attacked images", ("audit.budgets", "audit.samples")),
            Term(3 * F32 * min(PGD_GRID_ROWS, n * budgets) * units, "gradients", (width,)),
        ]
    if stage == "measure_robustness":
        n = robustness_images(cfg, sizes)
        # the images, their attacked copies and bounds (PGD's per-row eps ball), the gradients
        return [
            test_data,
            model,
            Term(4 * F32 * N_PIXELS * n, "attacked images", ("intervention.robustness.samples",)),
            Term(3 * F32 * min(2000, n) * units, "gradients", (width,)),
        ]
    raise ValueError(f"no memory model of stage {stage!r}")


def study_memory(cfg: Mapping) -> list[tuple[str, int, float, Term]]:
    """(job, model index, peak bytes, largest term) of every kind of job of the study."""
    jobs = []
    for index, spec in enumerate(cfg["models"]):
        kinds = [("train_model", None), ("fit_probe", None)]
        if spec["training"].get("snapshots"):
            kinds.append(("analyse_snapshot", None))
        for attack in targets.model_conditions(cfg, spec["name"]):
            kinds += [("record_activations", attack), ("compute_spectrum", attack)]
        if audited(cfg, spec["name"]):
            kinds.append(("audit_attacks", None))
        if spec["name"] in intervention_family(cfg):
            kinds.append(("measure_robustness", None))
        for stage, attack in kinds:
            terms = job_memory(cfg, index, stage, attack)
            name = f"{stage}_{attack}" if attack else stage
            peak = PROCESS_BYTES + sum(t.bytes for t in terms)
            jobs.append((name, index, peak, max(terms, key=lambda t: t.bytes)))
    return jobs


def machine_memory() -> float | None:
    """Bytes of memory this process may use: MemTotal, or a smaller cgroup limit."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        limits.append(int(Path("/sys/fs/cgroup/memory.max").read_text()))
    except (OSError, ValueError):  # no cgroup v2 limit ("max")
        pass
    return min(limits) if limits else None


def check_memory(cfg: Mapping, available: float | None = None) -> str | None:
    """Refuse a study one of whose jobs needs more memory than this machine has, naming the job,
    the config key that drives it and the fix; return a warning when one comes within
    WARN_FRACTION of it (None: all fit, or the machine's memory is unknown)."""
    available = machine_memory() if available is None else available
    if not available:
        return None
    name, index, peak, term = max(study_memory(cfg), key=lambda job: job[2])
    model = cfg["models"][index]["name"]
    need = (
        f"job {name} of model '{model}' needs about {peak / 1e9:.1f} GB of memory "
        f"({term.what}: {term.bytes / 1e9:.1f} GB)"
    )
    lower = " or ".join(term.keys)
    if peak > available:
        raise MemoryBudgetError(
            f"config key '{term.keys[0]}': {need}, more than the {available / 1e9:.1f} GB of "
            f"this machine; lower {lower}, or run on a machine with more memory"
        )
    if peak > WARN_FRACTION * available:
        return (
            f"{need}, close to the {available / 1e9:.1f} GB of this machine: jobs may swap "
            f"or be killed; lower {lower}, or run fewer jobs at once (--cores)"
        )
    return None
