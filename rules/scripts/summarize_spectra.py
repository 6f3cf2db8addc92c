"""Rule summarize_spectra: power-law fits of every spectrum of one model."""

from _job import run

from manifold_smoothness.stages.summarize_spectra import summarize_spectra

run(snakemake, summarize_spectra)  # noqa: F821  (snakemake is injected by the script directive)
