"""The vocabulary is the one source of the study's names: the schema's enums equal it, every
registry entry has its implementation, and the parse-time code reads it without torch."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from manifold_smoothness import vocabulary as v
from manifold_smoothness.attacks import GRID_ATTACKS
from manifold_smoothness.training import STEPS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "rules" / "schemas" / "config.schema.yaml").read_text())
MODEL = SCHEMA["properties"]["models"]["items"]["properties"]
ATTACK = SCHEMA["properties"]["attacks"]["additionalProperties"]["properties"]


@pytest.mark.parametrize(
    ("where", "names"),
    [
        (SCHEMA["properties"]["dataset"]["properties"]["names"]["items"], v.DATASETS),
        (SCHEMA["properties"]["dataset"]["properties"]["source"], v.DATA_SOURCES),
        (MODEL["activation"], v.ACTIVATIONS),
        (MODEL["readout"]["properties"]["init"], v.READOUT_INITS),
        (MODEL["training"]["properties"]["lr_schedule"], v.LR_SCHEDULES),
        (MODEL["training"]["properties"]["rule"], tuple(v.LEARNING_RULES)),
        (ATTACK["method"], tuple(v.ATTACK_METHODS)),
        (ATTACK["target"], v.ATTACK_TARGETS),
    ],
    ids=["dataset", "source", "activation", "readout", "lr_schedule", "rule", "method", "target"],
)
def test_schema_enums_equal_the_vocabulary(where, names):
    assert sorted(where["enum"]) == sorted(names)  # in any order, each once


def test_schema_defaults_are_the_specs_defaults():
    training = MODEL["training"]["properties"]
    assert training["rule"]["default"] == v.DEFAULT_RULE == v.TrainConfig.rule
    assert training["lr_schedule"]["default"] == v.TrainConfig.lr_schedule
    assert MODEL["activation"]["default"] == v.ModelConfig.activation
    assert MODEL["readout"]["properties"]["init"]["default"] == v.ModelConfig.readout_init
    penalty = training["spectral_penalty"]["then"]["properties"]
    assert penalty["first_rank"]["default"] == v.DEFAULT_FIRST_RANK
    assert set(v.PGD_SETTINGS) <= set(ATTACK)
    assert ATTACK["target"]["default"] == v.AttackSpec.target


def test_every_attack_method_has_its_grid_function():
    assert set(GRID_ATTACKS) == set(v.ATTACK_METHODS)
    for method, entry in v.ATTACK_METHODS.items():
        assert set(entry.required) <= set(entry.settings) <= set(v.PGD_SETTINGS), method
        assert entry.gradients in ("none", "one", "steps"), method
        assert entry.gradient == (entry.gradients != "none"), method
    streams = [m.noise_stream for m in v.ATTACK_METHODS.values() if m.noise_stream is not None]
    assert len(set(streams)) == len(streams)  # each method that draws has its own stream


def test_every_learning_rule_has_its_step():
    assert set(STEPS) == set(v.LEARNING_RULES)
    for name, rule in v.LEARNING_RULES.items():
        parameters = inspect.signature(STEPS[name]).parameters
        assert ("layer" in parameters) == rule.layerwise, name
        assert ("penalty" in parameters) == rule.penalty, name
        assert rule.flops([10, 20]) > 0


def test_every_figure_has_its_function_and_caption():
    for name, spec in v.FIGURES.items():
        function = getattr(importlib.import_module(spec.module), spec.function_name)
        parameters = inspect.signature(function).parameters
        assert set(spec.options) <= set(parameters), name
        assert spec.module_file(ROOT / "src").is_file(), name
        assert (ROOT / "rules" / "captions" / v.CAPTIONS[name]).is_file(), name


def test_a_figure_spec_refuses_unknown_words():
    with pytest.raises(ValueError, match="scope 'run' unknown"):
        v.FigureSpec("layers:plot_layers", scope="run")
    with pytest.raises(ValueError, match="inputs 'logs' unknown"):
        v.FigureSpec("layers:plot_layers", inputs="logs")
    with pytest.raises(ValueError, match=r"options \['colour'\] unknown"):
        v.FigureSpec("layers:plot_layers", options=("colour",))


def test_total_epochs_follow_the_rule():
    spec = {"hidden": [8, 8, 8], "training": {"epochs": 2}}
    assert v.total_epochs(spec) == 2
    assert v.total_epochs({**spec, "training": {"epochs": 2, "rule": "greedy"}}) == 6
    config = v.TrainConfig(epochs=2, batch_size=4, lr=0.1, rule="greedy")
    assert config.total_epochs(3) == v.run_epochs("greedy", 2, 3) == 6


def test_the_parse_time_modules_import_no_heavy_library():
    code = (
        "import sys\n"
        "import manifold_smoothness.vocabulary, manifold_smoothness.study\n"
        "import manifold_smoothness.config, manifold_smoothness.budget\n"
        "import manifold_smoothness.targets\n"
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
