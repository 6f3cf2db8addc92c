"""Stage plot_spectra: the clean eigen-spectra of every layer with their fits."""

from __future__ import annotations

import pandas as pd

from manifold_smoothness.stages import check_provenance, read_summary


def plot_spectra(job) -> None:
    from manifold_smoothness import figures
    from manifold_smoothness.storage import read_table, table_metadata

    w = job.wildcards
    spectra = []
    for path, seed in zip(job.input.spectra, job.params.seeds, strict=True):
        table = read_table(path)
        expected = {"dataset": w.dataset, "model": w.model, "seed": seed, "attack": "clean"}
        check_provenance(path, table_metadata(table), expected)
        spectra.append(table.to_pandas()[["layer", "rank", "eigenvalue"]].assign(seed=seed))
    clean = read_summary(job.input.summary).query("attack == 'clean'")
    fig = figures.plot_spectra(pd.concat(spectra, ignore_index=True), clean, floor=job.params.floor)
    figures.save_figure(fig, job.output.pdf, job.output.png)
