rule record_activations:
    input:
        model=SEED_DIR + "/model.pt",
        test="results/data/{dataset}/test.parquet",
    output:
        activations=activations_output(),
    params:
        attack=lambda wildcards: wildcards.attack,
        strength=lambda wildcards: float(wildcards.strength),
        seed=lambda wildcards: int(wildcards.seed),
        target=config["attacks"]["fgsm"]["target"],
        samples=config["analysis"]["samples"],
        device=config["device"],
        code=code_version("data", "model", "attacks", "activations"),
    wildcard_constraints:
        attack="gaussian|fgsm",
    log:
        "results/logs/record_activations/{dataset}/{model}/seed{seed}/{attack}/{strength}.log",
    benchmark:
        "results/benchmarks/record_activations/{dataset}/{model}/seed{seed}/{attack}/{strength}.tsv"
    group:
        "analysis"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


# The clean condition (strength 0 of every attack) is kept even when swept ones are temporary.
use rule record_activations as record_clean_activations with:
    output:
        activations=CONDITION_DIR + "/activations.parquet",
    wildcard_constraints:
        attack="clean",
        strength="0",
