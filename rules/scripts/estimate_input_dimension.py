"""Rule estimate_input_dimension: TwoNN intrinsic dimension of the test images."""

from _job import run

from manifold_smoothness.stages.estimate_input_dimension import estimate_input_dimension

run(snakemake, estimate_input_dimension)  # noqa: F821  (snakemake is injected by the script directive)
