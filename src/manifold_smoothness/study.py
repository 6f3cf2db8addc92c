"""The study's names and paths: the one source that the rules (at parse time), the stages, the
figures, the claims and the tests read.

It imports nothing heavy (no torch, matplotlib or pandas), so the Snakefile can import it while
it builds the DAG. A name added here (an attack, a figure) is known everywhere at once.
"""

from __future__ import annotations

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")
CLEAN = "clean"
ATTACKS = ("gaussian", "fgsm")  # swept attacks; strength 0 of every attack is the clean input
CONDITIONS = (CLEAN, *ATTACKS)  # the {attack} path component of an analysed input
FGSM_TARGETS = ("output", "layer")  # whose readout FGSM differentiates
SUMMARY_FIGURES = ("layers", *ATTACKS, "accuracy_alpha")  # drawn from summary.parquet alone
FIGURES = ("training", "spectra", *SUMMARY_FIGURES)
FIGURE_FORMATS = ("pdf", "png")

# Result paths, as Snakemake patterns ({wildcard}); str.format fills them for one target.
DATA_DIR = "results/data/{dataset}"
MODEL_DIR = "results/{dataset}/{model}"
SEED_DIR = f"{MODEL_DIR}/seed{{seed}}"
CONDITION_DIR = f"{SEED_DIR}/{{attack}}/{{strength}}"
FIGURE_DIR = "results/figures/{dataset}/{model}"
CLAIMS_DIR = "results/claims/{dataset}"


def format_strength(strength: float) -> str:
    """Path component of an attack strength: '0', '0.05', '0.125' (at most 6 significant digits)."""
    return f"{float(strength):.6g}"


def log_path(rule: str, wildcards: str) -> str:
    """results/logs/<rule>/<wildcards>.log: every job's log, mirrored by its benchmark."""
    return f"results/logs/{rule}/{wildcards}.log"


def benchmark_path(rule: str, wildcards: str) -> str:
    """results/benchmarks/<rule>/<wildcards>.tsv, Snakemake's benchmark file of the job."""
    return f"results/benchmarks/{rule}/{wildcards}.tsv"
