"""Run the real workflow in a fresh copy, as a user with a new clone would."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "rules", "config", "src", "envs", "profiles")


def copy_workflow(dest: Path) -> Path:
    """A fresh checkout-like copy: the workflow files only, no results, no .snakemake."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def refused_dry_run(config_file: Path) -> str:
    """The output of a dry run of the checkout with `config_file`, which must fail."""
    result = snakemake(ROOT, "-n", "--configfile", str(config_file), check=False)
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> job count of a dry run (empty when there is nothing to do)."""
    out = snakemake(workdir, "--dry-run", *args).stdout
    table = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\n(?:total|\n)", out, re.S)
    if table is None:
        assert "Nothing to be done" in out, out
        return {}
    rows = (line.split() for line in table.group(1).splitlines() if line.strip())
    return {name: int(count) for name, count in rows}


def quick_preset() -> dict:
    """config/quick.yaml as written (to edit and pass as --configfile over config.yaml)."""
    import yaml

    return yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())


def quick_study() -> dict:
    """The study the quick preset runs: config.yaml with quick.yaml merged over it, as
    `--configfile` does, removed attacks dropped and the schema's defaults filled in."""
    import yaml
    from snakemake.utils import update_config, validate

    from manifold_smoothness.config import drop_removed_attacks

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(config, quick_preset())
    drop_removed_attacks(config)
    validate(config, str(ROOT / "rules" / "schemas" / "config.schema.yaml"), set_default=True)
    return config
