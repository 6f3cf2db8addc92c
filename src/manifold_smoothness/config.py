"""Checks of the study configuration that a JSON schema cannot express.

The schema (rules/schemas/config.schema.yaml) checks types, ranges, enums and unknown keys;
this module checks relations between keys, before any job runs, naming the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MIN_FIT_RANKS = 5
SOURCES_FOR = {"bundled": ("mnist",), "debian": ("fashion-mnist",)}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""


def format_strength(strength: float) -> str:
    """Path component of an attack strength: '0', '0.05', '0.125' (at most 6 significant digits)."""
    return f"{float(strength):.6g}"


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


def check_config(config: Mapping) -> None:
    """Raise ConfigError on the first inconsistent value of a schema-valid config."""
    dataset = config["dataset"]
    allowed = SOURCES_FOR.get(dataset["source"])
    if allowed is not None:
        for name in dataset["names"]:
            if name not in allowed:
                raise ConfigError(
                    f"config key 'dataset.source': source {dataset['source']!r} provides only "
                    f"{list(allowed)}, not {name!r}; use source auto or torchvision"
                )
    analysis = config["analysis"]
    samples, subset = analysis["samples"], dataset["test_subset"]
    if samples is not None and subset is not None and samples > subset:
        raise ConfigError(
            f"config key 'analysis.samples': {samples} exceeds dataset.test_subset ({subset})"
        )
    n_samples = samples or subset or 10_000
    names = [model["name"] for model in config["models"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"config key 'models': names {duplicates} are used more than once")
    for model in config["models"]:
        name = model["name"]
        cap = min(min(model["hidden"]), n_samples - 1) // 2
        for key in ("fit_window", "short_window"):
            check_window(f"analysis.{key} (model {name})", analysis[key], cap)
    for attack, spec in config["attacks"].items():
        labels = [format_strength(s) for s in spec["strengths"]]
        if len(set(labels)) != len(labels):
            raise ConfigError(
                f"config key 'attacks.{attack}.strengths': {spec['strengths']} holds values that "
                "are equal to 6 significant digits; remove the duplicates"
            )
