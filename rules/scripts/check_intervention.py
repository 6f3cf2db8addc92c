"""Rule check_intervention: the spectral intervention's verdict, table and figure."""

from _job import run

from manifold_smoothness.stages.check_intervention import check_intervention

run(snakemake, check_intervention)  # noqa: F821  (snakemake is injected by the script directive)
