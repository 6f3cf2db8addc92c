# Helpers shared by the rules: paths, condition lists, params. No rule bodies here; the logic
# lives in manifold_smoothness.targets, .study and .provenance (unit-tested without Snakemake).
import json
from functools import cache
from pathlib import Path

from manifold_smoothness import targets
from manifold_smoothness.budget import (
    check_memory,
    cost_message,
    gradient_passes,
    layer_target,
)
from manifold_smoothness.config import (
    audited,
    check_config,
    device_warning,
    gpu_visible,
    intervention_family,
)
from manifold_smoothness.provenance import code_hash
from manifold_smoothness.width_sweep import is_width_sweep, paper_widths
from manifold_smoothness.vocabulary import CLEAN, FIGURES, SPLITS
from manifold_smoothness.study import (
    CLAIMS_DIR,
    DATA_DIR,
    FIGURE_DIR,
    MODEL_DIR,
    SEED_DIR,
    SNAPSHOT_DIR,
    RUN_CONFIG,
    STUDY_FIGURE_DIR,
    SUMMARY_FILE,
    benchmark_path,
    log_path,
)

check_config(config)
if workflow.is_main_process and (warning := device_warning(config, gpu_visible())):
    logger.warning(warning)  # once, while planning: jobs on GPU nodes do not re-plan
LOCAL = workflow.nodes is None  # jobs run on this machine, not on a cluster's nodes
if workflow.is_main_process and LOCAL and (warning := check_memory(config)):
    logger.warning(warning)  # a job that cannot fit at all is refused


# what the jobs about to run cost on this machine, before the first one
onstart:
    if config["cost_estimate"]:
        jobs = workflow.dag.needrun_jobs()
        runs = [(j.rule.name, j.wildcards_dict) for j in jobs if not j.is_norun]
        logger.info(cost_message(config, runs, workflow.cores if LOCAL else None))


SRC = Path(workflow.basedir) / "src"
SCRIPTS = Path(workflow.basedir) / "rules" / "scripts"
MODELS = {model["name"]: model for model in config["models"]}
# The wildcards part of result paths, which log and benchmark paths mirror
PER_MODEL = MODEL_DIR.removeprefix("results/")
PER_SEED = SEED_DIR.removeprefix("results/")
PER_SNAPSHOT = SNAPSHOT_DIR.removeprefix("results/")
# the {attack} components analysed on some model: clean, then every attack with a grid
CONDITIONS = [CLEAN] + [a for a in config["attacks"] if targets.grid(config, a)]


wildcard_constraints:
    dataset="[a-z-]+",
    model="[A-Za-z0-9][A-Za-z0-9_.-]*",
    seed=r"\d+",
    split="|".join(SPLITS),
    epoch=r"\d+(\.\d+)?(e[-+]\d+)?",


def stage_script(stage):
    """The rule script of a stage, relative to rules/ (where the .smk files live)."""
    return f"scripts/{stage}.py"


@cache
def stage_code(stage):
    """Hash of the code a stage's script runs (its imports, followed from the source): editing
    it reruns the stage through the params trigger, and training never resumes a checkpoint
    written by other code. Once per stage: the per-attack rules share their stage's hash.
    """
    return code_hash(SCRIPTS / f"{stage}.py", src=SRC)


def canonical(value):
    """A dict param with sorted keys: Snakemake's params trigger compares params as text, so
    reordering keys in a YAML file must not look like a change (and rerun training)."""
    return json.loads(json.dumps(value, sort_keys=True))


def shape_limits():
    """The claims thresholds that call one curve's shape: the sweep figures mark the calls the
    claims count, with the claims' own statistic."""
    from manifold_smoothness.claims_spec import SHAPE_CALL_THRESHOLDS

    return {key: config["claims"][key] for key in SHAPE_CALL_THRESHOLDS}


def in_study(wildcards):
    """No input: refuses, before any job runs, a target outside the configured study."""
    targets.check_wildcards(config, dict(wildcards.items()))
    return []


def model_config(wildcards):
    """The model's config entry without its name (the name is in the path already)."""
    return canonical({k: v for k, v in MODELS[wildcards.model].items() if k != "name"})


def all_models():
    return targets.models(config)


def seed_files(name):
    """Input function: one file per seed of the job's model, e.g. every training.parquet."""
    return lambda w: targets.seed_files(config, name, w.dataset, w.model)


def activation_outputs(attack):
    """Activation files of one attack's grid (clean included): temporary unless kept, ~150 MB
    each at paper scale, and their spectra hold what the later steps read."""
    files = targets.sweep_files(config, attack, "activations.parquet")
    return files if config["analysis"]["keep_activations"] else [temp(f) for f in files]


def figure_output(name, caption=None, directory=FIGURE_DIR, category="{model}"):
    """PDF + PNG of one figure; the PNG goes into the Snakemake report with its caption."""
    return {
        "pdf": f"{directory}/{name}.pdf",
        "png": report(
            f"{directory}/{name}.png",
            caption=f"captions/{caption or name}.rst",
            category=category,
        ),
    }


# the figures drawn from the study's tables (rules/figures.smk, stages/plot_figure.py)
FIGURE_LOGS = {
    "model": PER_MODEL,
    "attack": f"{PER_MODEL}/{{attack}}",
    "dataset": "{dataset}",
}


def figure_inputs(spec):
    """A figure's input files, by what it is drawn from (vocabulary.FIGURE_INPUTS)."""
    return {
        "summary": {"summary": SUMMARY_FILE},
        "training": {"training": seed_files("training.parquet")},
        "spectra": {
            "spectra": seed_files("clean/0/spectrum.parquet"),
            "summary": SUMMARY_FILE,
        },
        "summaries": {"summaries": model_summaries},
    }[spec.inputs]


def figure_outputs(name, spec):
    """PDF + PNG of a figure, by its scope; an attack's figure is named like the attack."""
    if spec.scope == "dataset":
        return figure_output(
            name, directory=STUDY_FIGURE_DIR, category="Across networks"
        )
    return figure_output("{attack}" if spec.scope == "attack" else name, caption=name)


def figure_constraints(spec):
    """An attack's figure matches the configured attacks only (not the model's other figures)."""
    return (
        {"attack": "|".join(CONDITIONS[1:]) or "(?!)"} if spec.scope == "attack" else {}
    )


def figure_params(spec):
    """The seeds of figures drawn from per-seed files, and the figure's options
    (vocabulary.FIGURE_OPTIONS), which may depend on the job's wildcards."""
    values = {
        "attack": lambda w: w.attack,
        "attacks": lambda w: targets.model_conditions(config, w.model)[1:],
        "limits": lambda w: shape_limits(),
        "floor": lambda w: config["analysis"]["eigenvalue_floor"],
    }
    seeds = {"seeds": config["seeds"]} if spec.inputs in ("training", "spectra") else {}
    return {**seeds, "options": lambda w: {k: values[k](w) for k in spec.options}}


@cache
def figure_code(spec):
    """stage_code of plot_figure and the figure's own module, which it imports by name."""
    return code_hash(SCRIPTS / "plot_figure.py", spec.module_file(SRC), src=SRC)


def attack_spec(attack):
    """What an attack does (method, target, pgd settings), without its grid: the grid is a
    param of its own, so that adding a strength does not change the spec."""
    return canonical(
        {k: v for k, v in config["attacks"][attack].items() if k != "strengths"}
    )


def model_summaries(wildcards):
    """summary.parquet of every model of the job's dataset."""
    return targets.summary_files(config, wildcards.dataset)


def in_sweep(attack):
    """Input function with no input: like in_study, and refuses a model that does not sweep
    this attack (e.g. a control model's FGSM files), naming the key to change."""

    def check(wildcards):
        targets.check_sweep(config, dict(wildcards.items()), attack)
        return []

    return check


def in_sweep_of_wildcard(wildcards):
    """in_sweep for a rule whose {attack} is a wildcard (e.g. plot_attack)."""
    targets.check_sweep(config, dict(wildcards.items()), wildcards.attack)
    return []


def checkpoint_path(wildcards):
    return f"{SEED_DIR}/checkpoint.pt".format(**wildcards)


def attack_minutes(attack):
    """SLURM runtime of one attack's jobs: 10 min, plus per strength 2 min and 0.1 min per
    gradient pass (a PGD step; every layer's own for a per-layer target) at paper scale on a
    CPU core."""
    entry, grid = config["attacks"].get(attack), targets.grid(config, attack)
    passes = gradient_passes(entry, grid) // len(grid)  # per strength
    if layer_target(entry):
        passes *= max(len(m["hidden"]) for m in config["models"])
    return 10 + len(grid) * (2 + passes // 10)


def probe_params():
    return canonical(config["analysis"]["probe"])


# the strong-attack audit (rules/audit.smk)
AUDIT_FILE = f"{SEED_DIR}/audit.parquet"


def audit_files(dataset=None):
    """audit.parquet of every seed of every model with attack sweeps (of one dataset if given);
    none when audit.budgets is empty."""
    return [
        AUDIT_FILE.format(dataset=d, model=m, seed=s)
        for d, m in targets.models(config)
        if (dataset is None or d == dataset) and audited(config, m)
        for s in config["seeds"]
    ]


# the width sweep (rules/width.smk)
WIDTHS = paper_widths(config["models"])


def width_files():
    """The width figure and table of every dataset, or none without a width sweep."""
    if not is_width_sweep(config["models"]):
        return []
    names = ["width.pdf", "width.png", "width.json"]
    return [
        f"{STUDY_FIGURE_DIR}/{n}".format(dataset=d)
        for d in config["dataset"]["names"]
        for n in names
    ]


# the spectral intervention (rules/intervention.smk)
ROBUSTNESS_FILE = f"{SEED_DIR}/robustness.parquet"
INTERVENTION = intervention_family(config)  # {} without one


def intervention_models(dataset):
    """The intervention's models of a dataset, in config order: none without an intervention."""
    return [m for d, m in targets.models(config) if d == dataset and m in INTERVENTION]


def robustness_files(wildcards):
    """robustness.parquet of every seed of every model of the job's dataset's intervention."""
    return [
        ROBUSTNESS_FILE.format(dataset=wildcards.dataset, model=m, seed=s)
        for m in intervention_models(wildcards.dataset)
        for s in config["seeds"]
    ]


def intervention_summaries(wildcards):
    return [
        SUMMARY_FILE.format(dataset=wildcards.dataset, model=m)
        for m in intervention_models(wildcards.dataset)
    ]


def intervention_audits(wildcards):
    """The audit files of the intervention's models (their accuracies at fixed budgets)."""
    return [
        AUDIT_FILE.format(dataset=wildcards.dataset, model=m, seed=s)
        for m in intervention_models(wildcards.dataset)
        if audited(config, m)
        for s in config["seeds"]
    ]


def intervention_files():
    """The intervention's verdict, table and figure of every dataset, or none."""
    if not INTERVENTION:
        return []
    names = [
        "intervention.pdf",
        "intervention.png",
        "intervention.json",
        "intervention.md",
    ]
    return [
        f"{STUDY_FIGURE_DIR}/{n}".format(dataset=d)
        for d in config["dataset"]["names"]
        for n in names
    ]
