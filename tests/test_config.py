"""Malformed configs are rejected before any job runs, with a message that names the key."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

from manifold_smoothness.config import ConfigError, check_config, format_strength

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "rules" / "schemas" / "config.schema.yaml"


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def load(config: dict) -> dict:
    """What the Snakefile does: schema validation with defaults, then the cross-key checks."""
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA), set_default=True)
    check_config(config)
    return config


def test_default_and_quick_configs_are_valid():
    load(default_config())
    quick = default_config()
    quick.update(yaml.safe_load((ROOT / "config" / "quick.yaml").read_text()))
    load(quick)


def test_schema_fills_documented_defaults():
    config = load({"models": [{"name": "m", "hidden": [100, 100]}]})
    assert config["seeds"] == [0, 1, 2]
    assert config["models"][0]["training"]["lr"] == 1.0e-3
    assert config["analysis"]["fit_window"] == [11, 500]


def test_every_schema_key_has_a_description_and_a_default():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{path}.{key} has no description"
            assert "default" in sub, f"{path}.{key} has no default"
            walk(sub, f"{path}.{key}")
        if "items" in node and isinstance(node["items"], dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "config")


def _set(config: dict, dotted: str, value) -> dict:
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return config


MALFORMED = [
    ("models.0.hidden", [100, -3], "minimum"),
    ("models.0.hidden", [], "should be non-empty|too short"),
    ("models.0.hidden", "1000", "not of type 'array'"),
    ("models.0.activation", "gelu", "gelu"),
    ("models.0.training.lr", "1e-3", "not of type 'number'"),
    ("models.0.training.lr", -0.1, "minimum"),
    ("models.0.training.epochs", 2.5, "not of type 'integer'"),
    ("models.0.training.batch_size", 0, "minimum"),
    ("models.0.readout.init", "orthogonal", "orthogonal"),
    ("models.0.name", "bad/name", "does not match"),
    ("models", [], "should be non-empty|too short"),
    ("seeds", [], "should be non-empty|too short"),
    ("seeds", [0, 0], "non-unique|unique"),
    ("device", "tpu", "tpu"),
    ("dataset.names", ["cifar10"], "cifar10"),
    ("dataset.source", "internet", "internet"),
    ("dataset.train_subset", 5, "minimum"),
    ("attacks.gaussian.strengths", [], "should be non-empty|too short"),
    ("attacks.gaussian.strengths", [0.0, 1.5], "maximum"),
    ("attacks.fgsm.strengths", [-0.1], "minimum"),
    ("attacks.fgsm.target", "input", "input"),
    ("attacks.pgd", {"strengths": [0.1]}, "pgd"),
    ("analysis.fit_window", [11], "too short|should be non-empty"),
    ("analysis.fit_windw", [11, 500], "fit_windw"),
    ("claims.monotonic_rho", 1.5, "maximum"),
    ("threads", 0, "minimum"),
]


@pytest.mark.parametrize("key, value, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_schema_rejects_malformed_value(key, value, message):
    config = _set(default_config(), key, value)
    with pytest.raises(WorkflowError, match=message) as err:
        load(config)
    leaf = key.split(".")[-1]
    assert leaf in str(err.value) or repr(value) in str(err.value) or str(value) in str(err.value)


CROSS_KEY = [
    ("analysis.fit_window", [11, 13], "analysis.fit_window"),
    ("analysis.fit_window", [500, 11], "analysis.fit_window"),
    ("analysis.short_window", [498, 600], "analysis.short_window"),  # capped at 500 = 1000/2
    ("models", [{"name": "a", "hidden": [10]}, {"name": "a", "hidden": [20]}], "models"),
    ("dataset.source", "debian", "dataset.source"),  # debian has no MNIST
    ("attacks.fgsm.strengths", [0.1, 0.1000000001], "attacks.fgsm.strengths"),
]


@pytest.mark.parametrize("key, value, message", CROSS_KEY, ids=[c[0] for c in CROSS_KEY])
def test_cross_key_checks_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(_set(default_config(), key, value))


def test_window_too_small_for_narrow_layers_is_rejected():
    config = _set(default_config(), "models.0.hidden", [16, 16])
    with pytest.raises(ConfigError, match="capped at rank 8"):
        load(config)


def test_strength_path_labels():
    assert [format_strength(s) for s in (0, 0.0, 0.05, 0.1, 0.125, 1)] == [
        "0",
        "0",
        "0.05",
        "0.1",
        "0.125",
        "1",
    ]


def test_snakemake_stops_before_any_job_and_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: m\n    hidden: [100, -3]\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--cores", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "hidden" in result.stdout + result.stderr
    assert "-3 is less than the minimum of 1" in result.stdout + result.stderr
