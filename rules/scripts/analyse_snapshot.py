"""Rule analyse_snapshot: clean spectrum, accuracy, dimension and probe at one snapshot."""

from _job import run

from manifold_smoothness.stages.analyse_snapshot import analyse_snapshot

run(snakemake, analyse_snapshot, torch_threads=True)  # noqa: F821  (snakemake is injected by the script directive)
