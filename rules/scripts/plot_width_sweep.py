"""Rule plot_width_sweep: the paper's claims against the width of a width sweep's networks."""

from _job import run

from manifold_smoothness.stages.plot_width_sweep import plot_width_sweep

run(snakemake, plot_width_sweep)  # noqa: F821  (snakemake is injected by the script directive)
