"""Rule plot_training: the training figure of one model."""

from _job import run

from manifold_smoothness.stages.plot_training import plot_training

run(snakemake, plot_training)  # noqa: F821  (snakemake is injected by the script directive)
