"""Malformed configs are rejected before any job runs, with a message that names the key."""

import copy
import math
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate
from snakemake_interface_common.exceptions import WorkflowError
from workflow_runner import refused_dry_run

from manifold_smoothness.config import (
    SCHEMA_PATH,
    ConfigError,
    check_config,
    device_warning,
    drop_removed_attacks,
    format_strength,
    gpu_visible,
    key_path,
    refuse_renamed_keys,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "rules" / "schemas" / "config.schema.yaml"


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def load(config: dict) -> dict:
    """What the Snakefile does: schema validation with defaults, then the cross-key checks."""
    config = copy.deepcopy(config)
    drop_removed_attacks(config)
    validate(config, str(SCHEMA), set_default=True)
    check_config(config)
    return config


def test_default_and_quick_configs_are_valid():
    load(default_config())
    quick = default_config()
    update_config(quick, yaml.safe_load((ROOT / "config" / "quick.yaml").read_text()))
    assert set(load(quick)["attacks"]) == {"gaussian", "fgsm", "pgd"}


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


def test_every_schema_number_has_a_finite_range():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, path):
        if isinstance(node, dict):
            types = node.get("type", [])
            if {"number", "integer"} & set([types] if isinstance(types, str) else types):
                assert {"minimum", "exclusiveMinimum"} & node.keys(), f"{path} has no lower bound"
                assert {"maximum", "exclusiveMaximum"} & node.keys(), f"{path} has no upper bound"
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")

    walk(schema, "schema")


def test_check_config_reads_the_schema_the_snakefile_validates_against():
    assert SCHEMA_PATH == SCHEMA


def test_key_path_writes_list_indices_in_brackets():
    assert key_path(("models", 0, "readout", "scale")) == "models[0].readout.scale"
    assert key_path(("seeds", 3)) == "seeds[3]"


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
    ("attacks.pgd", {"strengths": [0.1]}, "method"),
    ("attacks.fgsm.method", "cw", "cw"),
    ("attacks.Bad", {"method": "fgsm", "strengths": [0.1]}, "Bad"),
    ("models.0.training.rule", "hebb", "hebb"),
    ("models.0.training.label_noise", 1.0, "maximum"),
    ("models.0.training.snapshots", [-1], "minimum"),
    ("analysis.jackknife_blocks", 500, "maximum"),
    ("analysis.probe.l2", 0, "minimum"),
    ("analysis.fit_window", [11], "too short|should be non-empty"),
    ("analysis.fit_windw", [11, 500], "fit_windw"),
    ("claims.min_rho", 1.5, "maximum"),
    ("claims.monotonic_majority", 0.5, "minimum"),
    ("threads", 0, "minimum"),
    ("threads", True, "not of type 'integer'"),
    ("models.0.hidden", [100, False], "not of type 'integer'"),
    ("models.0.training.lr", math.inf, "maximum"),
    ("seeds", [0, 2**31], "maximum"),
    ("models.0.name", "mlp\n", "does not match"),
    ("models.0.name", "m" * 300, "too long"),
    ("dataset.test_subset", 20_000, "maximum"),
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
    ("models.0.training.snapshots", [0, 12], "training.snapshots': 12 is not before the end"),
    ("models.0.training.snapshots", [0, 0.001], "fall on the same optimiser step"),
    ("models.2.training.snapshots", [20], "20 is not before the end of training"),
    ("models.0.attacks", ["cw"], "'cw' is not an attack of the config"),
    ("attacks.gaussian.target", "layer", "attacks.gaussian.target"),
    ("attacks.gaussian.steps", 3, "attacks.gaussian.steps': steps are settings of pgd"),
    ("attacks.pgd", {"method": "pgd", "strengths": [0.1]}, "attacks.pgd.steps"),
    ("attacks.layers", {"method": "gaussian", "strengths": [0.1]}, "the name 'layers' is taken"),
    ("analysis.jackknife_blocks", 1, "analysis.jackknife_blocks"),
    ("analysis.samples", 1000, "analysis.dimension_samples"),
    ("dataset.train_subset", 500, "0 and 0.05 fall on the same optimiser step"),
]


@pytest.mark.parametrize("key, value, message", CROSS_KEY, ids=[c[0] for c in CROSS_KEY])
def test_cross_key_checks_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load(_set(default_config(), key, value))


def _grid_with_nan() -> list[float]:
    grid = default_config()["attacks"]["gaussian"]["strengths"]
    grid[3] = math.nan
    return grid


# What JSON Schema accepts but the study cannot use: check_config names the key.
NOT_FINITE_OR_NOT_INTEGER = [
    pytest.param(
        "attacks.gaussian.strengths",
        _grid_with_nan(),
        r"attacks\.gaussian\.strengths\[3\]': nan is not a finite number",
        id="nan-strength",
    ),
    pytest.param(
        "models.0.readout.scale", math.nan, r"models\[0\]\.readout\.scale': nan", id="nan-scale"
    ),
    pytest.param(
        "claims.input_dimension", math.nan, r"claims\.input_dimension': nan", id="nan-dimension"
    ),
    pytest.param("seeds", [0, 1.0, 2], r"seeds\[1\]': 1\.0 is a float .* write 1$", id="seed"),
    pytest.param(
        "models.0.training.epochs",
        12.0,
        r"models\[0\]\.training\.epochs': 12\.0 is a float .* write 12$",
        id="epochs",
    ),
    pytest.param(
        "models.0.training.batch_size",
        128.0,
        r"models\[0\]\.training\.batch_size': 128\.0 is a float",
        id="batch-size",
    ),
    pytest.param(
        "models.0.hidden", [1000.0, 1000], r"models\[0\]\.hidden\[0\]': 1000\.0", id="width"
    ),
    pytest.param("dataset.test_subset", 600.0, r"dataset\.test_subset': 600\.0", id="subset"),
    pytest.param("analysis.samples", 500.0, r"analysis\.samples': 500\.0", id="samples"),
    pytest.param(
        "analysis.fit_window", [11, 500.0], r"analysis\.fit_window\[1\]': 500\.0", id="window"
    ),
    pytest.param("threads", 2.0, r"threads': 2\.0 is a float", id="threads"),
]


@pytest.mark.parametrize("key, value, message", NOT_FINITE_OR_NOT_INTEGER)
def test_non_finite_numbers_and_float_integers_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load(_set(default_config(), key, value))


def test_check_config_rejects_infinity_the_schema_would_also_reject():
    config = load(default_config())
    config["models"][0]["training"]["lr"] = -math.inf
    with pytest.raises(ConfigError, match=r"models\[0\]\.training\.lr': -inf is not a finite"):
        check_config(config)


def test_check_config_rejects_a_boolean_where_an_integer_is_meant():
    config = load(default_config())
    config["models"][0]["training"]["epochs"] = True
    with pytest.raises(ConfigError, match=r"models\[0\]\.training\.epochs': True is not of type"):
        check_config(config)


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
    output = refused_dry_run(bad)
    assert "hidden" in output
    assert "-3 is less than the minimum of 1" in output


@pytest.mark.parametrize("key, value", [("min_rho", 0.0), ("high_accuracy", 1.5)])
def test_claims_thresholds_are_checked_with_the_config_not_in_the_last_job(key, value):
    config = load(default_config())
    config["claims"][key] = value
    with pytest.raises(ConfigError, match=rf"claims\.{key}"):
        check_config(config)


def test_a_model_subset_larger_than_the_prepared_split_is_rejected():
    config = default_config()
    config["dataset"]["train_subset"] = 500
    config["models"] = [m for m in config["models"] if m["name"] == "local-subset600"]
    config["models"][0]["training"]["snapshots"] = [0]
    with pytest.raises(ConfigError, match="train_subset': 600 exceeds the 500 training images"):
        load(config)


def test_device_cuda_without_a_gpu_warns_while_planning():
    config = default_config()
    assert device_warning(config, gpu=False) is None  # device: auto
    config["device"] = "cuda"
    assert device_warning(config, gpu=True) is None
    assert "config key 'device': cuda, but this machine shows no GPU" in device_warning(
        config, gpu=False
    )


def test_gpu_visible_agrees_with_torch():
    torch = pytest.importorskip("torch")
    assert gpu_visible() == torch.cuda.is_available()


def test_cuda_visible_devices_can_hide_every_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not gpu_visible()


def test_a_renamed_claims_key_is_refused_with_its_replacement() -> None:
    config = {"claims": {"min_alpha_effect": 0.05, "min_relative_reversal": 0.25}}
    with pytest.raises(ConfigError, match=r"'claims.min_alpha_effect' was replaced by claims"):
        refuse_renamed_keys(config)
    refuse_renamed_keys({"claims": {"min_relative_reversal": 0.25}})  # the current key passes


def intervention_config(**intervention) -> dict:
    """config/intervention.yaml over config.yaml, its intervention keys updated."""
    config = default_config()
    update_config(config, yaml.safe_load((ROOT / "config" / "intervention.yaml").read_text()))
    config["intervention"].update(intervention)
    return config


def test_the_intervention_config_names_its_family_from_the_penalties():
    from manifold_smoothness.config import intervention_family

    family = intervention_family(load(intervention_config()))
    assert family["local-w256"] == {"weight": 0.0, "exponent": None}
    assert family["local-w256-a2.5-w0.01"] == {"weight": 0.01, "exponent": 2.5}
    assert len(family) == 7


def test_a_model_that_differs_in_more_than_its_penalty_is_not_of_the_family():
    from manifold_smoothness.config import intervention_family

    config = intervention_config()
    config["models"][1]["training"] = {**config["models"][1]["training"], "epochs": 3}
    assert config["models"][1]["name"] not in intervention_family(load(config))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["intervention"].update(baseline="nope"), "'nope' is not a model"),
        (lambda c: c["intervention"].update(baseline="local-w256-a1-w1"), "has a spectral penalty"),
        (lambda c: c.update(models=c["models"][:1]), "no model differs"),
        (
            lambda c: c["models"][1]["training"].update(rule="greedy"),
            "greedy rule cannot follow a spectral penalty",
        ),
        (
            lambda c: c["models"][1]["training"]["spectral_penalty"].update(first_rank=256),
            "spectral_penalty.first_rank': 256 leaves no rank",
        ),
    ],
)
def test_a_broken_intervention_is_refused_naming_the_key(change, message):
    config = intervention_config()
    change(config)
    with pytest.raises(ConfigError, match=message):
        load(config)


def test_a_penalty_needs_its_weight_and_exponent():
    config = intervention_config()
    del config["models"][1]["training"]["spectral_penalty"]["exponent"]
    with pytest.raises(WorkflowError, match="exponent"):
        load(config)
