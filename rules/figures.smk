# One rule per figure of vocabulary.FIGURES drawn from the study's tables, plot_<figure>: its
# input follows the figure's `inputs`, its params its `options`, its outputs its `scope` (one per
# model, per attack of a model, or per dataset); stages/plot_figure.py draws it. The width and
# intervention figures come with the stages that make their tables.
for figure, spec in FIGURES.items():
    if spec.inputs is None:
        continue

    rule:
        name:
            f"plot_{figure}"
        input:
            in_sweep_of_wildcard if spec.scope == "attack" else in_study,
            **figure_inputs(spec),
        output:
            **figure_outputs(figure, spec),
        log:
            log_path(f"plot_{figure}", FIGURE_LOGS[spec.scope]),
        benchmark:
            benchmark_path(f"plot_{figure}", FIGURE_LOGS[spec.scope])
        wildcard_constraints:
            **figure_constraints(spec),
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            **figure_params(spec),
            figure=figure,
            code=figure_code(spec),
        script:
            stage_script("plot_figure")


rule figures:
    input:
        targets.figure_files(config),
