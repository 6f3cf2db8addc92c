"""Rule measure_robustness: the minimum adversarial distances of one seed's final network."""

from _job import run

from manifold_smoothness.stages.measure_robustness import measure_robustness

run(snakemake, measure_robustness)  # noqa: F821  (snakemake is injected by the script directive)
