"""Snakemake entry point of every rule: runs manifold_smoothness.stages.<rule name>.

The workflow's own src/ goes first on sys.path, so the code that runs is the code whose hash
the rules pass as the `code` param (also inside conda environments that do not install it).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from manifold_smoothness.stages import run  # noqa: E402

run(snakemake)  # noqa: F821  (injected by Snakemake's script directive)
