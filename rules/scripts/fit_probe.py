"""Rule fit_probe: the linear probe of every layer of the final model."""

from _job import run

from manifold_smoothness.stages.fit_probe import fit_probe

run(snakemake, fit_probe, torch_threads=True)  # noqa: F821  (snakemake is injected by the script directive)
