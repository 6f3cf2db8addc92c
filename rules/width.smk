# The claims against width, when the study holds paper networks of at least two widths (a width
# sweep, e.g. config/width-sweep.yaml): each network checked alone, one figure and its table.
rule plot_width_sweep:
    input:
        in_study,
        summaries=model_summaries,
    output:
        **figure_output("width", directory=STUDY_FIGURE_DIR, category="Across networks"),
        json=f"{STUDY_FIGURE_DIR}/width.json",
    log:
        log_path("plot_width_sweep", "{dataset}"),
    benchmark:
        benchmark_path("plot_width_sweep", "{dataset}")
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        widths=WIDTHS,
        thresholds=canonical(
            {k: v for k, v in config["claims"].items() if k != "input_dimension"}
        ),
        input_dimension=config["claims"]["input_dimension"],
        code=stage_code("plot_width_sweep"),
    script:
        stage_script("plot_width_sweep")
