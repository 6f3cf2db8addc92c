"""Rule compute_spectrum: eigenvalues and readout accuracy of every layer."""

from _job import run

from manifold_smoothness.stages.compute_spectrum import compute_spectrum

run(snakemake, compute_spectrum)  # noqa: F821  (snakemake is injected by the script directive)
