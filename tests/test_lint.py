"""ruff, as `make lint` runs it: the Python code stays linted and formatted."""

from __future__ import annotations

import subprocess
import sys

from workflow_runner import ROOT

PYTHON_PATHS = ("src", "tests", "bench", "rules/scripts")


def ruff(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ruff", *args, *PYTHON_PATHS]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_no_lint_errors():
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_files_unchanged():
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
