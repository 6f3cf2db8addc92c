"""Stage summarize_spectra: the power-law fits of every spectrum of one model, its snapshots'
spectra and the linear probes, in one table."""

from __future__ import annotations

import json
import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def summarize_spectra(job) -> None:
    from manifold_smoothness import summary
    from manifold_smoothness.storage import read_table, table_metadata, write_table

    p = job.params

    def read(paths, expected):
        tables = []
        for path, condition in zip(paths, expected, strict=True):
            table = read_table(path)
            check_provenance(path, table_metadata(table), condition)
            tables.append((table.to_pandas(), table_metadata(table)))
        return tables

    frame = summary.summarize(
        read(job.input.spectra, p.conditions),
        read(job.input.snapshot_spectra, p.snapshots),
        read(job.input.probes, p.probes),
        p.model,
        p.fit_window,
        p.short_window,
        p.floor,
        p.attacks,
    )
    write_table(
        summary.summary_table(frame),
        job.output.summary,
        metadata={"fit_window": json.dumps(list(p.fit_window))},
    )
    log.info("summary: %d rows", len(frame))
