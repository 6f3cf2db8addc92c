"""Stage of plot_layers, plot_trajectory and plot_accuracy_alpha: figures of one model's summary
alone."""

from __future__ import annotations

from manifold_smoothness.stages import read_summary


def plot_summary_figure(job) -> None:
    from manifold_smoothness import figures

    summary, figure = read_summary(job.input.summary), job.params.figure
    if figure == "layers":
        fig = figures.plot_layers(summary)
    elif figure == "trajectory":
        fig = figures.plot_trajectory(summary)
    elif figure == "accuracy_alpha":
        fig = figures.plot_accuracy_alpha(summary, job.params.attacks, job.params.shape_limits)
    else:
        raise ValueError(f"figure {figure!r} is not drawn from the summary alone")
    figures.save_figure(fig, job.output.pdf, job.output.png)
