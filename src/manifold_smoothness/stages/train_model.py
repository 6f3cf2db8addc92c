"""Stage train_model: train one seed of one model with its learning rule, and keep its weights
at every configured snapshot (resumable, see training.py)."""

from __future__ import annotations

import json
import logging
import time

log = logging.getLogger("manifold_smoothness")


def split_id(metadata: dict[str, str]) -> str:
    """Identity of a prepared split: its source file's hash, row count and requested subset."""
    return "{source_sha256}:{n_rows}:{subset_requested}".format(**metadata)


def train_model(job) -> None:
    from manifold_smoothness import data
    from manifold_smoothness.training import train, write_outputs
    from manifold_smoothness.vocabulary import ModelConfig, TrainConfig, rule_of

    p, w = job.params, job.wildcards
    train_split, test_split = data.read_split(job.input.train), data.read_split(job.input.test)
    tic = time.perf_counter()
    model, rows = train(
        ModelConfig.from_spec(p.model),
        TrainConfig.from_spec(p.model),
        p.seed,
        data.split_tensors(train_split),
        data.split_tensors(test_split),
        p.checkpoint,
        device=p.device,
        data_id=split_id(train_split.metadata),
        test_id=split_id(test_split.metadata),
        code_id=p.code,
        snapshot_out=job.output.snapshots,
        snapshot_meta={"dataset": w.dataset, "model": w.model},
    )
    meta = {
        "dataset": w.dataset,
        "model": w.model,
        "seed": p.seed,
        "rule": rule_of(p.model),
        "train_rows": len(train_split.labels),
        "train_config": json.dumps(p.model, sort_keys=True),
    }
    write_outputs(model.cpu(), rows, job.output.model, job.output.training, meta)
    log.info("training finished in %.1f s", time.perf_counter() - tic)
