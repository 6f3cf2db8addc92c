# One rule per figure; each figure is its own target (PDF + PNG) and part of the report.


def figure_output(name):
    caption = f"captions/{name}.rst"
    return {
        "pdf": f"{FIGURE_DIR}/{name}.pdf",
        "png": report(f"{FIGURE_DIR}/{name}.png", caption=caption, category="{model}"),
    }


SUMMARY = "results/{dataset}/{model}/summary.parquet"


rule plot_training:
    input:
        training=lambda wildcards: seed_files("training.parquet", wildcards),
    output:
        **figure_output("training"),
    params:
        seeds=config["seeds"],
        code=code_version("figures"),
    log:
        "results/logs/plot_training/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_training/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule plot_spectra:
    input:
        spectra=lambda wildcards: seed_files("clean/0/spectrum.parquet", wildcards),
        summary=SUMMARY,
    output:
        **figure_output("spectra"),
    params:
        code=code_version("figures"),
    log:
        "results/logs/plot_spectra/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_spectra/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule plot_layers:
    input:
        summary=SUMMARY,
    output:
        **figure_output("layers"),
    params:
        code=code_version("figures"),
    log:
        "results/logs/plot_layers/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_layers/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule plot_attack:
    input:
        summary=SUMMARY,
    output:
        **figure_output("{attack}"),
    params:
        code=code_version("figures"),
    wildcard_constraints:
        attack="gaussian|fgsm",
    log:
        "results/logs/plot_attack/{dataset}/{model}/{attack}.log",
    benchmark:
        "results/benchmarks/plot_attack/{dataset}/{model}/{attack}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule plot_accuracy_alpha:
    input:
        summary=SUMMARY,
    output:
        **figure_output("accuracy_alpha"),
    params:
        code=code_version("figures"),
    log:
        "results/logs/plot_accuracy_alpha/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/plot_accuracy_alpha/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule figures:
    input:
        figure_targets(),
