# One job per (model, seed, attack), like the activations it reads: compute_spectrum_<attack>.
for attack in CONDITIONS:
    if not targets.grid(config, attack):
        continue

    rule:
        name:
            f"compute_spectrum_{attack}"
        input:
            in_study,
            activations=targets.sweep_files(config, attack, "activations.parquet"),
            model=f"{SEED_DIR}/model.pt",
        output:
            spectra=targets.sweep_files(config, attack, "spectrum.parquet"),
        log:
            log_path(f"compute_spectrum_{attack}", PER_SEED),
        benchmark:
            benchmark_path(f"compute_spectrum_{attack}", PER_SEED)
        group:
            "analysis"
        conda:
            "../envs/pipeline.yaml"
        threads: config["threads"]
        resources:
            mem_mb=4000,
            runtime=10 + 2 * len(targets.grid(config, attack)),
        params:
            # what each input's path says it holds, checked against the file's own metadata
            conditions=lambda wildcards, attack=attack: targets.sweep_conditions(
                config, attack, wildcards
            ),
            device=config["device"],
            code=stage_code("compute_spectrum"),
        script:
            stage_script("compute_spectrum")


# A condition file outside the study (a strength not in its attack's grid, an unknown attack)
# matches no rule above; this one matches exactly those and refuses them at DAG time with the
# config key to change, instead of Snakemake's bare "no rule to produce".
rule refuse_condition_outside_study:
    input:
        in_study,
    output:
        f"{SEED_DIR}/{{condition}}/{{file}}",
    log:
        log_path("refuse_condition_outside_study", f"{PER_SEED}/{{condition}}/{{file}}"),
    wildcard_constraints:
        condition=targets.outside_study_pattern(config),
        file="activations.parquet|spectrum.parquet",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    shell:
        "false  # never runs: in_study refuses every target of this rule"


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
