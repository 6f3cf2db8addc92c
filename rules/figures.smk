# One rule per figure; each figure is its own target (PDF + PNG) and part of the report.


SUMMARY = "results/{dataset}/{model}/summary.parquet"


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


rule plot_layers:
    input:
        summary=SUMMARY,
    output:
        **figure_output("layers"),
    log:
        "results/logs/plot_layers/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_layers/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code_version("figures"),
    script:
        "scripts/stage.py"


# plot_gaussian and plot_fgsm: one figure layout, one rule per attack
for attack in ATTACKS:

    rule:
        name:
            f"plot_{attack}"
        input:
            summary=SUMMARY,
        output:
            **figure_output(attack),
        log:
            f"results/logs/plot_{attack}/{{dataset}}/{{model}}.log",
        benchmark:
            f"results/benchmarks/plot_{attack}/{{dataset}}/{{model}}.tsv"
        conda:
            "../envs/pipeline.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            attack=attack,
            code=code_version("figures"),
        script:
            "scripts/stage.py"


rule plot_accuracy_alpha:
    input:
        summary=SUMMARY,
    output:
        **figure_output("accuracy_alpha"),
    log:
        "results/logs/plot_accuracy_alpha/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_accuracy_alpha/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code_version("figures"),
    script:
        "scripts/stage.py"


rule figures:
    input:
        figure_targets(),
