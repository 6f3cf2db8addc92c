rule prepare_dataset:
    input:
        in_study,
    output:
        train=f"{DATA_DIR}/train.parquet",
        test=f"{DATA_DIR}/test.parquet",
    log:
        log_path("prepare_dataset", "{dataset}"),
    benchmark:
        benchmark_path("prepare_dataset", "{dataset}")
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        source=config["dataset"]["source"],
        root=config["dataset"]["root"],
        download=config["dataset"]["download"],
        train_subset=config["dataset"]["train_subset"],
        test_subset=config["dataset"]["test_subset"],
        code=stage_code("prepare_dataset"),
    script:
        stage_script("prepare_dataset")
