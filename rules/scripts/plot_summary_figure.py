"""Rule plot_summary_figure: one figure drawn from the summary table alone."""

from _job import run

from manifold_smoothness.stages.plot_summary_figure import plot_summary_figure

run(snakemake, plot_summary_figure)  # noqa: F821  (snakemake is injected by the script directive)
