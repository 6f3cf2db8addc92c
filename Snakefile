# Manifold smoothness and adversarial vulnerability of local-error networks
# (Jiang, Zhou & Huang 2021). Every output lives under results/; see README.md.
import sys

from snakemake.utils import min_version, validate

# the workflow's own package, also where Snakemake runs without it installed (conda, SLURM)
sys.path.insert(0, f"{workflow.basedir}/src")

from manifold_smoothness.config import drop_removed_attacks, refuse_renamed_keys
from manifold_smoothness.config_files import check_config_files

min_version("9.0")

# strictly, before Snakemake's loader (which keeps the last of two equal keys) is relied on
check_config_files(["config.yaml", *workflow.overwrite_configfiles])


configfile: "config.yaml"


drop_removed_attacks(config)  # an attack set to null in a --configfile leaves the study
refuse_renamed_keys(config)  # a key of an earlier version: say what replaced it


validate(config, "rules/schemas/config.schema.yaml", set_default=True)


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/activations.smk"
include: "rules/spectra.smk"
include: "rules/figures.smk"
include: "rules/audit.smk"
include: "rules/width.smk"
include: "rules/intervention.smk"
include: "rules/claims.smk"


rule all:
    default_target: True
    input:
        targets.all_targets(config)
        + audit_files()
        + width_files()
        + intervention_files(),
