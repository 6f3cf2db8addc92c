"""The study's paths: the one source that the rules (at parse time), the stages, the figures,
the claims and the tests read. Its names (datasets, methods, rules, figures) are in
vocabulary.py.

It imports nothing heavy (no torch, matplotlib or pandas), so the Snakefile can import it while
it builds the DAG.
"""

from __future__ import annotations

# Result paths, as Snakemake patterns ({wildcard}); str.format fills them for one target.
DATA_DIR = "results/data/{dataset}"
MODEL_DIR = "results/{dataset}/{model}"
SEED_DIR = f"{MODEL_DIR}/seed{{seed}}"
CONDITION_DIR = f"{SEED_DIR}/{{attack}}/{{strength}}"  # an input condition of the final model
SNAPSHOT_DIR = f"{SEED_DIR}/snapshots/{{epoch}}"  # the clean test images at one snapshot
FIGURE_DIR = "results/figures/{dataset}/{model}"
STUDY_FIGURE_DIR = "results/figures/{dataset}"
CLAIMS_DIR = "results/claims"
RUN_CONFIG = "results/config.yaml"  # the config a run used, as Snakemake saw it
SUMMARY_FILE = f"{MODEL_DIR}/summary.parquet"  # one row per seed x condition x snapshot x layer


def format_strength(strength: float) -> str:
    """Path component of an attack strength: '0', '0.05', '0.125' (at most 6 significant digits)."""
    return f"{float(strength):.6g}"


def format_epoch(epoch: float) -> str:
    """Path component of a snapshot's point of training in epochs: '0', '0.05', '2'."""
    return f"{float(epoch):.6g}"


def log_path(rule: str, wildcards: str) -> str:
    """results/logs/<rule>/<wildcards>.log: every job's log, mirrored by its benchmark."""
    return f"results/logs/{rule}/{wildcards}.log"


def benchmark_path(rule: str, wildcards: str) -> str:
    """results/benchmarks/<rule>/<wildcards>.tsv, Snakemake's benchmark file of the job."""
    return f"results/benchmarks/{rule}/{wildcards}.tsv"
