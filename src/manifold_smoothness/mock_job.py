"""A rule's job outside Snakemake, to run its stage by hand (PyPSA-Eur's `mock_snakemake`).

Snakemake parses the workflow and builds the job of one rule with the given wildcards: its
input, output, params and log exactly as `snakemake` would pass them, without planning or
running anything else. From a Python prompt in the repository root:

    >>> from manifold_smoothness.mock_job import mock_job
    >>> from manifold_smoothness.stages import run
    >>> from manifold_smoothness.stages.compute_spectrum import compute_spectrum
    >>> job = mock_job("compute_spectrum", configfiles=["config/quick.yaml"],
    ...                dataset="mnist", model="quick", seed="0", attack="fgsm")
    >>> run(job, compute_spectrum)  # or compute_spectrum(job), without the job's log

The job's inputs must exist (run snakemake up to them first); its output and log folders are
made, as Snakemake makes them before a job.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace


class MockJobError(ValueError):
    """The rule or its wildcards do not name a job of the workflow."""


def mock_job(
    rule: str,
    configfiles: Sequence[str | Path] = (),
    root: str | Path = ".",
    **wildcards: object,
) -> SimpleNamespace:
    """The job of `rule` with `wildcards`, as `snakemake --configfile <configfiles>` run in
    `root` would give it to the rule's script.

    `rule` is a rule's name, or a stage's whose rules are one per attack (`compute_spectrum`
    with attack="fgsm" is the rule compute_spectrum_fgsm). Relative `configfiles` are taken
    from `root`. The namespace holds input, output, log (absolute paths), params, wildcards,
    threads, resources and rule. `root` is the workflow's folder (the current one by default).
    """
    with workflow_jobs(configfiles, root) as job:
        return job(rule, **wildcards)


@contextmanager
def workflow_jobs(
    configfiles: Sequence[str | Path] = (), root: str | Path = "."
) -> Iterator[Callable[..., SimpleNamespace]]:
    """Parse the workflow once and yield `job(rule, **wildcards)`, which builds the namespace
    of `mock_job`; for several jobs of one configuration (parsing takes seconds)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        ResourceSettings,
    )

    root = Path(root).resolve()
    if not (root / "Snakefile").is_file():
        raise FileNotFoundError(
            f"no Snakefile in {root}: run from the workflow's folder or pass root=<that folder>"
        )
    files = [root / f for f in configfiles]  # an absolute path stays as it is
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"config file {file} does not exist")
    path = sys.path[:]  # the Snakefile puts its src/ first; the caller's imports stay theirs
    try:
        with SnakemakeApi(OutputSettings(enable_file_logging=False)) as api:
            workflow_api = api.workflow(
                ResourceSettings(cores=1),
                ConfigSettings(configfiles=files),
                snakefile=root / "Snakefile",
                workdir=root,
            )
            workflow_api.dag(DAGSettings())  # parses the Snakefile
            # Snakemake's API has no public way to build one job; PyPSA-Eur's mock_snakemake
            # builds it from the workflow the same way
            workflow = workflow_api._workflow
            yield lambda rule, **wildcards: _job(workflow, root, rule, wildcards)
    finally:
        sys.path[:] = path


def _job(workflow, root: Path, rule: str, wildcards: dict[str, object]) -> SimpleNamespace:
    from snakemake.dag import DAG
    from snakemake.iocontainers import Namedlist
    from snakemake.jobs import Job

    names = {r.name for r in workflow.rules}
    wildcards = {key: str(value) for key, value in wildcards.items()}
    if rule not in names and f"{rule}_{wildcards.get('attack')}" in names:
        rule = f"{rule}_{wildcards.pop('attack')}"
    if rule not in names:
        raise MockJobError(
            f"no rule {rule!r} in the workflow (rules: {sorted(names)}); a stage with one rule "
            "per attack takes the attack as a wildcard, e.g. attack='fgsm'"
        )
    found = workflow.get_rule(rule)
    if set(found.wildcard_names) != set(wildcards):
        raise MockJobError(
            f"rule {rule} has the wildcards {sorted(found.wildcard_names)}, not "
            f"{sorted(wildcards)}; give each of them, e.g. seed='0'"
        )
    job = Job(found, DAG(workflow, rules=[found]), wildcards)

    def absolute(files):
        return Namedlist(toclone=files, custom_map=lambda f: str(root / f))

    namespace = SimpleNamespace(
        input=absolute(job.input),
        output=absolute(job.output),
        log=absolute(job.log),
        params=job.params,
        wildcards=job.wildcards,
        threads=job.threads,
        resources=job.resources,
        rule=rule,
    )
    for file in [*namespace.output, *namespace.log]:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
    return namespace
