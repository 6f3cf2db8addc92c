rule compute_spectrum:
    input:
        in_study,
        activations=f"{CONDITION_DIR}/activations.parquet",
        model=f"{SEED_DIR}/model.pt",
    output:
        spectrum=f"{CONDITION_DIR}/spectrum.parquet",
    log:
        log_path("compute_spectrum", PER_CONDITION),
    benchmark:
        benchmark_path("compute_spectrum", PER_CONDITION)
    group:
        "analysis"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        code=stage_code("compute_spectrum"),
    script:
        stage_script("compute_spectrum")


rule summarize_spectra:
    input:
        in_study,
        spectra=lambda w: targets.condition_files(
            config, "spectrum.parquet", w.dataset, w.model
        ),
    output:
        summary=f"{MODEL_DIR}/summary.parquet",
    log:
        log_path("summarize_spectra", PER_MODEL),
    benchmark:
        benchmark_path("summarize_spectra", PER_MODEL)
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # what each input's path says it holds, checked against the file's own metadata
        conditions=lambda w: targets.condition_wildcards(config, w.dataset, w.model),
        fit_window=config["analysis"]["fit_window"],
        short_window=config["analysis"]["short_window"],
        floor=config["analysis"]["eigenvalue_floor"],
        attacks=canonical({a: config["attacks"][a]["strengths"] for a in ATTACKS}),
        code=stage_code("summarize_spectra"),
    script:
        stage_script("summarize_spectra")


rule summarize:
    input:
        [
            f"{MODEL_DIR}/summary.parquet".format(dataset=d, model=m)
            for d, m in all_models()
        ],
