rule record_activations:
    input:
        model="results/{dataset}/{model}/seed{seed}/model.pt",
        test="results/data/{dataset}/test.parquet",
    output:
        activations=activations_output(),
    log:
        "results/logs/record_activations/{dataset}/{model}/seed{seed}/{attack}/{strength}.log",
    benchmark:
        "results/benchmarks/record_activations/{dataset}/{model}/seed{seed}/{attack}/{strength}.tsv"
    wildcard_constraints:
        attack="gaussian|fgsm",
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
        code=code_version("data", "model", "attacks", "activations"),
    script:
        "scripts/stage.py"


# The clean condition (strength 0 of every attack) is kept even when swept ones are temporary.
use rule record_activations as record_clean_activations with:
    output:
        activations="results/{dataset}/{model}/seed{seed}/{attack}/{strength}/activations.parquet",
    wildcard_constraints:
        attack="clean",
        strength="0",
