"""What every benchmark row shares: the run context, timers, the matmul peak and the table.

A row is a ratio of two things measured side by side in the same run (never a number compared
with one from another day), printed beside its target. Timings are medians over repeats with
`time.perf_counter`, synchronising the GPU around each one when the work runs there.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# The ok of a row whose interval holds its target: repeats on this machine cannot tell.
WITHIN_NOISE = "within noise"


@dataclass
class Row:
    """One line of the table: `value` is measured, `ok` compares it with `target` (None: the
    row has no target here, e.g. a CPU target on a GPU, or it was skipped)."""

    id: str
    measure: str
    value: str
    target: str
    ok: bool | str | None  # str: WITHIN_NOISE
    data: dict = field(default_factory=dict)

    @property
    def ok_text(self) -> str:
        return {True: "yes", False: "no", None: "-"}.get(self.ok, self.ok)


def median_interval(values: Sequence[float], confidence: float = 0.8) -> tuple[float, ...]:
    """(low, high, coverage): a distribution-free interval of the median of repeated
    measurements, between two order statistics x_(k) and x_(n+1-k), whose coverage is
    1 - 2 P(Binomial(n, 1/2) <= k - 1): the narrowest with coverage >= confidence, or the whole
    range with the coverage it has when there are too few values (3 give 75 %, 7 give 87.5 %
    for the 2nd and 6th). Written here because scipy's quantile_test returns NaN in that case
    rather than the coverage reached."""
    x, n = sorted(values), len(values)

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n

    k = max((k for k in range(1, (n + 1) // 2 + 1) if coverage(k) >= confidence), default=1)
    return x[k - 1], x[n - k], coverage(k)


def verdict(low: float, high: float, target: float) -> bool | str:
    """ok of an upper-bound target for a measurement known to lie in [low, high]."""
    return True if high <= target else False if low > target else WITHIN_NOISE


def skipped(id_: str, measure: str, target: str, why: str) -> Row:
    return Row(id_, measure, f"skipped: {why}", target, None, {"skipped": why})


@dataclass
class Context:
    """The run: device, thread count, repeats, a scratch folder and the notes of every row."""

    device: str  # "cpu" or "cuda"
    threads: int
    repeat: int
    scratch: Path
    results: Path  # results/ of an existing run (row 5 and the "also" rows read it)
    study_log: Path | None
    config: dict
    preset_log: Path | None = None
    notes: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    def note(self, text: str) -> None:
        self.notes.append(text)

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    @cached_property
    def device_name(self) -> str:
        if self.cuda:
            import torch

            return f"cuda ({torch.cuda.get_device_name()}; CPU work: {self.threads} threads)"
        return f"cpu ({cpu_model()}, {self.threads} threads of {os.cpu_count()})"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def log(message: str) -> None:
    """Progress on stderr, so stdout holds the table alone."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object], sync: Callable[[], None] | None = None) -> float:
    """Seconds of one call of fn, with the device synchronised before and after."""
    if sync:
        sync()
    tic = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - tic


def interleaved(
    fns: Sequence[Callable[[], object]],
    repeat: int,
    sync: Callable[[], None] | None = None,
    warmup: int = 1,
) -> list[float]:
    """Median seconds of each fn, run round-robin (A B C A B C ...) so that a burst of load
    from elsewhere on a shared machine hits every side of a ratio alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, samples in zip(fns, times, strict=True):
            samples.append(timed(fn, sync))
    return [statistics.median(samples) for samples in times]


def matmul_peak(ctx: Context, dtype_name: str = "float32", device: str | None = None) -> dict:
    """Median FLOP rate of torch.mm of square matrices, at the size that peaks (cached).

    The rate of one size is the median over ctx.repeat products; the peak is the best size."""
    import torch

    device = device or ctx.device
    key = ("peak", dtype_name, device)
    if key in ctx.cache:
        return ctx.cache[key]
    dtype = getattr(torch, dtype_name)
    if device == "cuda":
        sizes = (2048, 4096, 8192)
    else:  # float64 peaks at smaller sizes, and 4096^3 in float64 would take seconds per product
        sizes = (1024, 2048, 4096) if dtype_name == "float32" else (1024, 2048)
    sync = torch.cuda.synchronize if device == "cuda" else None
    rates = {}
    for n in sizes:
        a = torch.randn(n, n, dtype=dtype, device=device)
        b = torch.randn(n, n, dtype=dtype, device=device)
        (seconds,) = interleaved([lambda a=a, b=b: torch.mm(a, b)], max(3, ctx.repeat), sync)
        rates[n] = 2 * n**3 / seconds
    best = max(rates, key=rates.get)
    ctx.cache[key] = {"flops": rates[best], "size": best, "by_size": rates}
    return ctx.cache[key]


def flop_rate(rate: float) -> str:
    return f"{rate / 1e9:.0f} GFLOP/s" if rate < 1e12 else f"{rate / 1e12:.1f} TFLOP/s"


# ---------------------------------------------------------------------------------------------
# the table


def render(rows: Sequence[Row], header: str, notes: Sequence[str]) -> str:
    """The table as Markdown (also what the terminal shows)."""
    lines = [header, "", "| # | measure | value | target | ok |", "|---|---|---|---|---|"]
    for row in rows:
        cells = (row.id, row.measure, row.value, row.target, row.ok_text)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def to_json(rows: Sequence[Row], header: dict, notes: Sequence[str]) -> str:
    payload = {
        **header,
        "rows": [
            {
                "id": r.id,
                "measure": r.measure,
                "value": r.value,
                "target": r.target,
                "ok": r.ok,
                "data": r.data,
            }
            for r in rows
        ],
        "notes": list(notes),
    }
    return json.dumps(payload, indent=2, default=str) + "\n"
