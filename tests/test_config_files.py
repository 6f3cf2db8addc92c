"""Config files are read strictly: a key set twice or an alias bomb is refused, naming the file,
the line and the key; anchors, aliases and merge keys of ordinary configs keep working."""

from pathlib import Path

import pytest
import yaml
from workflow_runner import refused_dry_run

from manifold_smoothness.config_files import (
    MAX_NODES,
    ConfigFileError,
    check_config_files,
    read_config_file,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "config.yaml", *sorted((ROOT / "config").glob("*.yaml"))]


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def alias_bomb(levels: int = 9, fan_out: int = 9) -> str:
    """`seeds` as a chain of anchors, each `fan_out` aliases of the one before: a few hundred
    bytes that expand to fan_out ** levels values (a "billion laughs")."""
    lines = ["l0: &l0 [" + ", ".join(["0"] * fan_out) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    lines.append("seeds: [" + ", ".join([f"*l{levels - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def test_a_top_level_key_set_twice_is_refused_naming_file_line_and_key(tmp_path):
    path = write(tmp_path, "seeds: [0, 1]\ndevice: cpu\nseeds: [5]\n")
    with pytest.raises(ConfigFileError) as error:
        read_config_file(path)
    assert str(error.value).startswith(f"config file {path}, line 3: key 'seeds' is set twice")
    assert "first on line 1" in str(error.value)


def test_a_nested_key_set_twice_is_refused_with_its_path(tmp_path):
    text = "models:\n  - name: m\n    hidden: [10]\n    training: {lr: 1.0e-3, lr: 1.0e-2}\n"
    with pytest.raises(ConfigFileError, match=r"line 4: key 'models\[0\]\.training\.lr' is set"):
        read_config_file(write(tmp_path, text))


def test_keys_equal_once_built_are_the_same_key(tmp_path):
    with pytest.raises(ConfigFileError, match="key '1' is set twice"):
        read_config_file(write(tmp_path, "1: a\n0x1: b\n"))


def test_a_json_key_set_twice_is_refused(tmp_path):
    with pytest.raises(ConfigFileError, match=r"keys \['seeds'\] are set twice"):
        read_config_file(write(tmp_path, '{"seeds": [0], "seeds": [5]}', "study.json"))


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Refused at the first level whose expansion passes the budget (l5 of l9): the count is
    memoised per node, so nothing is expanded (no timing assertion: machines are noisy)."""
    path = write(tmp_path, alias_bomb())
    with pytest.raises(ConfigFileError, match=f"more than {MAX_NODES:,} values") as error:
        read_config_file(path)
    assert str(error.value).startswith(f"config file {path}, line 6: key 'l5' expands")


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    with pytest.raises(ConfigFileError, match="refers to itself through an alias"):
        read_config_file(write(tmp_path, "seeds: &s [0, *s]\n"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_reads_as_snakemake_reads_it(path):
    assert read_config_file(path) == yaml.safe_load(path.read_text())


def test_anchors_aliases_and_merge_keys_are_read_with_overrides(tmp_path):
    text = (
        "local: &local {rule: local, lr: 1.0e-3, epochs: 12}\n"
        "hidden: &hidden [100, 100]\n"
        "models:\n"
        "  - {hidden: *hidden, training: {<<: *local, rule: backprop}}\n"
        "  - {hidden: *hidden, training: {<<: [*local], epochs: 4}}\n"
    )
    models = read_config_file(write(tmp_path, text))["models"]
    assert models[0] == {
        "hidden": [100, 100],
        "training": {"rule": "backprop", "lr": 1.0e-3, "epochs": 12},
    }
    assert models[1]["training"] == {"rule": "local", "lr": 1.0e-3, "epochs": 4}


def test_missing_files_are_left_to_snakemake(tmp_path):
    check_config_files([tmp_path / "absent.yaml", *SHIPPED])


def test_snakemake_refuses_a_key_set_twice_before_any_job(tmp_path):
    bad = write(tmp_path, "seeds: [0, 1]\nanalysis:\n  samples: 100\n  samples: 200\n")
    assert (
        f"config file {bad}, line 4: key 'analysis.samples' is set twice (first on line 3)"
        in refused_dry_run(bad)
    )
