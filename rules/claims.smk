rule estimate_input_dimension:
    input:
        in_study,
        test=f"{DATA_DIR}/test.parquet",
    output:
        dimension=f"{DATA_DIR}/input_dimension.json",
    log:
        log_path("estimate_input_dimension", "{dataset}"),
    benchmark:
        benchmark_path("estimate_input_dimension", "{dataset}")
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        samples=config["analysis"]["samples"],
        code=stage_code("estimate_input_dimension"),
    script:
        stage_script("estimate_input_dimension")


rule check_claims:
    input:
        in_study,
        summary=f"{MODEL_DIR}/summary.parquet",
        dimension=f"{DATA_DIR}/input_dimension.json",
    output:
        md="results/claims/{dataset}/{model}.md",
        json="results/claims/{dataset}/{model}.json",
        # the report shows HTML in the page (Markdown would only be a download link there)
        html=report(
            "results/claims/{dataset}/{model}.html",
            caption="captions/claims.rst",
            category="{model}",
        ),
    log:
        log_path("check_claims", PER_MODEL),
    benchmark:
        benchmark_path("check_claims", PER_MODEL)
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
        code=stage_code("check_claims"),
    script:
        stage_script("check_claims")


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
        log_path("record_config", "record_config"),
    benchmark:
        benchmark_path("record_config", "record_config")
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    params:
        config=canonical(config),
        code=stage_code("record_config"),
    script:
        stage_script("record_config")
