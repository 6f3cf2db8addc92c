"""What the study builds, derived from the config: every condition, snapshot and kept output,
and a clear error for a requested file that lies outside the study.

The rules import this at parse time (no torch, no pandas). A path asked for on the command line
whose seed, model, attack, strength or snapshot is not in the config would otherwise be built
silently and never enter a summary; `check_wildcards` refuses it before any job runs, naming
the key to change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from manifold_smoothness.study import (
    CLAIMS_DIR,
    CONDITION_DIR,
    DATA_DIR,
    FIGURE_DIR,
    RUN_CONFIG,
    SEED_DIR,
    SNAPSHOT_DIR,
    STUDY_FIGURE_DIR,
    SUMMARY_FILE,
    format_epoch,
    format_strength,
)
from manifold_smoothness.vocabulary import (
    CLEAN,
    FIGURE_FORMATS,
    FIGURES,
    MODEL_FIGURES,
    SPLITS,
    STUDY_FIGURES,
)


class TargetError(ValueError):
    """A requested output is not part of the configured study."""


def attack_names(config: Mapping) -> list[str]:
    """Every configured attack, in config order."""
    return list(config["attacks"])


def grid(config: Mapping, attack: str) -> list[float]:
    """Strengths analysed under one attack name: [0] for clean, else the attack's positive
    strengths (its strength 0 is the clean condition, computed once)."""
    if attack == CLEAN:
        return [0.0]
    if attack not in config["attacks"]:
        raise TargetError(
            f"attack {attack!r} is not configured (attacks: {attack_names(config)}); add an "
            "entry with its method and strengths under attacks in the config"
        )
    return [float(s) for s in config["attacks"][attack]["strengths"] if s > 0]


def model_spec(config: Mapping, model: str) -> Mapping:
    for spec in config["models"]:
        if spec["name"] == model:
            return spec
    names = [m["name"] for m in config["models"]]
    raise TargetError(
        f"model {model!r} is not in the config's models {names}; "
        "add an entry with this name to build its results"
    )


def model_attacks(config: Mapping, model: str) -> list[str]:
    """The attacks swept on one model's final network: its `attacks` list, or every attack
    when it has none (null)."""
    chosen = model_spec(config, model).get("attacks")
    return attack_names(config) if chosen is None else list(chosen)


def model_conditions(config: Mapping, model: str) -> list[str]:
    """The {attack} components analysed on one model: clean, then its attacks with a grid."""
    return [CLEAN] + [a for a in model_attacks(config, model) if grid(config, a)]


def snapshots(config: Mapping, model: str) -> list[str]:
    """Path labels of one model's snapshots (points of training before the end), sorted."""
    points = model_spec(config, model)["training"].get("snapshots") or []
    return [format_epoch(t) for t in sorted(float(t) for t in points)]


def conditions(config: Mapping, model: str) -> list[tuple[str, str]]:
    """(attack, strength) of every analysed input of one model, clean first."""
    return [
        (a, format_strength(s)) for a in model_conditions(config, model) for s in grid(config, a)
    ]


def sweep_files(config: Mapping, attack: str, name: str) -> list[str]:
    """One file per strength of one attack, as patterns with {dataset}, {model}, {seed}: the
    outputs of one record_activations_<attack> or compute_spectrum_<attack> job."""
    return [f"{SEED_DIR}/{attack}/{format_strength(s)}/{name}" for s in grid(config, attack)]


def sweep_conditions(config: Mapping, attack: str, wildcards: Mapping[str, str]) -> list[dict]:
    """What each file of one sweep job holds (its path's dataset, model, seed, attack and
    strength), in the order of `sweep_files`."""
    return [
        {
            "dataset": wildcards["dataset"],
            "model": wildcards["model"],
            "seed": str(wildcards["seed"]),
            "attack": attack,
            "strength": format_strength(s),
        }
        for s in grid(config, attack)
    ]


def outside_study_pattern(config: Mapping) -> str:
    """Regex of '<attack>/<strength>' path parts that no rule makes: every condition of any
    model excluded by a negative lookahead (a condition of another model is refused by
    `check_wildcards`; snapshots/<epoch> belongs to analyse_snapshot, which refuses unknown
    epochs). A catch-all rule matches only these, to refuse them."""
    known = {f"{a}/{s}" for m in config["models"] for a, s in conditions(config, m["name"])}
    pattern = "|".join(re.escape(k) for k in sorted(known))
    return rf"(?!(?:{pattern})/)(?!snapshots/)[^/]+/[^/]+"


def models(config: Mapping) -> list[tuple[str, str]]:
    """(dataset, model name) of every trained model."""
    return [(d, m["name"]) for d in config["dataset"]["names"] for m in config["models"]]


def condition_files(config: Mapping, name: str, dataset: str, model: str) -> list[str]:
    """One file per seed x condition of one model (e.g. every spectrum.parquet), in the order
    of `condition_wildcards`."""
    return [
        f"{CONDITION_DIR}/{name}".format(**c) for c in condition_wildcards(config, dataset, model)
    ]


def condition_wildcards(config: Mapping, dataset: str, model: str) -> list[dict[str, str]]:
    """dataset, model, seed, attack and strength of every condition of one model: the sweeps
    of every seed, clean first (the order of `conditions`)."""
    return [
        condition
        for seed in config["seeds"]
        for attack in model_conditions(config, model)
        for condition in sweep_conditions(
            config, attack, {"dataset": dataset, "model": model, "seed": seed}
        )
    ]


def snapshot_wildcards(config: Mapping, dataset: str, model: str) -> list[dict[str, str]]:
    """dataset, model, seed and epoch of every snapshot of one model, seed by seed."""
    return [
        {"dataset": dataset, "model": model, "seed": str(seed), "epoch": epoch}
        for seed in config["seeds"]
        for epoch in snapshots(config, model)
    ]


def snapshot_files(config: Mapping, name: str, dataset: str, model: str) -> list[str]:
    """One file per seed x snapshot of one model, in the order of `snapshot_wildcards`."""
    return [
        f"{SNAPSHOT_DIR}/{name}".format(**w) for w in snapshot_wildcards(config, dataset, model)
    ]


def probe_wildcards(config: Mapping, dataset: str, model: str) -> list[dict[str, str]]:
    """What every probe file of one model holds: the final model of every seed (epoch
    'final'), then every snapshot (the order of `probe_files`)."""
    finals = [
        {"dataset": dataset, "model": model, "seed": str(seed), "epoch": "final"}
        for seed in config["seeds"]
    ]
    return finals + snapshot_wildcards(config, dataset, model)


def probe_files(config: Mapping, dataset: str, model: str) -> list[str]:
    """probe.parquet of every seed's final model, then of every snapshot."""
    return seed_files(config, "probe.parquet", dataset, model) + snapshot_files(
        config, "probe.parquet", dataset, model
    )


def seed_files(config: Mapping, name: str, dataset: str, model: str) -> list[str]:
    """One file per seed of one model, e.g. every training.parquet."""
    return [
        f"{SEED_DIR}/{name}".format(dataset=dataset, model=model, seed=seed)
        for seed in config["seeds"]
    ]


def model_figures(config: Mapping, model: str) -> list[str]:
    """Names of one model's figures: the fixed ones (accuracy_alpha only with an attack) and
    one per attack swept on it."""
    attacks = model_conditions(config, model)[1:]
    fixed = [f for f in MODEL_FIGURES if attacks or not FIGURES[f].needs_attack]
    return [*fixed, *attacks]


def figure_files(config: Mapping) -> list[str]:
    files = [
        f"{FIGURE_DIR}/{figure}.{ext}".format(dataset=d, model=m)
        for d, m in models(config)
        for figure in model_figures(config, m)
        for ext in FIGURE_FORMATS
    ]
    files += [
        f"{STUDY_FIGURE_DIR}/{figure}.{ext}".format(dataset=d)
        for d in config["dataset"]["names"]
        for figure in STUDY_FIGURES
        for ext in FIGURE_FORMATS
    ]
    return files


def summary_files(config: Mapping, dataset: str | None = None) -> list[str]:
    """summary.parquet of every model (of one dataset if given)."""
    return [
        SUMMARY_FILE.format(dataset=d, model=m)
        for d, m in models(config)
        if dataset is None or d == dataset
    ]


def claims_files(config: Mapping, ext: str = "md") -> list[str]:
    return [f"{CLAIMS_DIR}/{d}.{ext}" for d in config["dataset"]["names"]]


def all_targets(config: Mapping) -> list[str]:
    """Every kept output, not only the figures and claims: Snakemake does not rebuild a
    missing intermediate file while the files made from it are up to date, so a deleted
    (e.g. damaged) result is rebuilt on the next plain `snakemake` only if it is a target."""
    targets = figure_files(config) + claims_files(config) + [RUN_CONFIG]
    targets += summary_files(config)
    for d, m in models(config):
        targets += condition_files(config, "spectrum.parquet", d, m)
        targets += snapshot_files(config, "spectrum.parquet", d, m)
        targets += snapshot_files(config, "probe.parquet", d, m)
        for name in ("model.pt", "snapshots.pt", "probe.parquet"):
            targets += seed_files(config, name, d, m)
    for d in config["dataset"]["names"]:
        data_dir = DATA_DIR.format(dataset=d)
        targets += [f"{data_dir}/{split}.parquet" for split in SPLITS]
    return targets


def check_wildcards(config: Mapping, wildcards: Mapping[str, str]) -> None:
    """Raise TargetError when a job's wildcards name a dataset, model, seed, condition or
    snapshot that the config does not define (only the wildcards present are checked)."""
    if "dataset" in wildcards and wildcards["dataset"] not in config["dataset"]["names"]:
        raise TargetError(
            f"dataset {wildcards['dataset']!r} is not in dataset.names "
            f"{config['dataset']['names']}; add it there to build its results"
        )
    model = wildcards.get("model")
    if model is not None:
        model_spec(config, model)
    if "seed" in wildcards and int(wildcards["seed"]) not in config["seeds"]:
        raise TargetError(
            f"seed {wildcards['seed']} is not in seeds {config['seeds']}; add it there, so "
            "that its results enter the summary"
        )
    if "condition" in wildcards:  # '<attack>/<strength>' of a condition file
        attack, _, strength = wildcards["condition"].partition("/")
        if attack == "snapshots":
            _check_snapshot(config, model, strength)
        else:
            _check_condition(config, model, attack, strength)
    elif "attack" in wildcards:
        _check_condition(config, model, wildcards["attack"], wildcards["strength"])
    if "epoch" in wildcards:
        _check_snapshot(config, model, wildcards["epoch"])


def check_sweep(config: Mapping, wildcards: Mapping[str, str], attack: str) -> None:
    """check_wildcards, and the job's model must sweep `attack` (clean: every model)."""
    check_wildcards(config, {k: v for k, v in wildcards.items() if k != "attack"})
    if attack != CLEAN and attack not in model_attacks(config, wildcards["model"]):
        raise TargetError(
            f"attack {attack!r} is not swept on model {wildcards['model']!r} (its attacks: "
            f"{model_attacks(config, wildcards['model'])}); add it to the model's attacks list"
        )


def _check_snapshot(config: Mapping, model: str | None, epoch: str) -> None:
    if model is None:
        return
    points = snapshots(config, model)
    if epoch not in points:
        raise TargetError(
            f"epoch {epoch} is not a snapshot of model {model!r} (its training.snapshots "
            f"{points}); add it there (written as in the path, e.g. 0.05)"
        )


def _check_condition(config: Mapping, model: str | None, attack: str, strength: str) -> None:
    if attack != CLEAN and attack not in config["attacks"]:
        raise TargetError(
            f"attack {attack!r} is not configured (attacks: {attack_names(config)}); add an "
            "entry with its method and strengths under attacks in the config"
        )
    if attack == CLEAN:
        if strength != format_strength(0):
            raise TargetError(f"the clean condition has strength 0 only, not {strength}")
        return
    if model is not None and attack not in model_attacks(config, model):
        raise TargetError(
            f"attack {attack!r} is not swept on model {model!r} (its attacks: "
            f"{model_attacks(config, model)}); add it to the model's attacks list"
        )
    grid_ = config["attacks"][attack]["strengths"]
    try:
        value = float(strength)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise TargetError(
            f"{attack} strength {strength} is outside (0, 1]: inputs live in [0, 1], so a "
            "larger strength only saturates the clipping (strength 0 is the clean condition)"
        )
    if strength not in {format_strength(s) for s in grid_}:
        raise TargetError(
            f"{attack} strength {strength} is not in attacks.{attack}.strengths {grid_}; add "
            "it to the grid (written as in the path, e.g. 0.05) so that it enters the summary"
        )
