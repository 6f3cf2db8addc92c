"""Stage of plot_layers, plot_<attack> and plot_accuracy_alpha: figures of the summary alone."""

from __future__ import annotations

from manifold_smoothness.stages import read_summary


def plot_summary_figure(job) -> None:
    """plot_layers, plot_<attack>, plot_accuracy_alpha: figures of the summary table alone."""
    from manifold_smoothness import figures
    from manifold_smoothness.study import ATTACKS

    summary, figure = read_summary(job.input.summary), job.params.figure
    if figure == "layers":
        fig = figures.plot_layers(summary)
    elif figure == "accuracy_alpha":
        fig = figures.plot_accuracy_alpha(summary)
    elif figure in ATTACKS:
        fig = figures.plot_attack(summary, attack=figure)
    else:
        raise ValueError(f"figure {figure!r} is not drawn from the summary alone")
    figures.save_figure(fig, job.output.pdf, job.output.png)
