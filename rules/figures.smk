# One rule per figure; each figure is its own target (PDF + PNG) and part of the report.


SUMMARY = f"{MODEL_DIR}/summary.parquet"


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
        summary=SUMMARY,
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


# plot_layers, plot_<attack>, plot_accuracy_alpha: figures drawn from the summary table alone
# differ only in the figure name, so one definition makes the rules (study.SUMMARY_FIGURES).
for figure in SUMMARY_FIGURES:

    rule:
        name:
            f"plot_{figure}"
        input:
            in_study,
            summary=SUMMARY,
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
            code=stage_code("plot_summary_figure"),
        script:
            stage_script("plot_summary_figure")


rule figures:
    input:
        targets.figure_files(config),
