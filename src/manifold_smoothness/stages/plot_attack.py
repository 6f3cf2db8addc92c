"""Stage plot_attack: accuracy, alpha and D of every layer against the strength of one attack."""

from __future__ import annotations

from manifold_smoothness.stages import read_summary


def plot_attack(job) -> None:
    from manifold_smoothness import figures

    summary = read_summary(job.input.summary)
    fig = figures.plot_attack(summary, job.wildcards.attack, job.params.shape_limits)
    figures.save_figure(fig, job.output.pdf, job.output.png)
