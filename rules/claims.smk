# One claims check per dataset: claim 1 compares networks (rules, controls, snapshots), so it
# reads the summaries of every model of the dataset.
rule check_claims:
    input:
        in_study,
        summaries=model_summaries,
        audits=lambda wildcards: audit_files(wildcards.dataset),
    output:
        md=f"{CLAIMS_DIR}/{{dataset}}.md",
        json=f"{CLAIMS_DIR}/{{dataset}}.json",
        # the report shows HTML in the page (Markdown would only be a download link there)
        html=report(
            f"{CLAIMS_DIR}/{{dataset}}.html",
            caption="captions/claims.rst",
            category="Claims",
        ),
    log:
        log_path("check_claims", "{dataset}"),
    benchmark:
        benchmark_path("check_claims", "{dataset}")
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
        targets.claims_files(config),


rule record_config:
    output:
        config=report(
            RUN_CONFIG,
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
