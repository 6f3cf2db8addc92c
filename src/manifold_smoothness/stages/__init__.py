"""Pipeline stages: one function per Snakemake rule, named like the rule.

A rule's script (rules/scripts/<stage>.py) calls `run(snakemake, <stage function>)`. A stage
receives the job (the `snakemake` object, or any namespace with the same attributes: input,
output, params, wildcards, threads, log, rule) and reads only those, never the config, so the
params rerun trigger sees every value a result depends on. I/O happens in the stages; the
logic lives in the library modules they call.

Every job is a fresh Python process, so each stage imports only what it needs: torch costs about
1 s and matplotlib or scipy.stats about 0.5 s per job, most of a small job's time.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("manifold_smoothness")


class ProvenanceError(RuntimeError):
    """A readable file is not the result its path names (another seed's, another model's...)."""


def run(job: Any, stage: Callable[[Any], None], torch_threads: bool = False) -> None:
    """Log to stderr and the job's log file, limit BLAS's and torch's threads to the job's, run
    `stage`.

    `torch_threads`: the stage uses torch (limit its intra-op threads to `job.threads`)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if job.log:
        handlers.append(logging.FileHandler(job.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    # numpy's BLAS would start a thread per core in every job: Snakemake runs as many jobs as
    # it has cores, each promised job.threads of them
    from threadpoolctl import threadpool_limits

    threadpool_limits(max(1, int(job.threads)))
    if torch_threads:
        import torch

        torch.set_num_threads(max(1, int(job.threads)))
    log.info("rule %s, wildcards %s", job.rule, dict(job.wildcards.items()))
    try:
        stage(job)
    except Exception:
        log.exception("rule %s failed", job.rule)
        raise


def read_summary(path: Any):
    """The summary table of one model as a pandas DataFrame."""
    from manifold_smoothness.storage import read_table

    return read_table(path).to_pandas()


def read_seed_tables(paths: Any):
    """The per-seed tables at `paths` (audit or robustness files) as one pandas DataFrame, each
    row with the model and seed its file's metadata names; None for no paths."""
    import pandas as pd

    from manifold_smoothness.storage import read_table, table_metadata

    frames = []
    for path in paths:
        table = read_table(path)
        meta = table_metadata(table)
        frames.append(table.to_pandas().assign(model=meta["model"], seed=int(meta["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else None


def final_model_and_test_images(job, samples: int | None):
    """The seed's final network (provenance checked, on the job's device) and a
    class-stratified subset of `samples` test images (None: all): (model, x, y, keep,
    expected), x and y on the CPU, `keep` the subset's indices into the test split and
    `expected` the provenance (dataset, model, seed) that the job's output carries."""
    from manifold_smoothness import data
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model_with_metadata

    w = job.wildcards
    expected = {"dataset": w.dataset, "model": w.model, "seed": job.params.seed}
    model, meta = load_model_with_metadata(job.input.model)
    check_provenance(job.input.model, meta, expected)
    model = model.to(resolve_device(job.params.device))
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, samples)
    x, y = data.split_tensors(test)
    return model, x[keep], y[keep], keep, expected


def check_provenance(path: Any, metadata: Mapping[str, str], expected: Mapping[str, Any]) -> None:
    """Raise ProvenanceError when a file's metadata contradicts what its path says it holds.

    Values are compared as text; strengths and epochs as numbers where both are numbers (the
    metadata writes '0.1', the path may say '0.1' or '0.10')."""
    for key, want in expected.items():
        have = metadata.get(key)
        if have is None:
            raise ProvenanceError(
                f"{path} has no '{key}' in its metadata, so it was not written by this "
                "pipeline; delete it and rerun snakemake"
            )
        same = _same_value(key, have, want)
        if not same:
            raise ProvenanceError(
                f"{path} holds {key} {have!r}, but its path says {want!r}: it was copied or "
                "moved from another result; delete it and rerun snakemake"
            )


def _same_value(key: str, have: Any, want: Any) -> bool:
    if key in ("strength", "epoch"):
        try:
            return float(have) == float(want)
        except ValueError:
            pass
    return str(have) == str(want)
