"""Row 4: what Snakemake spends planning, before any job runs.

4a: CPU time (user + sys of the child) of `snakemake -n` on a 10-model x 10-seed sweep of the
config's first model (its architecture, snapshots and attacks), against a bare Snakefile
generated from that very dry run: the same rules, file patterns and job count, with no input
functions, params, code hashes or schema (with logs, benchmarks and groups, and a minimal one
without them; the row reports the harder comparison).
4b: `snakemake -n` of the default study where every output exists and is up to date (made with
`snakemake --touch`): the cost of asking "anything to do?", beside the same no-op of a bare
Snakefile of the same jobs, which is what Snakemake itself needs for them on this machine.
"""

from __future__ import annotations

import importlib.util
import json
import re
import resource
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bench_workflow import job_stats, workflow_copy
from harness import WITHIN_NOISE, Context, Row, log, median_interval, skipped, verdict

N_MODELS, N_SEEDS = 10, 10
# Rounds of row 4a: one dry run's CPU time varies by up to 20 % from run to run here, more than
# the distance to the target, so the row is the median of paired ratios.
ROUNDS = 7
TARGET_RATIO = 1.3
BARE_NAMES = {"bare": "input/output, logs, benchmarks, groups", "minimal": "input/output only"}
FIELDS = ("input", "output", "log", "benchmark", "wildcards")


def dry_run(workdir: Path, *args: str) -> tuple[str, float]:
    """stdout of `snakemake -n` and the CPU seconds (user + sys) of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--dry-run", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(
            f"snakemake -n {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result.stdout + result.stderr, cpu


def paired_cpu(sides: dict[str, tuple[Path, tuple[str, ...]]], rounds: int) -> dict:
    """CPU seconds of each side's dry run, `rounds` times, the sides in turn and the order
    rotated each round, so that a burst of load or a slow spell hits every side alike."""
    names = list(sides)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            folder, args = sides[name]
            cpu[name].append(dry_run(folder, *args)[1])
    return cpu


def paired_ratios(cpu: dict[str, list[float]], side: str, base: str) -> list[float]:
    """Round by round, the CPU time of `side` over that of `base` (from paired_cpu)."""
    return [a / b for a, b in zip(cpu[side], cpu[base], strict=True)]


def planned_jobs(output: str) -> list[dict]:
    """Every job of a dry run's listing: rule, group, input, output, log, benchmark, wildcards.
    Jobs of a group are listed indented under a "Group job <name>" line."""
    jobs, job, group = [], None, None
    for line in output.splitlines():
        grouped = re.search(r"Group job (\S+) ", line)
        if grouped:
            group = grouped.group(1)
            continue
        head = re.match(r"^(\s*)(?:local)?rule (\S+):$", line)
        if head:
            group = group if head.group(1) else None
            job = {"rule": head.group(2), "group": group}
            jobs.append(job)
            continue
        field = re.match(r"^\s+(\w+): (.*)$", line)
        if job is not None and field and field.group(1) in FIELDS:
            name, value = field.groups()
            if name == "wildcards":
                job[name] = dict(item.split("=", 1) for item in value.split(", "))
            else:
                job[name] = value.split(", ")
    return jobs


def _holds(segment: str, text: str) -> bool:
    """A path segment that is `text`, alone or before a suffix (model.md, 0.25.log)."""
    return segment == text or segment.startswith(text + ".")


def prefixed_names(files: list[str], wildcards: dict[str, str]) -> set[str]:
    """Wildcards that a job's files hold after their name, as in seed0: their value alone (a
    seed's 0 beside a strength's 0) is not theirs."""
    segments = {segment for f in files for segment in f.split("/")}
    return {
        name
        for name, value in wildcards.items()
        if any(_holds(segment, name + value) for segment in segments)
    }


def pattern(path: str, wildcards: dict[str, str], prefixed: set[str]) -> str:
    """A job's file back as a rule's pattern: path segments that hold a wildcard's value, after
    its name for the `prefixed` wildcards (seed0), alone or before a suffix for the others
    (snapshots/2, model.md)."""
    parts = []
    for segment in path.split("/"):
        for name, value in sorted(wildcards.items(), key=lambda kv: -len(kv[1])):
            prefix = name if name in prefixed else ""
            if _holds(segment, prefix + value):
                segment = f"{prefix}{{{name}}}{segment[len(prefix + value) :]}"
                break
        parts.append(segment)
    return "/".join(parts)


def named_by(files: list[str], name: str) -> bool:
    """Whether wildcard `name` is a file's whole name in these patterns ({attack}.pdf)."""
    return any(re.fullmatch(rf"\{{{name}\}}(\..*)?", f.rsplit("/", 1)[-1]) for f in files)


def minimal(jobs: list[dict]) -> list[dict]:
    """The jobs with their input and output files only: no log, benchmark or group."""
    keep = ("rule", "input", "output", "wildcards")
    return [{**{k: v for k, v in job.items() if k in keep}, "group": None} for job in jobs]


def bare_snakefile(jobs: list[dict]) -> str:
    """One plain rule per rule of the dry run (its first job generalised), `all` first. A
    wildcard that is a whole file name ({attack}.pdf beside training.pdf) is limited to the
    values the rule's jobs gave it, as the real rule limits it."""
    first: dict[str, dict] = {}
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for job in jobs:
        first.setdefault(job["rule"], job)
        for name, value in job.get("wildcards", {}).items():
            seen[job["rule"]][name].add(value)
    names = sorted({n for job in first.values() for n in job.get("wildcards", {})})
    lines = ["wildcard_constraints:"]
    digits, segment = r"\d+", "[^/]+"
    lines += [f'    {n}=r"{digits if n == "seed" else segment}",' for n in names]
    order = sorted(first, key=lambda rule: rule != "all")
    for rule in order:
        job, wildcards = first[rule], first[rule].get("wildcards", {})
        fields = ("input", "output", "log", "benchmark")
        prefixed = prefixed_names([f for field in fields for f in job.get(field, [])], wildcards)
        lines += ["", "", f"rule {rule}:"]
        for field in fields:
            files = [pattern(f, wildcards, prefixed) for f in job.get(field, [])]
            if files:
                lines.append(f"    {field}: " + ", ".join(json.dumps(f) for f in files))
            if field == "output" and (
                limited := [n for n in sorted(wildcards) if named_by(files, n)]
            ):
                lines.append("    wildcard_constraints:")
                lines += [
                    f"        {n}={json.dumps('|'.join(map(re.escape, sorted(seen[rule][n]))))},"
                    for n in limited
                ]
        if job["group"]:
            lines.append(f"    group: {json.dumps(job['group'])}")
        if rule != "all":
            lines.append('    shell: "touch {output}"')
    return "\n".join(lines) + "\n"


def sweep_config(config: dict) -> dict:
    """N_MODELS copies of the first model (every attack and snapshot of it) x N_SEEDS seeds."""
    base = config["models"][0]
    models = [{**base, "name": f"{base['name']}-{i}"} for i in range(N_MODELS)]
    return {"models": models, "seeds": list(range(N_SEEDS))}


def measure(ctx: Context) -> list[Row]:
    if importlib.util.find_spec("snakemake") is None:
        return [
            skipped("4", "snakemake -n CPU time", "-", "snakemake not installed"),
        ]
    import yaml

    log(f"row 4a: dry runs of a {N_MODELS}-model x {N_SEEDS}-seed sweep, real and bare")
    real = workflow_copy(ctx, "sweep")
    (real / "sweep.yaml").write_text(yaml.safe_dump(sweep_config(ctx.config)))
    out_real, _ = dry_run(real, "--configfile", "sweep.yaml")
    jobs = planned_jobs(out_real)
    n_real = job_stats(out_real).get("total", len(jobs))
    sides = {"real": (real, ("--configfile", "sweep.yaml"))}
    bare_jobs = {}
    for kind, planned in (("bare", jobs), ("minimal", minimal(jobs))):
        folder = ctx.scratch / kind
        folder.mkdir()
        (folder / "Snakefile").write_text(bare_snakefile(planned))
        out_bare, _ = dry_run(folder)  # also the warm-up of this side
        bare_jobs[kind] = job_stats(out_bare).get("total", -1)
        if bare_jobs[kind] != n_real:
            ctx.note(
                f"4a: the {kind} Snakefile plans {bare_jobs[kind]} jobs, the real one {n_real}."
            )
        sides[kind] = (folder, ())
    rounds = max(ROUNDS, ctx.repeat)
    log(f"row 4a: {rounds} rounds of the three dry runs, in turn")
    cpu = paired_cpu(sides, rounds)
    ratios = {kind: paired_ratios(cpu, "real", kind) for kind in sides if kind != "real"}
    median = {kind: statistics.median(values) for kind, values in ratios.items()}
    interval = {kind: median_interval(values) for kind, values in ratios.items()}
    harder = max(median, key=median.get)
    same = all(n == n_real for n in bare_jobs.values())
    # both bare files: under the target only if both intervals are, over it if either is
    verdicts = {verdict(*interval[kind][:2], TARGET_RATIO) for kind in ratios}
    if not same or False in verdicts:
        ok = False
    else:
        ok = True if verdicts == {True} else WITHIN_NOISE

    def described(kind: str) -> str:
        lo, hi, coverage = interval[kind]
        return (
            f"{median[kind]:.2f} vs {BARE_NAMES[kind]} ({coverage:.0%} interval {lo:.2f}-"
            f"{hi:.2f}, range {min(ratios[kind]):.2f}-{max(ratios[kind]):.2f}; "
            f"{statistics.median(cpu['real']):.1f} / {statistics.median(cpu[kind]):.1f} s)"
        )

    rows = [
        Row(
            "4a",
            f"snakemake -n CPU, {N_MODELS} models x {N_SEEDS} seeds / bare Snakefile, "
            f"median of {rounds} paired rounds, the harder of two",
            f"{described(harder)}, {n_real} jobs; "
            + "; ".join(described(k) for k in median if k != harder),
            f"<= {TARGET_RATIO}",
            ok,
            {
                "real_cpu_s": cpu["real"],
                "bare_cpu_s": {k: cpu[k] for k in ratios},
                "ratios": ratios,
                "median": median,
                "interval": interval,
                "jobs": n_real,
                "bare_jobs": bare_jobs,
            },
        )
    ]
    rows.append(_noop(ctx))
    ctx.note(
        "4: CPU = user + sys of the snakemake child (getrusage RUSAGE_CHILDREN). 4a: one warm-"
        "up each, then rounds of the real and both bare dry runs in turn (the order rotated "
        "each round); the ratio is the median of the rounds' ratios, with a distribution-free "
        "interval of that median (order statistics) and the range; ok is yes when both "
        "intervals lie under the target, no when either lies over it, else within noise. 4b: the "
        "same rounds of the real and a bare no-op. The bare Snakefile is generated from the "
        "real dry run: per rule, the first job's input, output, log and benchmark files and its"
        " group, with its wildcard values put back as {wildcards} (one that is a whole file "
        "name, like {attack}.pdf, limited to the values of the rule's jobs, as the real rule "
        "limits it); `shell: touch`, nothing else. The minimal one keeps only the input and "
        "output files. The row gives the larger of the two median ratios."
    )
    return rows


def _touched(workdir: Path, jobs: list[dict]) -> str | None:
    """Create every output of `jobs` in workdir and mark it up to date (snakemake --touch);
    the error text if that failed."""
    for job in jobs:
        for name in job.get("output", []):
            path = workdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    touched = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--touch"],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    return None if touched.returncode == 0 else touched.stderr[-2000:]


def _noop(ctx: Context) -> Row:
    """Dry run of the default study with every output present and up to date, beside the same
    no-op of a bare Snakefile of the same jobs (Snakemake's own floor for them)."""
    measure_name = "snakemake -n CPU, default study, nothing to do"
    log("row 4b: the default study's outputs (snakemake --touch), then its no-op dry run")
    workdir = workflow_copy(ctx, "noop")
    out, _ = dry_run(workdir)
    jobs = planned_jobs(out)
    bare = ctx.scratch / "noop-bare"
    bare.mkdir()
    (bare / "Snakefile").write_text(bare_snakefile(jobs))
    for folder in (workdir, bare):
        failed = _touched(folder, jobs)
        if failed:
            return skipped("4b", measure_name, "< 3 s", f"snakemake --touch failed: {failed}")
    # the warm-up, whose listing says whether there is nothing to do (the rounds change nothing)
    outputs = [dry_run(folder)[0] for folder in (workdir, bare)]
    rounds = max(ROUNDS, ctx.repeat)
    cpus = paired_cpu({"real": (workdir, ()), "bare": (bare, ())}, rounds)
    cpu, floor = statistics.median(cpus["real"]), statistics.median(cpus["bare"])
    ratio = statistics.median(paired_ratios(cpus, "real", "bare"))
    nothing = all("Nothing to be done" in o for o in outputs)
    left = job_stats(outputs[0]).get("total", 0)
    return Row(
        "4b",
        measure_name,
        f"{cpu:.2f} s ({len(jobs)} jobs up to date"
        + ("" if nothing else f"; NOT a no-op: {left} jobs planned")
        + f"); a bare Snakefile of the same jobs {floor:.2f} s (ratio {ratio:.2f}, median of "
        f"{rounds} paired rounds)",
        "< 3 s",
        cpu < 3 and nothing,
        {
            "cpu_s": cpu,
            "bare_cpu_s": floor,
            "ratio": ratio,
            "rounds": cpus,
            "jobs": len(jobs),
            "nothing_to_do": nothing,
        },
    )
