"""Stage plot_generalization: clean accuracy against alpha across every model of a dataset."""

from __future__ import annotations

from manifold_smoothness.stages import read_summary


def plot_generalization(job) -> None:
    import pandas as pd

    from manifold_smoothness import figures

    summary = pd.concat([read_summary(path) for path in job.input.summaries], ignore_index=True)
    figures.save_figure(figures.plot_generalization(summary), job.output.pdf, job.output.png)
