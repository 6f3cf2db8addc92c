rule train_model:
    input:
        in_study,
        train=f"{DATA_DIR}/train.parquet",
        test=f"{DATA_DIR}/test.parquet",
    output:
        model=f"{SEED_DIR}/model.pt",
        training=f"{SEED_DIR}/training.parquet",
        # the weights at every training.snapshots point (an empty bundle without snapshots)
        snapshots=f"{SEED_DIR}/snapshots.pt",
    log:
        log_path("train_model", PER_SEED),
    benchmark:
        benchmark_path("train_model", PER_SEED)
    conda:
        "../envs/pipeline.yaml"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=240,
    params:
        model=model_config,
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        # not an output: Snakemake deletes the outputs of a failed job, the checkpoint must stay
        checkpoint=checkpoint_path,
        code=stage_code("train_model"),
    script:
        stage_script("train_model")


rule train:
    input:
        [
            f
            for d, m in all_models()
            for f in targets.seed_files(config, "model.pt", d, m)
        ],
