"""Rule plot_<figure>: one figure of vocabulary.FIGURES drawn from the study's tables."""

from _job import run

from manifold_smoothness.stages.plot_figure import plot_figure

run(snakemake, plot_figure)  # noqa: F821  (snakemake is injected by the script directive)
