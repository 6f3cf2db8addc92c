"""Stage plot_attack: accuracy, alpha and D of every layer against the strength of one attack."""

from __future__ import annotations

from manifold_smoothness.stages import read_summary


def plot_attack(job) -> None:
    from manifold_smoothness import figures

    fig = figures.plot_attack(read_summary(job.input.summary), attack=job.wildcards.attack)
    figures.save_figure(fig, job.output.pdf, job.output.png)
