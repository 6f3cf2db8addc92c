"""What the study builds, and the clear error for a requested file outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from manifold_smoothness.targets import (
    TargetError,
    all_targets,
    check_sweep,
    check_wildcards,
    condition_files,
    conditions,
    model_attacks,
    outside_study_pattern,
    probe_files,
    probe_wildcards,
    snapshot_files,
    snapshots,
    sweep_files,
)
from manifold_smoothness.vocabulary import total_epochs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def condition(seed="0", attack="gaussian", strength="0.1", model="local") -> dict:
    return {
        "dataset": "mnist",
        "model": model,
        "seed": seed,
        "attack": attack,
        "strength": strength,
    }


def test_conditions_are_clean_once_then_every_positive_strength(config):
    found = conditions(config, "local")
    assert found[0] == ("clean", "0")
    assert ("gaussian", "0.05") in found and ("fgsm", "0.025") in found
    assert ("pgd_layer", "0.5") in found and ("random_sign", "0.05") in found
    assert ("gaussian", "0") not in found and ("fgsm", "0") not in found
    assert len(found) == 1 + 20 + 20 + 4 * 10


def test_a_model_without_attacks_has_the_clean_condition_only(config):
    assert model_attacks(config, "greedy") == []
    assert conditions(config, "local-subset600") == [("clean", "0")]
    assert model_attacks(config, "backprop") == list(config["attacks"])


def test_every_spectrum_of_every_seed_is_a_target(config):
    spectra = condition_files(config, "spectrum.parquet", "mnist", "local")
    assert len(spectra) == 3 * 81
    assert set(spectra) <= set(all_targets(config))
    assert "results/mnist/local/seed2/fgsm/0.5/spectrum.parquet" in spectra
    assert not any("/fgsm/" in f for f in condition_files(config, "x", "mnist", "greedy"))


def test_snapshots_are_targets_with_their_probes(config):
    assert snapshots(config, "local") == ["0", "0.05", "0.1", "0.25", "0.5", "1", "2", "4", "8"]
    files = snapshot_files(config, "spectrum.parquet", "mnist", "local")
    assert len(files) == 3 * 9
    assert "results/mnist/local/seed1/snapshots/0.05/spectrum.parquet" in files
    assert set(files) <= set(all_targets(config))
    probes = probe_files(config, "mnist", "local")
    assert probes[0] == "results/mnist/local/seed0/probe.parquet"
    assert len(probes) == len(probe_wildcards(config, "mnist", "local")) == 3 + 27
    assert probe_wildcards(config, "mnist", "local")[0]["epoch"] == "final"


def test_greedy_trains_every_layer_for_its_epochs(config):
    greedy = next(m for m in config["models"] if m["name"] == "greedy")
    assert total_epochs(greedy) == 5 * greedy["training"]["epochs"]


def test_a_condition_of_the_study_passes(config):
    check_wildcards(config, condition())
    check_wildcards(config, condition(attack="clean", strength="0"))
    check_wildcards(config, {"model": "local", "seed": "0", "epoch": "0.05"})


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
        (condition(model="greedy"), "attack 'gaussian' is not swept on model 'greedy'"),
        (condition(attack="cw"), "attack 'cw' is not configured"),
        ({"model": "local", "epoch": "0.3"}, r"epoch 0.3 is not a snapshot of model 'local'"),
        ({"dataset": "fashion-mnist"}, "not in dataset.names"),
    ],
)
def test_a_target_outside_the_study_is_refused_with_the_key_to_change(config, wildcards, message):
    with pytest.raises(TargetError, match=message):
        check_wildcards(config, wildcards)


def test_a_sweep_job_of_a_model_without_that_attack_is_refused(config):
    check_sweep(config, {"dataset": "mnist", "model": "local", "seed": "0"}, "pgd")
    check_sweep(config, {"dataset": "mnist", "model": "greedy", "seed": "0"}, "clean")
    with pytest.raises(TargetError, match="add it to the model's attacks list"):
        check_sweep(config, {"dataset": "mnist", "model": "greedy", "seed": "0"}, "pgd")


def test_sweep_files_hold_every_positive_strength_of_one_attack(config):
    files = sweep_files(config, "fgsm", "spectrum.parquet")
    assert len(files) == 20
    assert files[0] == "results/{dataset}/{model}/seed{seed}/fgsm/0.025/spectrum.parquet"
    assert sweep_files(config, "clean", "spectrum.parquet") == [
        "results/{dataset}/{model}/seed{seed}/clean/0/spectrum.parquet"
    ]


def test_the_outside_pattern_matches_only_conditions_no_rule_makes(config):
    pattern = re.compile(outside_study_pattern(config) + "/spectrum.parquet")
    assert pattern.fullmatch("gaussian/0.33/spectrum.parquet")
    assert pattern.fullmatch("cw/0.1/spectrum.parquet")
    assert not pattern.fullmatch("gaussian/0.1/spectrum.parquet")
    assert not pattern.fullmatch("pgd/0.1/spectrum.parquet")
    assert not pattern.fullmatch("clean/0/spectrum.parquet")
    assert not pattern.fullmatch("snapshots/0.3/spectrum.parquet")  # analyse_snapshot refuses it


def test_a_condition_path_part_outside_the_study_is_refused(config):
    with pytest.raises(TargetError, match="attack 'cw' is not configured"):
        check_wildcards(config, {"seed": "0", "condition": "cw/0.1"})
    with pytest.raises(TargetError, match="0.33 is not in attacks.fgsm.strengths"):
        check_wildcards(config, {"seed": "0", "condition": "fgsm/0.33"})
