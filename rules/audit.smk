# The strong-attack audit of every final network with attack sweeps (config `audit`; budgets
# [] = none): accuracy under FGSM, PGD and ART's APGD at a few budgets, per seed; check_claims reads
# the files and writes the checks of Carlini et al. (2019) into the claims file.
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
