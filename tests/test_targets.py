"""What the study builds, and the clear error for a requested file outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from manifold_smoothness.targets import (
    TargetError,
    all_targets,
    check_wildcards,
    condition_files,
    conditions,
    outside_study_pattern,
    sweep_files,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def condition(seed="0", attack="gaussian", strength="0.1", model="mlp5x1000") -> dict:
    return {
        "dataset": "mnist",
        "model": model,
        "seed": seed,
        "attack": attack,
        "strength": strength,
    }


def test_conditions_are_clean_once_then_every_positive_strength(config):
    found = conditions(config)
    assert found[0] == ("clean", "0")
    assert ("gaussian", "0.05") in found and ("fgsm", "0.025") in found
    assert ("gaussian", "0") not in found and ("fgsm", "0") not in found
    assert len(found) == 1 + 20 + 20


def test_every_spectrum_of_every_seed_is_a_target(config):
    spectra = condition_files(config, "spectrum.parquet", "mnist", "mlp5x1000")
    assert len(spectra) == 3 * 41
    assert set(spectra) <= set(all_targets(config))
    assert "results/mnist/mlp5x1000/seed2/fgsm/0.5/spectrum.parquet" in spectra


def test_a_condition_of_the_study_passes(config):
    check_wildcards(config, condition())
    check_wildcards(config, condition(attack="clean", strength="0"))


@pytest.mark.parametrize(
    ("wildcards", "message"),
    [
        (condition(seed="7"), "seed 7 is not in seeds"),
        (condition(strength="0.33"), r"strength 0.33 is not in attacks.gaussian.strengths"),
        (condition(strength="0.10"), r"not in attacks.gaussian.strengths"),
        (condition(strength="5"), r"outside \(0, 1\]"),
        (condition(attack="fgsm", strength="0"), r"outside \(0, 1\]"),
        (condition(attack="clean", strength="0.1"), "clean condition has strength 0 only"),
        (condition(model="other"), "model 'other' is not in the config's models"),
        ({"dataset": "fashion-mnist"}, "not in dataset.names"),
    ],
)
def test_a_target_outside_the_study_is_refused_with_the_key_to_change(config, wildcards, message):
    with pytest.raises(TargetError, match=message):
        check_wildcards(config, wildcards)


def test_sweep_files_hold_every_positive_strength_of_one_attack(config):
    files = sweep_files(config, "fgsm", "spectrum.parquet")
    assert len(files) == 20
    assert files[0] == "results/{dataset}/{model}/seed{seed}/fgsm/0.025/spectrum.parquet"
    assert sweep_files(config, "clean", "spectrum.parquet") == [
        "results/{dataset}/{model}/seed{seed}/clean/0/spectrum.parquet"
    ]


def test_the_outside_pattern_matches_only_conditions_no_rule_makes(config):
    import re

    pattern = re.compile(outside_study_pattern(config) + "/spectrum.parquet")
    assert pattern.fullmatch("gaussian/0.33/spectrum.parquet")
    assert pattern.fullmatch("pgd/0.1/spectrum.parquet")
    assert not pattern.fullmatch("gaussian/0.1/spectrum.parquet")
    assert not pattern.fullmatch("clean/0/spectrum.parquet")


def test_a_condition_path_part_outside_the_study_is_refused(config):
    with pytest.raises(TargetError, match="attack 'pgd' is not one of the study's"):
        check_wildcards(config, {"seed": "0", "condition": "pgd/0.1"})
    with pytest.raises(TargetError, match="0.33 is not in attacks.fgsm.strengths"):
        check_wildcards(config, {"seed": "0", "condition": "fgsm/0.33"})
