"""Stage record_config: the resolved configuration of the run, for the report."""

from __future__ import annotations

from pathlib import Path


def record_config(job) -> None:
    import yaml

    text = yaml.safe_dump(job.params.config, sort_keys=False)
    Path(job.output.config).write_text("# resolved configuration of this run\n" + text)
