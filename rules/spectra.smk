# One job per (model, seed, attack), like the activations it reads: compute_spectrum_<attack>.
for attack in CONDITIONS:

    rule:
        name:
            f"compute_spectrum_{attack}"
        input:
            in_sweep(attack),
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
            jackknife_blocks=config["analysis"]["jackknife_blocks"],
            device=config["device"],
            code=stage_code("compute_spectrum"),
        script:
            stage_script("compute_spectrum")


# The clean test images at every snapshot of training: activations (in memory), spectrum with
# its jackknife blocks, readout accuracy, input dimension and the linear probe of every layer.
rule analyse_snapshot:
    input:
        in_study,
        snapshots=f"{SEED_DIR}/snapshots.pt",
        train=f"{DATA_DIR}/train.parquet",
        test=f"{DATA_DIR}/test.parquet",
    output:
        spectrum=f"{SNAPSHOT_DIR}/spectrum.parquet",
        probe=f"{SNAPSHOT_DIR}/probe.parquet",
    log:
        log_path("analyse_snapshot", PER_SNAPSHOT),
    benchmark:
        benchmark_path("analyse_snapshot", PER_SNAPSHOT)
    group:
        "analysis"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=20,
    params:
        seed=lambda wildcards: int(wildcards.seed),
        epoch=lambda wildcards: float(wildcards.epoch),
        samples=config["analysis"]["samples"],
        dimension_samples=config["analysis"]["dimension_samples"],
        jackknife_blocks=config["analysis"]["jackknife_blocks"],
        probe=probe_params(),
        device=config["device"],
        code=stage_code("analyse_snapshot"),
    script:
        stage_script("analyse_snapshot")


# The linear probe of every layer of the final model (its snapshots have theirs above).
rule fit_probe:
    input:
        in_study,
        model=f"{SEED_DIR}/model.pt",
        train=f"{DATA_DIR}/train.parquet",
        test=f"{DATA_DIR}/test.parquet",
    output:
        probe=f"{SEED_DIR}/probe.parquet",
    log:
        log_path("fit_probe", PER_SEED),
    benchmark:
        benchmark_path("fit_probe", PER_SEED)
    group:
        "analysis"
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=20,
    params:
        seed=lambda wildcards: int(wildcards.seed),
        samples=config["analysis"]["samples"],
        probe=probe_params(),
        device=config["device"],
        code=stage_code("fit_probe"),
    script:
        stage_script("fit_probe")


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
        file="activations.parquet|spectrum.parquet|probe.parquet",
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
        snapshot_spectra=lambda w: targets.snapshot_files(
            config, "spectrum.parquet", w.dataset, w.model
        ),
        probes=lambda w: targets.probe_files(config, w.dataset, w.model),
    output:
        summary=SUMMARY_FILE,
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
        snapshots=lambda w: targets.snapshot_wildcards(config, w.dataset, w.model),
        probes=lambda w: targets.probe_wildcards(config, w.dataset, w.model),
        model=model_config,
        fit_window=config["analysis"]["fit_window"],
        short_window=config["analysis"]["short_window"],
        floor=config["analysis"]["eigenvalue_floor"],
        # method, target and grid of every attack swept on the model
        attacks=lambda w: canonical(
            {a: config["attacks"][a] for a in targets.model_attacks(config, w.model)}
        ),
        code=stage_code("summarize_spectra"),
    script:
        stage_script("summarize_spectra")


rule summarize:
    input:
        targets.summary_files(config),
