"""Benchmarks of the pipeline: one table of ratios, each measured side by side in this run.

    python bench/run.py [--device auto|cpu|cuda] [--repeat 3] [--only 1,3]
                        [--markdown PATH] [--json PATH] [--results results] [--study-log LOG]

Rows: 1 training (FLOP rate vs matmul peak, local vs backprop), 2 one condition through
Snakemake vs in-process, 3 eigen-spectrum variants, 4 planning (dry-run CPU time), 5 the
default study's wall time vs its FLOP floor, plus peak RSS and disk use of an existing run (6),
7 each attack method's analysed condition vs its floor, 8 one snapshot analysis.
Reduced sizes are said so in the notes under the table. About 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path


def _config(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def main() -> int:
    from harness import ROOT, SRC

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per timing (median)")
    parser.add_argument("--only", default="1,2,3,4,5,7", help="rows to run, e.g. 1,3")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    parser.add_argument(
        "--results", type=Path, default=ROOT / "results", help="results/ of an existing run"
    )
    parser.add_argument("--study-log", type=Path, help="Snakemake log of a full default run")
    parser.add_argument(
        "--preset-log",
        type=Path,
        help="Snakemake log of a whole run of config/paper-cpu.yaml (row 9)",
    )
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()

    config = _config(args.config)
    threads = int(config.get("threads", 2))
    # Snakemake limits a job's BLAS to its threads through these variables; the in-process
    # side of every ratio must use the same count. Set before numpy is first imported.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    sys.path.insert(0, str(SRC))  # a fresh clone without `pip install -e .` works too

    import torch
    from harness import Context, log, render, skipped, to_json

    torch.set_num_threads(threads)
    if args.device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no GPU")
    else:
        device = args.device
    only = {part.strip() for part in args.only.split(",")}
    tic = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="manifold-bench-") as scratch:
        ctx = Context(
            device=device,
            threads=threads,
            repeat=max(1, args.repeat),
            scratch=Path(scratch),
            results=args.results,
            study_log=args.study_log,
            config=config,
            preset_log=args.preset_log,
        )
        rows = []
        for key, module in (
            ("1", "bench_training"),
            ("2", "bench_workflow"),
            ("3", "bench_spectrum"),
            ("4", "bench_planning"),
            ("5", "bench_study"),
            ("7", "bench_conditions"),
        ):
            if key not in only:
                continue
            try:
                rows += __import__(module).measure(ctx)
            except Exception as err:  # one broken row must not lose the others' numbers
                log(f"row {key} failed: {err!r}")
                rows.append(skipped(key, module, "-", f"error {type(err).__name__}: {err}"))
    elapsed = time.perf_counter() - tic
    load_end = os.getloadavg()[0]
    ctx.note(
        f"Whole benchmark: {elapsed:.0f} s wall. Load average (1 min) {load_start:.1f} at the "
        f"start, {load_end:.1f} at the end, on {os.cpu_count()} CPUs"
        + (
            ": other processes competed for the CPUs, which inflates timings of many small "
            "operations on 2 threads (training steps, LAPACK) more than those of big products."
            if max(load_start, load_end) > (os.cpu_count() or 1) * 0.75
            else "."
        )
    )
    today = datetime.date.today().isoformat()
    header = (
        f"manifold-smoothness benchmarks  {today}  device: {ctx.device_name}  "
        f"torch {torch.__version__}"
    )
    text = render(rows, header, ctx.notes)
    print(text, end="")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "date": today,
            "device": ctx.device_name,
            "torch": torch.__version__,
            "threads": threads,
            "repeat": ctx.repeat,
            "elapsed_s": elapsed,
        }
        args.json.write_text(to_json(rows, meta, ctx.notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
