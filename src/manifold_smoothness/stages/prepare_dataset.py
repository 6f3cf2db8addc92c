"""Stage prepare_dataset: the train and test splits of one dataset, as parquet."""

from __future__ import annotations

import logging

log = logging.getLogger("manifold_smoothness")


def prepare_dataset(job) -> None:
    from manifold_smoothness import data

    p = job.params
    source = data.prepare_dataset(
        job.wildcards.dataset,
        p.source,
        p.root,
        p.download,
        p.train_subset,
        p.test_subset,
        job.output.train,
        job.output.test,
    )
    log.info("wrote %s and %s from source %s", job.output.train, job.output.test, source)
