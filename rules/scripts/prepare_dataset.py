"""Rule prepare_dataset: the train and test splits of one dataset as parquet."""

from _job import run

from manifold_smoothness.stages.prepare_dataset import prepare_dataset

run(snakemake, prepare_dataset)  # noqa: F821  (snakemake is injected by the script directive)
