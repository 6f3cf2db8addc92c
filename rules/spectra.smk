rule compute_spectrum:
    input:
        activations=CONDITION_DIR + "/activations.parquet",
        model=SEED_DIR + "/model.pt",
    output:
        spectrum=CONDITION_DIR + "/spectrum.parquet",
    params:
        code=code_version("model", "activations", "spectrum"),
    log:
        "results/logs/compute_spectrum/{dataset}/{model}/seed{seed}/{attack}/{strength}.log",
    benchmark:
        "results/benchmarks/compute_spectrum/{dataset}/{model}/seed{seed}/{attack}/{strength}.tsv"
    group:
        "analysis"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule summarize_spectra:
    input:
        spectra=lambda wildcards: condition_files(
            "spectrum.parquet", wildcards.dataset, wildcards.model
        ),
    output:
        summary="results/{dataset}/{model}/summary.parquet",
    params:
        fit_window=config["analysis"]["fit_window"],
        short_window=config["analysis"]["short_window"],
        floor=config["analysis"]["eigenvalue_floor"],
        attacks={attack: config["attacks"][attack]["strengths"] for attack in ATTACKS},
        code=code_version("spectrum", "summary"),
    log:
        "results/logs/summarize_spectra/{dataset}/{model}.log",
    benchmark:
        "results/benchmarks/summarize_spectra/{dataset}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule summarize:
    input:
        [f"results/{d}/{m}/summary.parquet" for d, m in all_models()],
