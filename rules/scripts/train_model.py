"""Rule train_model: train one seed of one model (resumable)."""

from _job import run

from manifold_smoothness.stages.train_model import train_model

run(snakemake, train_model, torch_threads=True)  # noqa: F821  (snakemake is injected by the script directive)
