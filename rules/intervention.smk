# The spectral intervention (config `intervention`; baseline null = none): every network that
# differs from the baseline only in training.spectral_penalty gets its per-sample minimum
# adversarial distance measured, and one verdict says whether a larger measured alpha goes with
# a larger robustness at matched clean accuracy (table, figure and a markdown section).
rule measure_robustness:
    input:
        in_study,
        model=f"{SEED_DIR}/model.pt",
        test=f"{DATA_DIR}/test.parquet",
    output:
        robustness=ROBUSTNESS_FILE,
    log:
        log_path("measure_robustness", PER_SEED),
    benchmark:
        benchmark_path("measure_robustness", PER_SEED)
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        robustness=canonical(config["intervention"]["robustness"]),
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        code=stage_code("measure_robustness"),
    script:
        stage_script("measure_robustness")


rule check_intervention:
    input:
        in_study,
        summaries=intervention_summaries,
        robustness=robustness_files,
        audits=intervention_audits,
    output:
        **figure_output(
            "intervention", directory=STUDY_FIGURE_DIR, category="Across networks"
        ),
        json=f"{STUDY_FIGURE_DIR}/intervention.json",
        md=f"{STUDY_FIGURE_DIR}/intervention.md",
    log:
        log_path("check_intervention", "{dataset}"),
    benchmark:
        benchmark_path("check_intervention", "{dataset}")
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        family=canonical(INTERVENTION),
        baseline=config["intervention"]["baseline"],
        verdict=canonical(config["intervention"]["verdict"]),
        code=stage_code("check_intervention"),
    script:
        stage_script("check_intervention")
