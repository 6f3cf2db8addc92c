# One rule per figure; each figure is its own target (PDF + PNG) and part of the report.


rule plot_training:
    input:
        in_study,
        training=seed_files("training.parquet"),
    output:
        **figure_output("training"),
    log:
        log_path("plot_training", PER_MODEL),
    benchmark:
        benchmark_path("plot_training", PER_MODEL)
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seeds=config["seeds"],
        code=stage_code("plot_training"),
    script:
        stage_script("plot_training")


rule plot_spectra:
    input:
        in_study,
        spectra=seed_files("clean/0/spectrum.parquet"),
        summary=SUMMARY_FILE,
    output:
        **figure_output("spectra"),
    log:
        log_path("plot_spectra", PER_MODEL),
    benchmark:
        benchmark_path("plot_spectra", PER_MODEL)
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seeds=config["seeds"],
        floor=config["analysis"]["eigenvalue_floor"],
        code=stage_code("plot_spectra"),
    script:
        stage_script("plot_spectra")


# plot_layers, plot_trajectory, plot_accuracy_alpha: figures drawn from the summary table alone
# differ only in the figure name, so one definition makes the rules (study.SUMMARY_FIGURES).
for figure in SUMMARY_FIGURES:

    rule:
        name:
            f"plot_{figure}"
        input:
            in_study,
            summary=SUMMARY_FILE,
        output:
            **figure_output(figure),
        log:
            log_path(f"plot_{figure}", PER_MODEL),
        benchmark:
            benchmark_path(f"plot_{figure}", PER_MODEL)
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            figure=figure,
            attacks=lambda w: targets.model_conditions(config, w.model)[1:],
            shape_limits=shape_limits() if figure == "accuracy_alpha" else None,
            code=stage_code("plot_summary_figure"),
        script:
            stage_script("plot_summary_figure")


# One sweep figure per attack of a model (the attack's name is the figure's).
rule plot_attack:
    input:
        in_sweep_of_wildcard,
        summary=SUMMARY_FILE,
    output:
        **figure_output("{attack}", caption="attack"),
    log:
        log_path("plot_attack", f"{PER_MODEL}/{{attack}}"),
    benchmark:
        benchmark_path("plot_attack", f"{PER_MODEL}/{{attack}}")
    wildcard_constraints:
        attack="|".join(CONDITIONS[1:]) or "(?!)",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        shape_limits=shape_limits(),
        code=stage_code("plot_attack"),
    script:
        stage_script("plot_attack")


# Clean accuracy against alpha across every model of a dataset.
rule plot_generalization:
    input:
        in_study,
        summaries=model_summaries,
    output:
        **figure_output(
            "generalization", directory=STUDY_FIGURE_DIR, category="Across networks"
        ),
    log:
        log_path("plot_generalization", "{dataset}"),
    benchmark:
        benchmark_path("plot_generalization", "{dataset}")
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=stage_code("plot_generalization"),
    script:
        stage_script("plot_generalization")


rule figures:
    input:
        targets.figure_files(config),
