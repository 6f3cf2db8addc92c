"""The study's names and paths: the one source that the rules (at parse time), the stages, the
figures, the claims and the tests read.

It imports nothing heavy (no torch, matplotlib or pandas), so the Snakefile can import it while
it builds the DAG. Attacks are named in the config (each with a method from ATTACK_METHODS);
everything else that has a fixed name is named here.
"""

from __future__ import annotations

DATASETS = ("mnist", "fashion-mnist")
SPLITS = ("train", "test")
CLEAN = "clean"  # the {attack} path component of the unattacked test images
ATTACK_METHODS = ("gaussian", "fgsm", "random_sign", "pgd")
GRADIENT_METHODS = ("fgsm", "pgd")  # methods that differentiate a readout: they have a target
ATTACK_TARGETS = ("output", "layer")  # whose readout a gradient attack differentiates
RULES = ("local", "greedy", "backprop")  # learning rules (training.RULES says what each does)
# Figures of one model; every attack of the model adds one more, named like the attack.
MODEL_FIGURES = ("training", "spectra", "layers", "trajectory", "accuracy_alpha")
SUMMARY_FIGURES = ("layers", "trajectory", "accuracy_alpha")  # drawn from summary.parquet alone
STUDY_FIGURES = ("generalization",)  # one per dataset, across all its models
FIGURE_FORMATS = ("pdf", "png")
# PGD runs the strengths of a grid as one batch of at most this many attacked image rows
# (attacks.perturb_grid); budget.py sizes a record job's memory by it.
PGD_GRID_ROWS = 65536
RESERVED_NAMES = (CLEAN, *MODEL_FIGURES, *STUDY_FIGURES, "snapshots")  # not an attack's name

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
