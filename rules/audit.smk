# The strong-attack audit of every final network with attack sweeps (config `audit`; budgets
# [] = none): accuracy under FGSM, PGD and ART's APGD at a few budgets, per seed; check_claims reads
# the files and writes the checks of Carlini et al. (2019) into the claims file.
AUDIT_FILE = f"{SEED_DIR}/audit.parquet"


def audit_files(dataset=None):
    """audit.parquet of every seed of every model with attack sweeps (of one dataset if given);
    none when audit.budgets is empty."""
    if not audit_enabled(config):
        return []
    return [
        AUDIT_FILE.format(dataset=d, model=m, seed=s)
        for d, m in targets.models(config)
        if (dataset is None or d == dataset)
        and len(targets.model_conditions(config, m)) > 1
        for s in config["seeds"]
    ]


rule audit_attacks:
    input:
        in_study,
        model=f"{SEED_DIR}/model.pt",
        test=f"{DATA_DIR}/test.parquet",
    output:
        audit=AUDIT_FILE,
    log:
        log_path("audit_attacks", PER_SEED),
    benchmark:
        benchmark_path("audit_attacks", PER_SEED)
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        audit=canonical(config["audit"]),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        code=stage_code("audit_attacks"),
    script:
        stage_script("audit_attacks")
