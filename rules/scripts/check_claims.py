"""Rule check_claims: the paper's claims checked on one model's summary."""

from _job import run

from manifold_smoothness.stages.check_claims import check_claims

run(snakemake, check_claims)  # noqa: F821  (snakemake is injected by the script directive)
