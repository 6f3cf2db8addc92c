"""Rule plot_spectra: the spectra figure of one model."""

from _job import run

from manifold_smoothness.stages.plot_spectra import plot_spectra

run(snakemake, plot_spectra)  # noqa: F821  (snakemake is injected by the script directive)
