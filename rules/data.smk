rule prepare_dataset:
    output:
        train="results/data/{dataset}/train.parquet",
        test="results/data/{dataset}/test.parquet",
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
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
        code=code_version("data"),
    script:
        "scripts/stage.py"
