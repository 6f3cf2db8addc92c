rule train_model:
    input:
        train="results/data/{dataset}/train.parquet",
        test="results/data/{dataset}/test.parquet",
    output:
        model="results/{dataset}/{model}/seed{seed}/model.pt",
        training="results/{dataset}/{model}/seed{seed}/training.parquet",
    log:
        "results/logs/train_model/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/seed{seed}.tsv"
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
        checkpoint=lambda wildcards: checkpoint_path(wildcards),
        code=code_version("data", "model", "training"),
    script:
        "scripts/stage.py"


rule train:
    input:
        [
            f"{SEED_DIR}/model.pt".format(dataset=d, model=m, seed=s)
            for d, m in all_models()
            for s in config["seeds"]
        ],
