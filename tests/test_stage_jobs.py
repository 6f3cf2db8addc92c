"""Every stage run from a plain namespace as its job, on tiny real data: 300 MNIST training and
200 test images, a [16, 16] network trained for one epoch, two seeds, two attacks of two
strengths. The stages are chained as Snakemake chains their rules, each reading the previous
one's real output. Each job holds what its rule passes: a test below checks the jobs built here
against Snakemake's own (mock_job's) on the quick preset."""

from __future__ import annotations

import copy
import importlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
import yaml
from snakemake.utils import validate
from test_stages import job as plain_job
from threadpoolctl import threadpool_limits
from workflow_runner import ROOT, copy_workflow, quick_study

from manifold_smoothness import activations, data, targets
from manifold_smoothness.claims_spec import SHAPE_CALL_THRESHOLDS, Verdict
from manifold_smoothness.config import check_config, intervention_family
from manifold_smoothness.mock_job import MockJobError, mock_job, workflow_jobs
from manifold_smoothness.model import load_model_with_metadata, load_snapshots
from manifold_smoothness.provenance import code_hash
from manifold_smoothness.stages import check_provenance, run
from manifold_smoothness.stages.plot_figure import read_training
from manifold_smoothness.storage import read_table, table_metadata, write_table
from manifold_smoothness.study import (
    CLAIMS_DIR,
    DATA_DIR,
    FIGURE_DIR,
    MODEL_DIR,
    RUN_CONFIG,
    SEED_DIR,
    SNAPSHOT_DIR,
    STUDY_FIGURE_DIR,
    SUMMARY_FILE,
    log_path,
)
from manifold_smoothness.summary import SUMMARY_COLUMNS
from manifold_smoothness.vocabulary import CLEAN, FIGURES, MODEL_FIGURES
from manifold_smoothness.width_sweep import claims_by_width, paper_widths

DATASET, MODEL, WIDTH = "mnist", "tiny", 16
SCRIPTS = ROOT / "rules" / "scripts"
# the wildcards part of log paths, as in rules/common.smk
PER_MODEL = MODEL_DIR.removeprefix("results/")
PER_SEED = SEED_DIR.removeprefix("results/")
PER_SNAPSHOT = SNAPSHOT_DIR.removeprefix("results/")
# params that name a path: Snakemake runs a job in its workdir, these tests outside it
PATH_PARAMS = ("root", "checkpoint")


def tiny_study() -> dict:
    """The quick preset cut down to seconds, validated like the workflow's config."""
    config = quick_study()
    config["dataset"].update(train_subset=300, test_subset=200)
    training = {"lr": 3.0e-3, "batch_size": 50, "epochs": 1, "snapshots": [0, 0.5]}
    config["models"] = [
        {"name": MODEL, "hidden": [WIDTH, WIDTH], "training": training, "attacks": None}
    ]
    config["attacks"] = {name: config["attacks"][name] for name in ("gaussian", "fgsm")}
    config["analysis"].update(
        fit_window=[2, 100], short_window=[2, 20], jackknife_blocks=4, dimension_samples=100
    )
    config["analysis"]["probe"]["train_samples"] = 200
    config["audit"] = {"budgets": [0.1, 0.3], "samples": 100, "pgd_steps": 3, "apgd_iterations": 3}
    config["intervention"] = {"robustness": {"samples": 100, "bisections": 4, "pgd_steps": 3}}
    validate(config, str(ROOT / "rules" / "schemas" / "config.schema.yaml"), set_default=True)
    check_config(config)
    return config


# What each rule's job holds, as rules/*.smk declare it: (input, output, log wildcards part,
# params, threads) from the config, the job's wildcards and its variant (the attack of a
# per-attack rule, the figure of a summary figure's rule). Paths are relative to the workdir.
Spec = Callable[[dict, dict, str], tuple[dict, dict, str, dict, int]]


def canonical(value):
    """rules/common.smk's canonical: dict params with sorted keys."""
    return json.loads(json.dumps(value, sort_keys=True))


def model_config(c: dict, w: dict) -> dict:
    return canonical({k: v for k, v in targets.model_spec(c, w["model"]).items() if k != "name"})


def shape_limits(c: dict) -> dict:
    return {key: c["claims"][key] for key in SHAPE_CALL_THRESHOLDS}


def seed_file(name: str, w: dict) -> str:
    return f"{SEED_DIR}/{name}".format(**w)


def data_files(w: dict) -> dict:
    return {split: f"{DATA_DIR}/{split}.parquet".format(**w) for split in ("train", "test")}


def summary_file(w: dict) -> dict:
    return {"summary": SUMMARY_FILE.format(**w)}


def figure(name: str, w: dict, directory: str = FIGURE_DIR) -> dict:
    return {ext: f"{directory}/{name}.{ext}".format(**w) for ext in ("pdf", "png")}


def sweep(name: str, c: dict, attack: str, w: dict) -> list[str]:
    return [f.format(**w) for f in targets.sweep_files(c, attack, name)]


def spec_prepare_dataset(c, w, _):
    keys = ("source", "root", "download", "train_subset", "test_subset")
    params = {k: c["dataset"][k] for k in keys}
    return {}, data_files(w), "{dataset}", params, 1


def spec_train_model(c, w, _):
    outputs = {name: seed_file(f"{name}.pt", w) for name in ("model", "snapshots")}
    outputs["training"] = seed_file("training.parquet", w)
    params = {
        "model": model_config(c, w),
        "seed": int(w["seed"]),
        "device": c["device"],
        "checkpoint": seed_file("checkpoint.pt", w),
    }
    return data_files(w), outputs, PER_SEED, params, c["threads"]


def spec_record_activations(c, w, attack):
    inputs = {"model": seed_file("model.pt", w), "test": data_files(w)["test"]}
    params = {
        "attack": attack,
        "spec": (
            canonical({k: v for k, v in c["attacks"][attack].items() if k != "strengths"})
            if attack != CLEAN
            else None
        ),
        "strengths": targets.grid(c, attack),
        "seed": int(w["seed"]),
        "samples": c["analysis"]["samples"],
        "dimension_samples": c["analysis"]["dimension_samples"],
        "device": c["device"],
    }
    outputs = {"activations": sweep("activations.parquet", c, attack, w)}
    return inputs, outputs, PER_SEED, params, c["threads"]


def spec_compute_spectrum(c, w, attack):
    inputs = {
        "activations": sweep("activations.parquet", c, attack, w),
        "model": seed_file("model.pt", w),
    }
    params = {
        "conditions": targets.sweep_conditions(c, attack, w),
        "jackknife_blocks": c["analysis"]["jackknife_blocks"],
        "device": c["device"],
    }
    outputs = {"spectra": sweep("spectrum.parquet", c, attack, w)}
    return inputs, outputs, PER_SEED, params, c["threads"]


def spec_analyse_snapshot(c, w, _):
    inputs = {"snapshots": seed_file("snapshots.pt", w), **data_files(w)}
    outputs = {name: f"{SNAPSHOT_DIR}/{name}.parquet".format(**w) for name in ("spectrum", "probe")}
    analysis = c["analysis"]
    params = {
        "seed": int(w["seed"]),
        "epoch": float(w["epoch"]),
        "samples": analysis["samples"],
        "dimension_samples": analysis["dimension_samples"],
        "jackknife_blocks": analysis["jackknife_blocks"],
        "probe": canonical(analysis["probe"]),
        "device": c["device"],
    }
    return inputs, outputs, PER_SNAPSHOT, params, c["threads"]


def spec_fit_probe(c, w, _):
    inputs = {"model": seed_file("model.pt", w), **data_files(w)}
    params = {
        "seed": int(w["seed"]),
        "samples": c["analysis"]["samples"],
        "probe": canonical(c["analysis"]["probe"]),
        "device": c["device"],
    }
    return inputs, {"probe": seed_file("probe.parquet", w)}, PER_SEED, params, c["threads"]


def spec_summarize_spectra(c, w, _):
    d, m = w["dataset"], w["model"]
    inputs = {
        "spectra": targets.condition_files(c, "spectrum.parquet", d, m),
        "snapshot_spectra": targets.snapshot_files(c, "spectrum.parquet", d, m),
        "probes": targets.probe_files(c, d, m),
    }
    analysis = c["analysis"]
    params = {
        "conditions": targets.condition_wildcards(c, d, m),
        "snapshots": targets.snapshot_wildcards(c, d, m),
        "probes": targets.probe_wildcards(c, d, m),
        "model": model_config(c, w),
        "fit_window": analysis["fit_window"],
        "short_window": analysis["short_window"],
        "floor": analysis["eigenvalue_floor"],
        "attacks": canonical({a: c["attacks"][a] for a in targets.model_attacks(c, m)}),
    }
    return inputs, summary_file(w), PER_MODEL, params, 1


def spec_plot_figure(c, w, name):
    """plot_<name>: the figure's inputs, outputs and options as rules/figures.smk declares
    them for each figure of vocabulary.FIGURES that plot_figure draws."""
    d, m = w["dataset"], w.get("model")
    seeds = {"seeds": c["seeds"]}
    if name == "generalization":
        inputs = {"summaries": targets.summary_files(c, d)}
        outputs = figure("generalization", w, STUDY_FIGURE_DIR)
        return inputs, outputs, "{dataset}", {"figure": name, "options": {}}, 1
    if name == "attack":
        options = {"attack": w["attack"], "limits": shape_limits(c)}
        params = {"figure": name, "options": options}
        return summary_file(w), figure(w["attack"], w), f"{PER_MODEL}/{{attack}}", params, 1
    inputs, params = summary_file(w), {"options": {}}
    if name == "training":
        inputs = {"training": targets.seed_files(c, "training.parquet", d, m)}
        params = {**seeds, "options": {}}
    elif name == "spectra":
        spectra = targets.seed_files(c, "clean/0/spectrum.parquet", d, m)
        inputs = {"spectra": spectra, **summary_file(w)}
        params = {**seeds, "options": {"floor": c["analysis"]["eigenvalue_floor"]}}
    elif name == "accuracy_alpha":
        attacks = targets.model_conditions(c, m)[1:]
        params = {"options": {"attacks": attacks, "limits": shape_limits(c)}}
    return inputs, figure(name, w), PER_MODEL, {"figure": name, **params}, 1


def audit_files(c: dict, dataset: str) -> list[str]:
    """rules/audit.smk's audit_files: every seed of every model with attack sweeps."""
    if not c["audit"]["budgets"]:
        return []
    return [
        seed_file("audit.parquet", {"dataset": d, "model": m, "seed": s})
        for d, m in targets.models(c)
        if d == dataset and len(targets.model_conditions(c, m)) > 1
        for s in c["seeds"]
    ]


def spec_check_claims(c, w, _):
    outputs = {ext: f"{CLAIMS_DIR}/{{dataset}}.{ext}".format(**w) for ext in ("md", "json", "html")}
    params = {
        "thresholds": canonical({k: v for k, v in c["claims"].items() if k != "input_dimension"}),
        "input_dimension": c["claims"]["input_dimension"],
    }
    inputs = {
        "summaries": targets.summary_files(c, w["dataset"]),
        "audits": audit_files(c, w["dataset"]),
    }
    return inputs, outputs, "{dataset}", params, 1


def spec_plot_width_sweep(c, w, _):
    outputs = {**figure("width", w, STUDY_FIGURE_DIR)}
    outputs["json"] = f"{STUDY_FIGURE_DIR}/width.json".format(**w)
    params = {
        "widths": paper_widths(c["models"]),
        "thresholds": canonical({k: v for k, v in c["claims"].items() if k != "input_dimension"}),
        "input_dimension": c["claims"]["input_dimension"],
    }
    inputs = {"summaries": targets.summary_files(c, w["dataset"])}
    return inputs, outputs, "{dataset}", params, 1


def spec_audit_attacks(c, w, _):
    inputs = {"model": seed_file("model.pt", w), "test": data_files(w)["test"]}
    params = {"audit": canonical(c["audit"]), "seed": int(w["seed"]), "device": c["device"]}
    return inputs, {"audit": seed_file("audit.parquet", w)}, PER_SEED, params, c["threads"]


def intervention_models(c: dict, dataset: str) -> list[str]:
    """rules/common.smk's intervention_models: the family's models of a dataset."""
    family = intervention_family(c)
    return [m for d, m in targets.models(c) if d == dataset and m in family]


def spec_measure_robustness(c, w, _):
    inputs = {"model": seed_file("model.pt", w), "test": data_files(w)["test"]}
    params = {
        "robustness": canonical(c["intervention"]["robustness"]),
        "seed": int(w["seed"]),
        "device": c["device"],
    }
    return (
        inputs,
        {"robustness": seed_file("robustness.parquet", w)},
        PER_SEED,
        params,
        c["threads"],
    )


def spec_check_intervention(c, w, _):
    models = intervention_models(c, w["dataset"])
    inputs = {
        "summaries": [SUMMARY_FILE.format(dataset=w["dataset"], model=m) for m in models],
        "robustness": [
            seed_file("robustness.parquet", {**w, "model": m, "seed": s})
            for m in models
            for s in c["seeds"]
        ],
        "audits": [
            seed_file("audit.parquet", {**w, "model": m, "seed": s})
            for m in models
            if c["audit"]["budgets"] and len(targets.model_conditions(c, m)) > 1
            for s in c["seeds"]
        ],
    }
    outputs = {**figure("intervention", w, STUDY_FIGURE_DIR)}
    for ext in ("json", "md"):
        outputs[ext] = f"{STUDY_FIGURE_DIR}/intervention.{ext}".format(**w)
    params = {
        "family": canonical(intervention_family(c)),
        "baseline": c["intervention"]["baseline"],
        "verdict": canonical(c["intervention"]["verdict"]),
    }
    return inputs, outputs, "{dataset}", params, 1


def spec_record_config(c, w, _):
    return {}, {"config": RUN_CONFIG}, "record_config", {"config": canonical(c)}, 1


SPECS: dict[str, Spec] = {
    name.removeprefix("spec_"): spec for name, spec in globals().items() if name[:5] == "spec_"
}


def rule_name(stage: str, variant: str | None) -> str:
    """The rule of a stage: one per attack (record_activations_fgsm), one per figure
    (plot_layers), else the stage's own name."""
    if stage == "plot_figure":
        return f"plot_{variant}"
    return f"{stage}_{variant}" if stage in ("record_activations", "compute_spectrum") else stage


def stage_code(stage: str, variant: str | None = None) -> str:
    """rules/common.smk's stage_code: hash of the code the stage's script runs; a figure's
    (figure_code) covers its module too, which plot_figure imports by name."""
    figure = [FIGURES[variant].module_file(ROOT / "src")] if stage == "plot_figure" else []
    return code_hash(SCRIPTS / f"{stage}.py", *figure, src=ROOT / "src")


def rule_job(config: dict, stage: str, variant: str | None = None, **wildcards) -> dict:
    """The job of a stage's rule as Snakemake would build it: paths relative to the workdir."""
    w = {key: str(value) for key, value in wildcards.items()}
    inputs, outputs, per, params, threads = SPECS[stage](config, w, variant)
    rule = rule_name(stage, variant)
    return {
        "stage": stage,
        "rule": rule,
        "input": inputs,
        "output": outputs,
        "log": [log_path(rule, per).format(**w)],
        "params": {**params, "code": stage_code(stage, variant)},
        "wildcards": w,
        "threads": threads,
    }


def each_path(files: str | list[str], convert: Callable[[str], str]) -> str | list[str]:
    """`convert` applied to one path or to each of a list of them."""
    return [convert(f) for f in files] if isinstance(files, list) else convert(files)


class Wildcards(SimpleNamespace):
    """Wildcards as attributes; `stages.run` logs them through items(), like Snakemake's."""

    def items(self):
        return vars(self).items()


def run_stage(workdir: Path, config: dict, stage: str, variant=None, **wildcards):
    """Run one stage on its rule's job as a plain namespace with absolute paths under workdir,
    through `stages.run`, as the rule's script does; returns the job."""

    def absolute(files):
        return each_path(files, lambda f: str(workdir / f))

    rule = rule_job(config, stage, variant, **wildcards)
    params = {
        k: absolute(v) if k in PATH_PARAMS and v is not None else v
        for k, v in rule["params"].items()
    }
    job = plain_job(
        workdir,
        rule=rule["rule"],
        input=SimpleNamespace(**{k: absolute(v) for k, v in rule["input"].items()}),
        output=SimpleNamespace(**{k: absolute(v) for k, v in rule["output"].items()}),
        params=SimpleNamespace(**params),
        wildcards=Wildcards(**rule["wildcards"]),
        log=absolute(rule["log"]),
        threads=rule["threads"],
    )
    # Snakemake makes the output and log folders before a job runs
    for path in [*vars(job.output).values(), job.log]:
        for file in path if isinstance(path, list) else [path]:
            Path(file).parent.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"manifold_smoothness.stages.{stage}")
    torch_threads = "torch_threads=True" in (SCRIPTS / f"{stage}.py").read_text()
    run(job, getattr(module, stage), torch_threads=torch_threads)
    return job


@pytest.fixture(scope="module", autouse=True)
def _restored_process_state():
    """`stages.run` limits BLAS's and torch's threads and takes over logging: undo it after."""
    threads = torch.get_num_threads()
    with threadpool_limits(limits=None):
        yield
    torch.set_num_threads(threads)
    for handler in logging.root.handlers[:]:
        logging.root.removeHandler(handler)
        handler.close()


@pytest.fixture(scope="module")
def study() -> dict:
    return tiny_study()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stage_jobs")


@pytest.fixture(scope="module")
def stage(workdir, study) -> Callable[..., SimpleNamespace]:
    return lambda name, variant=None, **w: run_stage(workdir, study, name, variant, **w)


@pytest.fixture(scope="module")
def prepared(stage):
    return stage("prepare_dataset", dataset=DATASET)


@pytest.fixture(scope="module")
def trained(stage, study, prepared):
    return [stage("train_model", dataset=DATASET, model=MODEL, seed=s) for s in study["seeds"]]


@pytest.fixture(scope="module")
def recorded(stage, study, trained):
    """record_activations of every seed and condition (clean, then each attack)."""
    conditions = targets.model_conditions(study, MODEL)
    return {
        (seed, attack): stage("record_activations", attack, dataset=DATASET, model=MODEL, seed=seed)
        for seed in study["seeds"]
        for attack in conditions
    }


@pytest.fixture(scope="module")
def spectra(stage, recorded):
    return {
        key: stage("compute_spectrum", key[1], dataset=DATASET, model=MODEL, seed=key[0])
        for key in recorded
    }


@pytest.fixture(scope="module")
def snapshots(stage, study, trained):
    return [
        stage("analyse_snapshot", **w) for w in targets.snapshot_wildcards(study, DATASET, MODEL)
    ]


@pytest.fixture(scope="module")
def probes(stage, study, trained):
    return [stage("fit_probe", dataset=DATASET, model=MODEL, seed=s) for s in study["seeds"]]


@pytest.fixture(scope="module")
def summarized(stage, spectra, snapshots, probes):
    return stage("summarize_spectra", dataset=DATASET, model=MODEL)


def logged(job) -> str:
    return Path(job.log[0]).read_text()


def test_prepare_dataset_writes_the_configured_subsets(prepared, study):
    train, test = data.read_split(prepared.output.train), data.read_split(prepared.output.test)
    assert (len(train.labels), len(test.labels)) == (300, 200)
    assert train.images.shape == (300, 784) and set(np.unique(test.labels)) == set(range(10))
    for split, subset in ((train, 300), (test, 200)):
        assert split.metadata["source"] == "bundled"  # nothing under the job's dataset root
        assert split.metadata["subset_requested"] == str(subset)
    assert "rule prepare_dataset, wildcards {'dataset': 'mnist'}" in logged(prepared)


def test_train_model_writes_model_training_log_and_snapshots(trained, study):
    for seed, job in zip(study["seeds"], trained, strict=True):
        model, meta = load_model_with_metadata(job.output.model)
        assert [model.readout(layer).shape[1] for layer in range(2)] == [WIDTH, WIDTH]
        assert (meta["seed"], meta["model"], meta["train_rows"]) == (str(seed), MODEL, "300")
        expected = {"dataset": DATASET, "model": MODEL, "seed": seed}
        training = read_training(job.output.training, expected)
        assert training["epoch"].max() == 1 and set(training["layer"]) == {1, 2}
        states, _ = load_snapshots(job.output.snapshots)
        assert [epoch for epoch, _ in states] == [0.0, 0.5]
        assert Path(job.params.checkpoint).parent == Path(job.output.model).parent


def test_record_activations_writes_one_file_per_strength(recorded, study):
    for (seed, attack), job in recorded.items():
        assert len(job.output.activations) == len(targets.grid(study, attack))
        for path, strength in zip(job.output.activations, job.params.strengths, strict=True):
            meta = activations.read_metadata(path)
            assert (meta["seed"], meta["attack"]) == (str(seed), attack)
            assert float(meta["strength"]) == strength and meta["n_layers"] == "2"
            assert np.isfinite(json.loads(meta["input_dimension"])).all()
            assert activations.read_layer(path, 2).shape == (200, WIDTH)
            assert len(activations.read_labels(path)) == 200


def test_compute_spectrum_writes_spectra_with_jackknife_blocks(spectra, study):
    blocks = study["analysis"]["jackknife_blocks"]
    for job in spectra.values():
        for path, condition in zip(job.output.spectra, job.params.conditions, strict=True):
            table = read_table(path)
            check_provenance(path, table_metadata(table), condition)
            frame = table.to_pandas()
            assert sorted(frame["block"].unique()) == list(range(blocks + 1))
            assert frame.groupby(["layer", "block"]).size().tolist() == [WIDTH] * 2 * (blocks + 1)
            assert frame["accuracy"].between(0, 1).all() and (frame["eigenvalue"] >= -1e-9).all()


def test_analyse_snapshot_writes_spectrum_and_probe_of_the_snapshot(snapshots):
    for job in snapshots:
        spectrum = read_table(job.output.spectrum)
        assert table_metadata(spectrum)["epoch"] == job.wildcards.epoch
        assert set(spectrum.column("layer").to_pylist()) == {1, 2}
        probe = read_table(job.output.probe)
        assert table_metadata(probe)["epoch"] == job.wildcards.epoch
        assert probe.column("layer").to_pylist() == [1, 2]


def test_fit_probe_scores_every_layer_of_the_final_model(probes):
    for job in probes:
        table = read_table(job.output.probe)
        assert table_metadata(table)["epoch"] == "final"
        frame = table.to_pandas()
        assert frame["layer"].tolist() == [1, 2]
        assert frame["probe_accuracy"].between(0.2, 1).all()  # above chance after one epoch


def test_summarize_spectra_has_a_row_per_seed_input_and_layer(summarized, study):
    """Every seed's clean input (final and snapshots) and the points of every attack's sweep,
    strength 0 (the clean input) included, each with a row per layer."""
    frame = read_table(summarized.output.summary).to_pandas()
    assert list(frame.columns) == SUMMARY_COLUMNS
    assert (frame.groupby(["attack", "strength", "epoch"]).size() == 2 * 2).all()  # seed x layer
    sweeps = {(a, s) for a, spec in study["attacks"].items() for s in spec["strengths"]}
    assert set(zip(frame["attack"], frame["strength"], strict=True)) == {(CLEAN, 0.0)} | sweeps
    assert set(frame.query("attack == 'clean'")["epoch"]) == {0.0, 0.5, 1.0}
    assert frame.query("attack == 'clean'")["alpha"].notna().all()


@pytest.fixture(scope="module")
def audited(stage, study, trained):
    return [stage("audit_attacks", dataset=DATASET, model=MODEL, seed=s) for s in study["seeds"]]


def test_audit_attacks_gives_every_attack_at_every_budget(audited, study):
    budgets = [0.0, *study["audit"]["budgets"]]
    for job in audited:
        frame = read_table(job.output.audit).to_pandas()
        assert sorted(frame.budget.unique()) == budgets
        assert set(frame.attack) == {"fgsm", "pgd", "apgd_ce", "apgd_dlr", "worst"}
        assert (frame[frame.budget == 0].accuracy == frame.clean.iloc[0]).all()
        assert "worst-case accuracy per budget" in logged(job)


def test_check_claims_gives_three_verdicts(stage, summarized, audited):
    job = stage("check_claims", dataset=DATASET)
    result = json.loads(Path(job.output.json).read_text())
    verdicts = [claim["verdict"] for claim in result["claims"]]
    assert len(verdicts) == 3 and set(verdicts) <= {v.value for v in Verdict}
    assert [m["name"] for m in result["models"]] == [MODEL]
    assert Path(job.output.md).read_text().strip()
    assert "Claims check: mnist" in Path(job.output.html).read_text()
    # the audit's checks, one per check, with their numbers
    assert [c["check"] for c in result["audit"]["checks"]] == [
        "iterative attacks at least as strong as FGSM",
        "accuracy near 0 at a large budget",
        "no zero gradients",
        "PGD at eps 0 equals clean accuracy",
    ]
    assert "## Attack audit" in Path(job.output.md).read_text()


def test_plot_width_sweep_checks_each_width_alone(stage, summarized, study):
    job = stage("plot_width_sweep", dataset=DATASET)
    assert Path(job.output.pdf).read_bytes()[:5] == b"%PDF-"
    rows = pd.DataFrame(json.loads(Path(job.output.json).read_text()))
    assert set(rows.model) == {MODEL} and set(rows.width) == {WIDTH}
    assert set(rows.claim) == {1, 2, 3}
    # two widths: the same network's rows under a second name are checked on their own
    summary = read_table(summarized.output.summary).to_pandas()
    twice = pd.concat([summary, summary.assign(model="wider")], ignore_index=True)
    thresholds = {k: v for k, v in study["claims"].items() if k != "input_dimension"}
    both = claims_by_width(twice, thresholds, {MODEL: WIDTH, "wider": 2 * WIDTH})
    first = both[both.width == WIDTH].drop(columns=["model", "width"]).reset_index(drop=True)
    second = both[both.width == 2 * WIDTH].drop(columns=["model", "width"])
    pd.testing.assert_frame_equal(first, second.reset_index(drop=True))


@pytest.fixture(scope="module")
def measured(stage, study, trained):
    return [
        stage("measure_robustness", dataset=DATASET, model=MODEL, seed=s) for s in study["seeds"]
    ]


def test_measure_robustness_gives_every_image_a_distance(measured, study):
    settings = study["intervention"]["robustness"]
    for job in measured:
        frame = read_table(job.output.robustness).to_pandas()
        assert len(frame) == settings["samples"]
        assert (frame.distance[~frame.clean_correct] == 0).all()
        finite = frame.distance[frame.clean_correct & np.isfinite(frame.distance)]
        assert ((finite > 0) & (finite <= settings["max_distance"])).all()
        assert "median minimum distance" in logged(job)


PENALISED = "tiny-penalised"


def as_model(path: str, name: str, change=None) -> None:
    """A copy of the table at `path` as the table of model `name` (its metadata and its model
    column renamed, `change` applied to it as a pandas DataFrame): a penalised twin."""
    table = read_table(path)
    frame = table.to_pandas()
    if "model" in frame:
        frame["model"] = name
    frame = change(frame) if change else frame
    meta = {**table_metadata(table), "model": name}
    out = Path(path.replace(f"/{MODEL}/", f"/{PENALISED}/"))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(pa.Table.from_pandas(frame, schema=table.schema), out, metadata=meta)


def test_check_intervention_decides_on_a_penalised_twin(
    workdir, study, summarized, measured, audited
):
    """The tiny network and a twin under another name whose alpha is 0.5 higher and whose
    distances are 20 % larger: the stage reads the family from the config and the files."""
    config = copy.deepcopy(study)
    twin = {**config["models"][0], "name": PENALISED}
    twin["training"] = {**twin["training"], "spectral_penalty": {"weight": 1.0, "exponent": 3.0}}
    config["models"].append(twin)
    config["intervention"]["baseline"] = MODEL
    check_config(config)
    as_model(summarized.output.summary, PENALISED, lambda f: f.assign(alpha=f.alpha + 0.5))
    for job in measured:  # shifted: the tiny network is too weak for a median distance > 0
        table = read_table(job.output.robustness)
        shifted = table.to_pandas().assign(distance=lambda f: f.distance + 0.05)
        write_table(
            pa.Table.from_pandas(shifted, schema=table.schema),
            job.output.robustness,
            metadata=table_metadata(table),
        )
        as_model(job.output.robustness, PENALISED, lambda f: f.assign(distance=f.distance * 1.2))
    for job in audited:
        as_model(job.output.audit, PENALISED)
    job = run_stage(workdir, config, "check_intervention", dataset=DATASET)
    record = json.loads(Path(job.output.json).read_text())
    assert record["result"]["kept"] == [MODEL, PENALISED]
    # +20 % per 0.5 alpha between the networks; the seeds scatter the fit a little
    assert record["result"]["slope"] == pytest.approx(0.4, abs=0.05)
    assert {row["model"] for row in record["networks"]} == {MODEL, PENALISED}
    assert "fgsm@0.1" in record["networks"][0]
    assert "## Spectral intervention" in Path(job.output.md).read_text()
    assert Path(job.output.png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def model_figures(config: dict, model: str = MODEL) -> list[tuple[str, str | None, dict]]:
    """(stage, variant, wildcards) of every figure of one model."""
    w = {"dataset": DATASET, "model": model}
    figures = [("plot_figure", f, w) for f in MODEL_FIGURES]
    attacks = targets.model_conditions(config, model)[1:]
    return figures + [("plot_figure", "attack", {**w, "attack": a}) for a in attacks]


FIGURE_JOBS = [*model_figures(tiny_study())]
FIGURE_JOBS.append(("plot_figure", "generalization", {"dataset": DATASET}))


@pytest.mark.parametrize(
    ("name", "variant", "wildcards"),
    FIGURE_JOBS,
    ids=[
        f"{rule_name(s, v)}{'-' + w['attack'] if 'attack' in w else ''}" for s, v, w in FIGURE_JOBS
    ],
)
def test_a_figure_stage_writes_its_pdf_and_png(stage, summarized, name, variant, wildcards):
    job = stage(name, variant, **wildcards)
    assert Path(job.output.pdf).read_bytes()[:5] == b"%PDF-"
    assert Path(job.output.png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_record_config_writes_the_config_it_is_given(stage, study):
    job = stage("record_config")
    assert yaml.safe_load(Path(job.output.config).read_text()) == canonical(study)


# Snakemake's own jobs (mock_job) on the quick preset


def every_rule_job(config: dict) -> list[dict]:
    """One job of every rule of the quick preset's main model, built by these tests."""
    d, m = DATASET, "quick"
    w = {"dataset": d, "model": m}
    seed = {**w, "seed": 0}
    jobs = [rule_job(config, "prepare_dataset", dataset=d), rule_job(config, "record_config")]
    jobs += [
        rule_job(config, s, **seed)
        for s in ("train_model", "fit_probe", "audit_attacks", "measure_robustness")
    ]
    epoch = targets.snapshot_wildcards(config, d, m)[1]["epoch"]
    jobs.append(rule_job(config, "analyse_snapshot", **seed, epoch=epoch))
    for attack in targets.model_conditions(config, m):
        jobs += [
            rule_job(config, s, attack, **seed) for s in ("record_activations", "compute_spectrum")
        ]
    jobs += [rule_job(config, s, v, **fw) for s, v, fw in model_figures(config, m)]
    jobs.append(rule_job(config, "plot_figure", "generalization", dataset=d))
    jobs += [
        rule_job(config, s, dataset=d)
        for s in ("check_claims", "plot_width_sweep", "check_intervention")
    ]
    return jobs + [rule_job(config, "summarize_spectra", **w)]


@pytest.fixture(scope="module")
def quick_root(tmp_path_factory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("quick_workflow"))


def test_mock_job_builds_a_rules_job_from_its_stage_and_wildcards(quick_root):
    job = mock_job(
        "compute_spectrum",
        configfiles=["config/quick.yaml"],
        root=quick_root,
        dataset=DATASET,
        model="quick",
        seed=0,
        attack="fgsm",
    )
    results = quick_root / "results" / DATASET / "quick" / "seed0"
    assert job.rule == "compute_spectrum_fgsm" and job.threads == 1
    assert job.input.model == str(results / "model.pt")
    assert job.output.spectra == [
        str(results / s / "spectrum.parquet") for s in ("fgsm/0.1", "fgsm/0.2")
    ]
    assert [c["strength"] for c in job.params.conditions] == ["0.1", "0.2"]
    assert dict(job.wildcards.items()) == {"dataset": DATASET, "model": "quick", "seed": "0"}
    assert Path(job.log[0]).parent.is_dir()  # made, as Snakemake makes it before a job
    with pytest.raises(MockJobError, match="wildcards"):
        mock_job("fit_probe", root=quick_root, dataset=DATASET, model="quick")


def test_these_jobs_are_the_jobs_snakemake_builds(quick_root):
    """Every rule's job as these tests build it equals Snakemake's on the quick preset."""
    ours = every_rule_job(quick_study())
    assert {job["stage"] for job in ours} == set(SPECS)
    with workflow_jobs(["config/quick.yaml"], root=quick_root) as snakemake_job:
        theirs = [snakemake_job(job["rule"], **job["wildcards"]) for job in ours]

    def relative(files):
        return {
            name: each_path(paths, lambda f: Path(f).relative_to(quick_root).as_posix())
            for name, paths in files.items()
        }

    for mine, built in zip(ours, theirs, strict=True):
        rule = mine["rule"]
        assert relative(dict(built.input.items())) == mine["input"], rule
        assert relative(dict(built.output.items())) == mine["output"], rule
        assert relative({"log": list(built.log)}) == {"log": mine["log"]}, rule
        assert dict(built.params.items()) == mine["params"], rule
        assert built.threads == mine["threads"], rule


def test_every_stage_has_a_rule_script_and_a_job_here():
    stages = {p.stem for p in (ROOT / "src" / "manifold_smoothness" / "stages").glob("*.py")}
    assert stages - {"__init__"} == set(SPECS)
    assert {p.stem for p in SCRIPTS.glob("*.py")} - {"_job"} == set(SPECS)
