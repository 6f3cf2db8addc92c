rule estimate_input_dimension:
    input:
        test="results/data/{dataset}/test.parquet",
    output:
        dimension="results/data/{dataset}/input_dimension.json",
    log:
        "results/logs/estimate_input_dimension/{dataset}.log",
    benchmark:
        "results/benchmarks/estimate_input_dimension/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        samples=config["analysis"]["samples"],
        code=code_version("data", "intrinsic"),
    script:
        "scripts/stage.py"


rule check_claims:
    input:
        summary="results/{dataset}/{model}/summary.parquet",
        dimension="results/data/{dataset}/input_dimension.json",
    output:
        md=report(
            "results/claims/{dataset}/{model}.md",
            caption="captions/claims.rst",
            category="{model}",
        ),
        json="results/claims/{dataset}/{model}.json",
    log:
        "results/logs/check_claims/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/check_claims/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        thresholds=canonical(
            {k: v for k, v in config["claims"].items() if k != "input_dimension"}
        ),
        input_dimension=config["claims"]["input_dimension"],
        code=code_version("claims"),
    script:
        "scripts/stage.py"


rule claims:
    input:
        [f"results/claims/{d}/{m}.md" for d, m in all_models()],


rule record_config:
    output:
        config=report(
            "results/config.yaml",
            caption="captions/config.rst",
            category="Configuration",
        ),
    log:
        "results/logs/record_config/record_config.log",
    benchmark:
        "results/benchmarks/record_config/record_config.tsv"
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    params:
        config=canonical(config),
    script:
        "scripts/stage.py"
