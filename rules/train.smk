rule train_model:
    input:
        train="results/data/{dataset}/train.parquet",
        test="results/data/{dataset}/test.parquet",
    output:
        model=SEED_DIR + "/model.pt",
        training=SEED_DIR + "/training.parquet",
    params:
        model=model_config,
        seed=lambda wildcards: int(wildcards.seed),
        device=config["device"],
        # not an output: Snakemake deletes the outputs of a failed job, the checkpoint must stay
        checkpoint=lambda wildcards: SEED_DIR.format(**wildcards) + "/checkpoint.pt",
        code=code_version("data", "model", "training"),
    log:
        "results/logs/train_model/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/seed{seed}.tsv"
    threads: config["threads"]
    resources:
        mem_mb=6000,
        runtime=240,
    conda:
        "../envs/pipeline.yaml"
    script:
        "scripts/stage.py"


rule train:
    input:
        [
            f"{SEED_DIR}/model.pt".format(dataset=d, model=m, seed=s)
            for d, m in all_models()
            for s in config["seeds"]
        ],
