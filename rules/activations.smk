# One job per (model, seed, attack) records every strength of the attack's grid (the clean
# input is the attack `clean` with the one strength 0): one process start per grid, not per
# condition. Rules record_activations_<attack>, one per configured attack with a grid.
for attack in CONDITIONS:

    rule:
        name:
            f"record_activations_{attack}"
        input:
            in_sweep(attack),
            model=f"{SEED_DIR}/model.pt",
            test=f"{DATA_DIR}/test.parquet",
        output:
            # swept activations (~150 MB each at paper scale) are temporary unless kept
            activations=activation_outputs(attack),
        log:
            log_path(f"record_activations_{attack}", PER_SEED),
        benchmark:
            benchmark_path(f"record_activations_{attack}", PER_SEED)
        group:
            "analysis"
        conda:
            "../envs/pipeline.yaml"
        threads: config["threads"]
        resources:
            mem_mb=4000,
            runtime=attack_minutes(attack),
        params:
            attack=attack,
            # the attack's own entry only: editing another attack reruns nothing here
            spec=attack_spec(attack) if attack != CLEAN else None,
            strengths=targets.grid(config, attack),
            seed=lambda wildcards: int(wildcards.seed),
            samples=config["analysis"]["samples"],
            dimension_samples=config["analysis"]["dimension_samples"],
            device=config["device"],
            code=stage_code("record_activations"),
        script:
            stage_script("record_activations")
