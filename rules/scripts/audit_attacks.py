"""Rule audit_attacks: the strong-attack audit of one seed's final network."""

from _job import run

from manifold_smoothness.stages.audit_attacks import audit_attacks

run(snakemake, audit_attacks)  # noqa: F821  (snakemake is injected by the script directive)
