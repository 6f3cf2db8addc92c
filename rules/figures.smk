# One rule per figure; each figure is its own target (PDF + PNG) and part of the report.


SUMMARY = "results/{dataset}/{model}/summary.parquet"
SUMMARY_FIGURES = ("layers", *ATTACKS, "accuracy_alpha")


rule plot_training:
    input:
        training=lambda wildcards: seed_files("training.parquet", wildcards),
    output:
        **figure_output("training"),
    log:
        "results/logs/plot_training/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_training/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seeds=config["seeds"],
        code=code_version("figures"),
    script:
        "scripts/stage.py"


rule plot_spectra:
    input:
        spectra=lambda wildcards: seed_files("clean/0/spectrum.parquet", wildcards),
        summary=SUMMARY,
    output:
        **figure_output("spectra"),
    log:
        "results/logs/plot_spectra/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_spectra/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        floor=config["analysis"]["eigenvalue_floor"],
        code=code_version("figures"),
    script:
        "scripts/stage.py"


# plot_layers, plot_gaussian, plot_fgsm, plot_accuracy_alpha: figures drawn from the summary
# table alone differ only in the figure name, so one definition makes the four rules.
for figure in SUMMARY_FIGURES:

    rule:
        name:
            f"plot_{figure}"
        input:
            summary=SUMMARY,
        output:
            **figure_output(figure),
        log:
            f"results/logs/plot_{figure}/{{dataset}}/{{model}}.log",
        benchmark:
            f"results/benchmarks/plot_{figure}/{{dataset}}/{{model}}.tsv"
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            figure=figure,
            code=code_version("figures"),
        script:
            "scripts/stage.py"


rule figures:
    input:
        figure_targets(),
