"""Shared set-up of every rule script: the workflow's own src/ first on sys.path, then `run`.

Snakemake puts this directory on sys.path of a script job, so every script starts with
`from _job import run`. The workflow's src/ goes first, so the code that runs is the code whose
hash the rules pass as their `code` param (also inside conda environments that do not install
the package). `run` logs to the job's log file, limits torch's threads and calls the stage.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from manifold_smoothness.stages import run  # noqa: E402

__all__ = ["run"]
