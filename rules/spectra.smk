rule compute_spectrum:
    input:
        activations="results/{dataset}/{model}/seed{seed}/{attack}/{strength}/activations.parquet",
        model="results/{dataset}/{model}/seed{seed}/model.pt",
    output:
        spectrum="results/{dataset}/{model}/seed{seed}/{attack}/{strength}/spectrum.parquet",
    log:
        "results/logs/compute_spectrum/{dataset}/{model}/seed{seed}/{attack}/{strength}.log",
    benchmark:
        "results/benchmarks/compute_spectrum/{dataset}/{model}/seed{seed}/{attack}/{strength}.tsv"
    group:
        "analysis"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        code=code_version("model", "activations", "spectrum"),
    script:
        "scripts/stage.py"


rule summarize_spectra:
    input:
        spectra=lambda wildcards: condition_files(
            "spectrum.parquet", wildcards.dataset, wildcards.model
        ),
    output:
        summary="results/{dataset}/{model}/summary.parquet",
    log:
        "results/logs/summarize_spectra/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/summarize_spectra/{dataset}/{model}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        fit_window=config["analysis"]["fit_window"],
        short_window=config["analysis"]["short_window"],
        floor=config["analysis"]["eigenvalue_floor"],
        attacks=canonical({a: config["attacks"][a]["strengths"] for a in ATTACKS}),
        code=code_version("spectrum", "summary"),
    script:
        "scripts/stage.py"


rule summarize:
    input:
        [f"results/{d}/{m}/summary.parquet" for d, m in all_models()],
