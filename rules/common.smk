# Helpers shared by the rules: paths, condition lists, params. No rule bodies here.
import hashlib
import json
from pathlib import Path

from manifold_smoothness.config import check_config, format_strength

check_config(config)

PACKAGE = Path(workflow.basedir) / "src" / "manifold_smoothness"
SEED_DIR = "results/{dataset}/{model}/seed{seed}"
CONDITION_DIR = "results/{dataset}/{model}/seed{seed}/{attack}/{strength}"
FIGURE_DIR = "results/figures/{dataset}/{model}"
ATTACKS = ("gaussian", "fgsm")


wildcard_constraints:
    dataset="[a-z-]+",
    model="[A-Za-z0-9][A-Za-z0-9_.-]*",
    seed=r"\d+",
    attack="clean|gaussian|fgsm",
    strength=r"[0-9][0-9.e+-]*",
    split="train|test",


def code_version(*modules):
    """Hash of the package modules (or subpackages) a stage runs: editing them reruns the stage
    through the params trigger, which does not see edits of imported code by itself."""
    digest = hashlib.sha256()
    for module in ("__init__", "storage", *modules):
        path = PACKAGE / module
        files = (
            sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
        )
        for file in files:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


MODELS = {model["name"]: model for model in config["models"]}


def canonical(value):
    """A dict param with sorted keys: Snakemake's params trigger compares params as text, so
    reordering keys in a YAML file must not look like a change (and rerun training)."""
    return json.loads(json.dumps(value, sort_keys=True))


def model_config(wildcards):
    """The model's config entry without its name (the name is in the path already)."""
    return canonical({k: v for k, v in MODELS[wildcards.model].items() if k != "name"})


def conditions():
    """(attack, strength) of every analysed input; strength 0 of any attack is the clean run."""
    result = [("clean", format_strength(0))]
    for attack in ATTACKS:
        result += [
            (attack, format_strength(s))
            for s in config["attacks"][attack]["strengths"]
            if s > 0
        ]
    return result


def condition_files(name, dataset, model):
    """One file per seed x condition of one model, e.g. every spectrum.parquet."""
    return [
        f"{CONDITION_DIR}/{name}".format(
            dataset=dataset, model=model, seed=seed, attack=attack, strength=strength
        )
        for seed in config["seeds"]
        for attack, strength in conditions()
    ]


def seed_files(name, wildcards):
    return expand(
        f"{SEED_DIR}/{name}", seed=config["seeds"], allow_missing=True, **wildcards
    )


def all_models():
    return [(d, m) for d in config["dataset"]["names"] for m in MODELS]


FIGURES = ("training", "spectra", "layers", "gaussian", "fgsm", "accuracy_alpha")


def figure_targets(figures=FIGURES):
    return [
        f"{FIGURE_DIR}/{figure}.{ext}".format(dataset=d, model=m)
        for d, m in all_models()
        for figure in figures
        for ext in ("pdf", "png")
    ]


def all_targets():
    """Every kept output, not only the figures and claims: Snakemake does not rebuild a
    missing intermediate file while the files made from it are up to date, so a deleted
    (e.g. damaged) result is rebuilt on the next plain `snakemake` only if it is a target.
    """
    targets = figure_targets() + ["results/config.yaml"]
    for d, m in all_models():
        targets += [f"results/claims/{d}/{m}.md", f"results/{d}/{m}/summary.parquet"]
        targets += condition_files("spectrum.parquet", d, m)
        for seed in config["seeds"]:
            seed_dir = f"results/{d}/{m}/seed{seed}"
            targets += [
                f"{seed_dir}/model.pt",
                f"{seed_dir}/clean/0/activations.parquet",
            ]
    for d in config["dataset"]["names"]:
        targets += [f"results/data/{d}/{split}.parquet" for split in ("train", "test")]
        targets.append(f"results/data/{d}/input_dimension.json")
    return targets


def activations_output():
    """Swept-condition activations (~200 MB each at paper scale) are temporary unless kept."""
    path = (
        "results/{dataset}/{model}/seed{seed}/{attack}/{strength}/activations.parquet"
    )
    return path if config["analysis"]["keep_activations"] else temp(path)


def figure_output(name):
    """PDF + PNG of one figure; the PNG goes into the Snakemake report with its caption."""
    return {
        "pdf": f"results/figures/{{dataset}}/{{model}}/{name}.pdf",
        "png": report(
            f"results/figures/{{dataset}}/{{model}}/{name}.png",
            caption=f"captions/{name}.rst",
            category="{model}",
        ),
    }


def checkpoint_path(wildcards):
    return "results/{dataset}/{model}/seed{seed}/checkpoint.pt".format(**wildcards)


def fgsm_target(attack):
    return config["attacks"]["fgsm"]["target"] if attack == "fgsm" else "output"
