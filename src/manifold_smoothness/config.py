"""Checks of the study configuration that the schema check of the Snakefile cannot express.

snakemake.utils.validate checks types, ranges, enums and unknown keys against
rules/schemas/config.schema.yaml. It lets through what JSON Schema counts as valid but the study
cannot use: .nan and .inf (which pass every range check) and whole-number floats such as 12.0
where an integer is meant. check_config rejects those, then checks relations between keys,
before any job runs, naming the offending key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from manifold_smoothness import targets
from manifold_smoothness.study import format_epoch, format_strength
from manifold_smoothness.vocabulary import (
    LEARNING_RULES,
    RESERVED_NAMES,
    AttackSpec,
    SettingError,
    SpectralPenalty,
    rule_of,
    total_epochs,
)

# The rules import the package from this checkout's src/, so the schema sits two levels up.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "rules" / "schemas" / "config.schema.yaml"
MIN_FIT_RANKS = 5
SOURCES_FOR = {"bundled": ("mnist",), "debian": ("fashion-mnist",)}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""


def key_path(parts: Iterable[str | int]) -> str:
    """A config key as written in messages: ('models', 0, 'readout', 'scale') ->
    'models[0].readout.scale'."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def drop_removed_attacks(config: dict) -> None:
    """Remove every attack set to null: a --configfile is merged into config.yaml key by key,
    so null is how it takes an attack of config.yaml out of its study."""
    config["attacks"] = {k: v for k, v in config.get("attacks", {}).items() if v is not None}


# keys that an earlier version of the study used -> what replaced them and why
RENAMED_KEYS = {
    ("claims", "min_alpha_effect"): (
        "claims.min_relative_reversal (the reversal's depth as a fraction of the curve's own "
        "excursion, default 0.25): a minimum effect in units of alpha does not travel between "
        "widths and data sizes"
    ),
}


def refuse_renamed_keys(config: Mapping) -> None:
    """A key of an earlier version is refused with its replacement (the schema's 'unexpected
    key' would not say what to write instead)."""
    for (section, key), replacement in RENAMED_KEYS.items():
        if key in (config.get(section) or {}):
            raise ConfigError(
                f"config key '{section}.{key}' was replaced by {replacement}; remove it from "
                "your config file and set the new key if you need another value."
            )


def check_finite(node: object, parts: tuple[str | int, ...] = ()) -> None:
    """Every number anywhere in the config must be finite (YAML's .nan/.inf pass range checks)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            check_finite(value, (*parts, key))
    elif isinstance(node, Sequence) and not isinstance(node, str):
        for index, value in enumerate(node):
            check_finite(value, (*parts, index))
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(
            f"config key '{key_path(parts)}': {node} is not a finite number; write a finite value"
        )


def _is_integer(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@cache
def _strict_validator() -> Draft202012Validator:
    """A validator of the config schema whose 'integer' excludes floats (12.0) and booleans."""
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(
            f"config schema {SCHEMA_PATH} is missing; run from a complete checkout of the pipeline"
        )
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(schema)


def check_types(config: Mapping) -> None:
    """Re-validate against the schema with strict integers; name the key of the first error."""
    error = best_match(_strict_validator().iter_errors(config))
    if error is None:
        return
    key, value = key_path(error.absolute_path), error.instance
    if isinstance(value, float) and value.is_integer() and error.validator == "type":
        raise ConfigError(
            f"config key '{key}': {value!r} is a float where an integer is meant; "
            f"write {int(value)}"
        )
    raise ConfigError(f"config key '{key}': {error.message}")


def check_window(key: str, window: Sequence[int], max_rank: int | None = None) -> None:
    """A fit window [first, last] must hold at least MIN_FIT_RANKS ranks after capping."""
    first, last = int(window[0]), int(window[1])
    if last < first:
        raise ConfigError(f"config key '{key}': last rank {last} is below first rank {first}")
    if last - first + 1 < MIN_FIT_RANKS:
        raise ConfigError(
            f"config key '{key}': window {list(window)} holds {last - first + 1} ranks; "
            f"a power-law fit needs at least {MIN_FIT_RANKS}"
        )
    if max_rank is not None and min(last, max_rank) - first + 1 < MIN_FIT_RANKS:
        raise ConfigError(
            f"config key '{key}': window {list(window)} is capped at rank {max_rank} (half the "
            f"narrowest layer or of the analysed samples), leaving fewer than {MIN_FIT_RANKS} "
            "ranks; lower the first rank, or use wider layers or more samples"
        )


def check_dataset(config: Mapping) -> None:
    """The source must provide every dataset; analysis.samples must fit in the test subset."""
    dataset = config["dataset"]
    allowed = SOURCES_FOR.get(dataset["source"])
    if allowed is not None:
        for name in dataset["names"]:
            if name not in allowed:
                raise ConfigError(
                    f"config key 'dataset.source': source {dataset['source']!r} provides only "
                    f"{list(allowed)}, not {name!r}; use source auto or torchvision"
                )
    samples, subset = config["analysis"]["samples"], dataset["test_subset"]
    if samples is not None and subset is not None and samples > subset:
        raise ConfigError(
            f"config key 'analysis.samples': {samples} exceeds dataset.test_subset ({subset})"
        )


def _train_size(config: Mapping, model: Mapping) -> int:
    """Training images one epoch of a model passes over (its subset, else the split's)."""
    split = config["dataset"]["train_subset"] or 60_000
    return model["training"].get("train_subset") or split


def check_models(config: Mapping) -> None:
    """Model names are unique; both fit windows hold enough ranks for every model; subsets fit
    in the training split; snapshots lie inside training, on distinct steps; attacks exist."""
    names = [model["name"] for model in config["models"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"config key 'models': names {duplicates} are used more than once")
    analysis = config["analysis"]
    n_samples = analysis["samples"] or config["dataset"]["test_subset"] or 10_000
    split = config["dataset"]["train_subset"] or 60_000
    for index, model in enumerate(config["models"]):
        cap = min(min(model["hidden"]), n_samples - 1) // 2
        for key in ("fit_window", "short_window"):
            check_window(f"analysis.{key} (model {model['name']})", analysis[key], cap)
        training = model["training"]
        where = f"models[{index}].training"
        subset = training.get("train_subset")
        if subset is not None and subset > split:
            raise ConfigError(
                f"config key '{where}.train_subset': {subset} exceeds the {split} training "
                "images of the prepared split (dataset.train_subset); lower it"
            )
        check_snapshots(where, model, _train_size(config, model))
        check_penalty(where, model)
        for attack in model.get("attacks") or []:
            if attack not in config["attacks"]:
                raise ConfigError(
                    f"config key 'models[{index}].attacks': {attack!r} is not an attack of the "
                    f"config (attacks: {list(config['attacks'])}); add it there or remove it"
                )
    if analysis["probe"]["train_samples"] > split:
        raise ConfigError(
            f"config key 'analysis.probe.train_samples': {analysis['probe']['train_samples']} "
            f"exceeds the {split} images of the training split; lower it"
        )
    if analysis["dimension_samples"] > n_samples:
        raise ConfigError(
            f"config key 'analysis.dimension_samples': {analysis['dimension_samples']} exceeds "
            f"the {n_samples} analysed test images; lower it"
        )
    if analysis["jackknife_blocks"] == 1 or 2 * analysis["jackknife_blocks"] > n_samples:
        raise ConfigError(
            f"config key 'analysis.jackknife_blocks': {analysis['jackknife_blocks']} blocks of "
            f"{n_samples} test images; use 0 (no jackknife) or 2 to {n_samples // 2}"
        )


def penalty_of(model: Mapping) -> SpectralPenalty | None:
    """A model's spectral penalty as configured, None without one (null or weight 0)."""
    return SpectralPenalty.from_config(model["training"].get("spectral_penalty"))


def check_penalty(where: str, model: Mapping) -> None:
    """A spectral penalty trains under a rule that can carry it and leaves ranks to penalise."""
    if (penalty := penalty_of(model)) is None:
        return
    if not LEARNING_RULES[rule := rule_of(model)].penalty:
        allowed = [name for name, entry in LEARNING_RULES.items() if entry.penalty]
        raise ConfigError(
            f"config key '{where}.spectral_penalty': the {rule} rule cannot follow a spectral "
            f"penalty (its frozen layers); use a rule of {allowed}, or remove the penalty"
        )
    if (first := penalty.first_rank) >= min(model["hidden"]):
        raise ConfigError(
            f"config key '{where}.spectral_penalty.first_rank': {first} leaves no rank of the "
            f"{min(model['hidden'])}-unit layer to penalise; lower it below the narrowest layer"
        )


def intervention_family(config: Mapping) -> dict[str, dict]:
    """{model: {"weight", "exponent"}} of the intervention: `intervention.baseline` (weight 0,
    exponent None) and every model that differs from it only in its spectral penalty; {} when
    the study has no intervention (baseline null)."""
    baseline = (config.get("intervention") or {}).get("baseline")
    if baseline is None:
        return {}

    def without_penalty(model: Mapping) -> dict:
        training = {k: v for k, v in model["training"].items() if k != "spectral_penalty"}
        return {"hidden": model["hidden"], "readout": model.get("readout"), "training": training}

    models = {model["name"]: model for model in config["models"]}
    reference = without_penalty(models[baseline])
    family = {}
    for name, model in models.items():
        if without_penalty(model) == reference:
            penalty = penalty_of(model)
            family[name] = {
                "weight": penalty.weight if penalty else 0.0,
                "exponent": penalty.exponent if penalty else None,
            }
    return family


def check_intervention(config: Mapping) -> None:
    """The intervention's baseline is an unpenalised model of the study, and at least one
    penalised model differs from it only in its penalty."""
    baseline = (config.get("intervention") or {}).get("baseline")
    if baseline is None:
        return
    names = [model["name"] for model in config["models"]]
    if baseline not in names:
        raise ConfigError(
            f"config key 'intervention.baseline': {baseline!r} is not a model of the study "
            f"({names}); name the unpenalised model, or set it to null"
        )
    if penalty_of(next(m for m in config["models"] if m["name"] == baseline)) is not None:
        raise ConfigError(
            f"config key 'intervention.baseline': {baseline!r} has a spectral penalty; the "
            "baseline is the network trained without one (weight 0)"
        )
    family = intervention_family(config)
    if not any(member["weight"] > 0 for member in family.values()):
        raise ConfigError(
            f"config key 'intervention.baseline': no model differs from {baseline!r} in its "
            "spectral penalty alone (same hidden, readout and other training settings); add "
            "one with training.spectral_penalty, or set intervention.baseline to null"
        )


def check_snapshots(where: str, model: Mapping, train_size: int) -> None:
    """Snapshot points lie before the end of training and fall on distinct optimiser steps."""
    training = model["training"]
    total = total_epochs(model)
    steps_per_epoch = math.ceil(train_size / training["batch_size"])
    seen: dict[int, float] = {}
    for point in sorted(training.get("snapshots") or []):
        if point >= total:
            raise ConfigError(
                f"config key '{where}.snapshots': {point} is not before the end of training "
                f"({total} epochs); the final model is always analysed, so drop it"
            )
        step = round(point * steps_per_epoch)
        if step in seen or format_epoch(point) in {format_epoch(t) for t in seen.values()}:
            raise ConfigError(
                f"config key '{where}.snapshots': {seen.get(step, point)} and {point} fall on "
                f"the same optimiser step ({steps_per_epoch} steps per epoch); drop one"
            )
        seen[step] = point


def check_attacks(config: Mapping) -> None:
    """Attack names are not taken by other results; every method gets the keys it uses and no
    other; strengths of one attack differ in their path labels (6 significant digits)."""
    for attack, spec in config["attacks"].items():
        key = f"attacks.{attack}"
        if attack in RESERVED_NAMES:
            raise ConfigError(
                f"config key '{key}': the name {attack!r} is taken by another result "
                f"({list(RESERVED_NAMES)}); rename the attack"
            )
        try:  # the spec's own checks: a method's settings and target (vocabulary.AttackSpec)
            AttackSpec.from_config(spec)
        except SettingError as err:
            raise ConfigError(f"config key '{key}.{err.key}': {err}") from None
        labels = [format_strength(s) for s in spec["strengths"]]
        if len(set(labels)) != len(labels):
            raise ConfigError(
                f"config key '{key}.strengths': {spec['strengths']} holds values that "
                "are equal to 6 significant digits; remove the duplicates"
            )


def check_config(config: Mapping) -> None:
    """Raise ConfigError on the first invalid value of a config that snakemake.utils.validate
    has accepted (with set_default=True): non-finite numbers, floats where integers are meant,
    then relations between keys."""
    check_finite(config)
    check_types(config)
    check_dataset(config)
    check_models(config)
    check_attacks(config)
    check_claims(config)
    check_audit(config)
    check_intervention(config)


def gpu_visible() -> bool:
    """Whether this machine shows processes an NVIDIA GPU: the driver's device files exist and
    CUDA_VISIBLE_DEVICES does not hide them. Told without torch, which planning does not load."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    return not hidden and any(Path("/dev").glob("nvidia[0-9]*"))


def device_warning(config: Mapping, gpu: bool) -> str | None:
    """The warning of a plan that asks for cuda where no GPU is visible (`gpu`), else None: a
    warning, not an error, as a SLURM run plans on a login node and runs its jobs elsewhere."""
    if config["device"] != "cuda" or gpu:
        return None
    return (
        "config key 'device': cuda, but this machine shows no GPU; every job run here will "
        "fail. Set device to auto (cuda where there is one) or cpu, unless the jobs run on GPU "
        "nodes"
    )


def check_claims(config: Mapping) -> None:
    """The claims thresholds, checked now rather than in the study's last job."""
    from manifold_smoothness.claims_spec import ClaimsError, check_thresholds

    try:
        check_thresholds(config["claims"])
    except ClaimsError as err:
        raise ConfigError(str(err)) from err


def audit_enabled(config: Mapping) -> bool:
    """Whether the study audits its attacks: `audit.budgets` lists any budget."""
    return bool(config.get("audit", {}).get("budgets"))


def audited(config: Mapping, model: str) -> bool:
    """Whether a model's final network is audited: the study audits, and the model sweeps an
    attack (it has conditions beyond the clean one)."""
    return audit_enabled(config) and len(targets.model_conditions(config, model)) > 1


def check_audit(config: Mapping) -> None:
    """The audit's budgets increase (its FGSM-weakening reading walks them in order)."""
    budgets = list(config.get("audit", {}).get("budgets") or [])
    if budgets != sorted(set(budgets)):
        raise ConfigError(
            f"config key 'audit.budgets' is {budgets}; list each budget once, in increasing "
            f"order, e.g. {sorted(set(budgets))}"
        )
