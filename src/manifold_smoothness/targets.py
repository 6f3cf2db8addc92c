"""What the study builds, derived from the config: every condition and kept output, and a clear
error for a requested file that lies outside the study.

The rules import this at parse time (no torch, no pandas). A path asked for on the command line
whose seed, model, attack or strength is not in the config would otherwise be built silently
and never enter a summary; `check_wildcards` refuses it before any job runs, naming the key to
change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from manifold_smoothness.study import (
    ATTACKS,
    CLEAN,
    CONDITION_DIR,
    CONDITIONS,
    DATA_DIR,
    FIGURE_DIR,
    FIGURE_FORMATS,
    FIGURES,
    MODEL_DIR,
    SEED_DIR,
    SPLITS,
    format_strength,
)


class TargetError(ValueError):
    """A requested output is not part of the configured study."""


def grid(config: Mapping, attack: str) -> list[float]:
    """Strengths analysed under one attack name: [0] for clean, else the attack's positive
    strengths (its strength 0 is the clean condition, computed once)."""
    if attack not in CONDITIONS:
        raise TargetError(
            f"attack {attack!r} is not one of the study's {list(CONDITIONS)}; a new attack "
            "needs its code and a grid under attacks in the config"
        )
    if attack == CLEAN:
        return [0.0]
    return [float(s) for s in config["attacks"][attack]["strengths"] if s > 0]


def conditions(config: Mapping) -> list[tuple[str, str]]:
    """(attack, strength) of every analysed input, clean first."""
    return [(a, format_strength(s)) for a in (CLEAN, *ATTACKS) for s in grid(config, a)]


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
    """Regex of '<attack>/<strength>' path parts that no rule makes: the study's conditions
    excluded by a negative lookahead. A catch-all rule matches only these, to refuse them."""
    known = "|".join(re.escape(f"{a}/{s}") for a, s in conditions(config))
    return rf"(?!(?:{known})/)[^/]+/[^/]+"


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
        for attack in (CLEAN, *ATTACKS)
        for condition in sweep_conditions(
            config, attack, {"dataset": dataset, "model": model, "seed": seed}
        )
    ]


def seed_files(config: Mapping, name: str, dataset: str, model: str) -> list[str]:
    """One file per seed of one model, e.g. every training.parquet."""
    return [
        f"{SEED_DIR}/{name}".format(dataset=dataset, model=model, seed=seed)
        for seed in config["seeds"]
    ]


def figure_files(config: Mapping, figures: tuple[str, ...] = FIGURES) -> list[str]:
    return [
        f"{FIGURE_DIR}/{figure}.{ext}".format(dataset=d, model=m)
        for d, m in models(config)
        for figure in figures
        for ext in FIGURE_FORMATS
    ]


def all_targets(config: Mapping) -> list[str]:
    """Every kept output, not only the figures and claims: Snakemake does not rebuild a
    missing intermediate file while the files made from it are up to date, so a deleted
    (e.g. damaged) result is rebuilt on the next plain `snakemake` only if it is a target."""
    targets = figure_files(config) + ["results/config.yaml"]
    for d, m in models(config):
        targets += [
            f"results/claims/{d}/{m}.md",
            f"{MODEL_DIR}/summary.parquet".format(dataset=d, model=m),
        ]
        targets += condition_files(config, "spectrum.parquet", d, m)
        targets += seed_files(config, "model.pt", d, m)
        targets += seed_files(config, "clean/0/activations.parquet", d, m)
    for d in config["dataset"]["names"]:
        data_dir = DATA_DIR.format(dataset=d)
        targets += [f"{data_dir}/{split}.parquet" for split in SPLITS]
        targets.append(f"{data_dir}/input_dimension.json")
    return targets


def check_wildcards(config: Mapping, wildcards: Mapping[str, str]) -> None:
    """Raise TargetError when a job's wildcards name a dataset, model, seed or condition that
    the config does not define (only the wildcards present are checked)."""
    if "dataset" in wildcards and wildcards["dataset"] not in config["dataset"]["names"]:
        raise TargetError(
            f"dataset {wildcards['dataset']!r} is not in dataset.names "
            f"{config['dataset']['names']}; add it there to build its results"
        )
    names = [m["name"] for m in config["models"]]
    if "model" in wildcards and wildcards["model"] not in names:
        raise TargetError(
            f"model {wildcards['model']!r} is not in the config's models {names}; "
            "add an entry with this name to build its results"
        )
    if "seed" in wildcards and int(wildcards["seed"]) not in config["seeds"]:
        raise TargetError(
            f"seed {wildcards['seed']} is not in seeds {config['seeds']}; add it there, so "
            "that its results enter the summary"
        )
    if "condition" in wildcards:  # '<attack>/<strength>' of a condition file
        attack, _, strength = wildcards["condition"].partition("/")
        _check_condition(config, attack, strength)
    elif "attack" in wildcards:
        _check_condition(config, wildcards["attack"], wildcards["strength"])


def _check_condition(config: Mapping, attack: str, strength: str) -> None:
    if attack not in CONDITIONS:
        raise TargetError(
            f"attack {attack!r} is not one of the study's {list(CONDITIONS)}; a new attack "
            "needs its code and a grid under attacks in the config"
        )
    if attack == CLEAN:
        if strength != format_strength(0):
            raise TargetError(f"the clean condition has strength 0 only, not {strength}")
        return
    grid = config["attacks"][attack]["strengths"]
    try:
        value = float(strength)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise TargetError(
            f"{attack} strength {strength} is outside (0, 1]: inputs live in [0, 1], so a "
            "larger strength only saturates the clipping (strength 0 is the clean condition)"
        )
    if strength not in {format_strength(s) for s in grid}:
        raise TargetError(
            f"{attack} strength {strength} is not in attacks.{attack}.strengths {grid}; add "
            "it to the grid (written as in the path, e.g. 0.05) so that it enters the summary"
        )
