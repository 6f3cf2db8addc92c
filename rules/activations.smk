rule record_activations:
    input:
        in_study,
        model=f"{SEED_DIR}/model.pt",
        test=f"{DATA_DIR}/test.parquet",
    output:
        activations=activations_output(),
    log:
        log_path("record_activations", PER_CONDITION),
    benchmark:
        benchmark_path("record_activations", PER_CONDITION)
    wildcard_constraints:
        attack="|".join(ATTACKS),
    group:
        "analysis"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        attack=lambda wildcards: wildcards.attack,
        strength=lambda wildcards: float(wildcards.strength),
        seed=lambda wildcards: int(wildcards.seed),
        # only FGSM depends on the target: changing it must not rerun the other conditions
        target=lambda wildcards: fgsm_target(wildcards.attack),
        samples=config["analysis"]["samples"],
        device=config["device"],
        code=stage_code("record_activations"),
    script:
        stage_script("record_activations")


# The clean condition (strength 0 of every attack) is kept even when swept ones are temporary.
use rule record_activations as record_clean_activations with:
    output:
        activations=f"{CONDITION_DIR}/activations.parquet",
    log:
        log_path("record_clean_activations", PER_CONDITION),
    benchmark:
        benchmark_path("record_clean_activations", PER_CONDITION)
    wildcard_constraints:
        attack=CLEAN,
        strength="0",
