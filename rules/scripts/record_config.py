"""Rule record_config: the resolved configuration of the run."""

from _job import run

from manifold_smoothness.stages.record_config import record_config

run(snakemake, record_config)  # noqa: F821  (snakemake is injected by the script directive)
