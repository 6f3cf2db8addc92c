"""Rule plot_attack: one attack sweep of one model."""

from _job import run

from manifold_smoothness.stages.plot_attack import plot_attack

run(snakemake, plot_attack)  # noqa: F821  (snakemake is injected by the script directive)
