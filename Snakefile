# Manifold smoothness and adversarial vulnerability of local-error networks
# (Jiang, Zhou & Huang 2021). Every output lives under results/; see README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "rules/schemas/config.schema.yaml", set_default=True)


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/activations.smk"
include: "rules/spectra.smk"
include: "rules/figures.smk"
include: "rules/claims.smk"


rule all:
    default_target: True
    input:
        all_targets(),
