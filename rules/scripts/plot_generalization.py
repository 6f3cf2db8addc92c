"""Rule plot_generalization: clean accuracy against alpha across every model of a dataset."""

from _job import run

from manifold_smoothness.stages.plot_generalization import plot_generalization

run(snakemake, plot_generalization)  # noqa: F821  (snakemake is injected by the script directive)
