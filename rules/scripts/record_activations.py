"""Rule record_activations: hidden activations of the clean or attacked test set."""

from _job import run

from manifold_smoothness.stages.record_activations import record_activations

run(snakemake, record_activations, torch_threads=True)  # noqa: F821  (snakemake is injected by the script directive)
