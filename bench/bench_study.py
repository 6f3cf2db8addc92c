"""Row 5: the default study's wall time beside its floor; rows 6: peak memory and disk of a run.

The floor is the study's arithmetic at this machine's measured rates, per model and stage
(training, snapshot analysis, the final model's probe, the input conditions), from the FLOP
model of manifold_smoothness.budget (which the Snakefile prints before a run): network FLOPs at
the float32 matmul peak of the device (row 1), covariance FLOPs (with the jackknife's block
scatters), probe fits and TwoNN's pairwise distances at the CPU's float64 peak (numpy and the
probe's CPU fits, float64), and the measured eigensolves (1 + B per spectrum). The wall time
of a study cannot be measured within the benchmark: it is read from a finished run (its
Snakemake log and results/benchmarks/), if there is one.
"""

from __future__ import annotations

import copy
import csv
import datetime
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from harness import Context, Row, flop_rate, interleaved, log, matmul_peak

RSS_LIMIT_MB = 4096  # 4 GB per job (Snakemake's max_rss is in MB)
DISK_LIMIT = 3e9


def floor_terms(
    ctx: Context, peak32: float, peak64: float, eig_1000: float
) -> dict[str, list[tuple]]:
    """Model name -> (stage, FLOPs, seconds, formula) of every stage of that model in the
    default study (manifold_smoothness.budget, the model the Snakefile prints before a run),
    at the device's float32 peak, the CPU's float64 peak and the measured eigensolve."""
    from manifold_smoothness.budget import Rates
    from manifold_smoothness.budget import floor_terms as budget_terms

    return budget_terms(ctx.config, Rates(net=peak32, cpu64=peak64, eig_1000=eig_1000))


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


def rule_seconds(rows: list[dict]) -> dict[str, list[float]]:
    """Rule -> the seconds of each of its jobs, from benchmark_rows (results/benchmarks/<rule>/)."""
    seconds: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        seconds[Path(row["path"]).parts[0]].append(float(row["s"]))
    return dict(sorted(seconds.items()))


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
        ctx.note(
            "5: job seconds in results/benchmarks (rule: jobs, sum): "
            + ", ".join(f"{r}: {len(v)}, {sum(v):.0f} s" for r, v in rule_seconds(bench).items())
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
    rows.append(_preset(ctx, peak32, peak64, eig))
    return rows


PRESET = "config/paper-cpu.yaml"
PRESET_TARGET_MIN = 30


def _preset(ctx: Context, peak32: float, peak64: float, eig: float) -> Row:
    """Row 9: the paper-width preset's wall time (from the log of a whole run of it) beside its
    floor on the cores of this machine."""
    import yaml
    from harness import ROOT
    from snakemake.utils import update_config, validate

    from manifold_smoothness.budget import Rates
    from manifold_smoothness.budget import floor_terms as budget_terms
    from manifold_smoothness.config import drop_removed_attacks

    config = copy.deepcopy(ctx.config)
    update_config(config, yaml.safe_load((ROOT / PRESET).read_text()))  # as --configfile does
    drop_removed_attacks(config)
    validate(config, str(ROOT / "rules" / "schemas" / "config.schema.yaml"), set_default=True)
    rates = Rates(net=peak32, cpu64=peak64, eig_1000=eig)
    cores = os.cpu_count() or 1
    floor = sum(t[2] for terms in budget_terms(config, rates).values() for t in terms) / cores
    measure_name = f"paper-width preset ({PRESET}) wall time on {cores} cores"
    target = f"<= {PRESET_TARGET_MIN} min (cpu)"
    if ctx.preset_log is None:
        value = f"not measured (pass --preset-log); floor {floor / 60:.0f} min on {cores} cores"
        return Row("9", measure_name, value, target, None, {"floor_s": floor})
    wall = log_elapsed(ctx.preset_log)
    if wall is None:
        return Row("9", measure_name, f"no elapsed time in {ctx.preset_log}", target, None)
    return Row(
        "9",
        measure_name,
        f"{wall / 60:.0f} min (floor {floor / 60:.0f} min: {wall / floor:.2f}x)",
        target,
        wall <= PRESET_TARGET_MIN * 60 if not ctx.cuda else None,
        {"wall_s": wall, "floor_s": floor, "log": str(ctx.preset_log)},
    )


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
