"""Stage of every figure that vocabulary.FIGURES draws from the study's tables (rules/figures.smk
makes one rule per figure, plot_<figure>): read the figure's inputs, call its function with the
options its rule passes, save PDF and PNG."""

from __future__ import annotations

import importlib

import pandas as pd

from manifold_smoothness.stages import check_provenance, read_summary
from manifold_smoothness.vocabulary import CLEAN, FIGURES

TRAINING_COLUMNS = {
    "epoch": "int32",
    "training_layer": "int32",
    "layer": "int32",
    "train_loss": "double",
    "train_accuracy": "double",
    "test_accuracy": "double",
}


def read_training(path, expected: dict[str, str]) -> pd.DataFrame:
    """A training log, checked against the schema training writes and the seed its path names."""
    from manifold_smoothness.storage import CorruptFileError, read_table, table_metadata

    table = read_table(path)
    types = {field.name: str(field.type) for field in table.schema}
    if types != TRAINING_COLUMNS:
        raise CorruptFileError(
            f"{path} has columns {types}, not those training writes ({TRAINING_COLUMNS}); "
            "delete it and rerun snakemake"
        )
    check_provenance(path, table_metadata(table), expected)
    return table.to_pandas()


def summary_inputs(job) -> tuple:
    """One model's summary table."""
    return (read_summary(job.input.summary),)


def training_inputs(job) -> tuple:
    """The training logs of the model's seeds, as one frame."""
    w = job.wildcards
    frames = [
        read_training(path, {"dataset": w.dataset, "model": w.model, "seed": seed}).assign(
            seed=seed
        )
        for path, seed in zip(job.input.training, job.params.seeds, strict=True)
    ]
    return (pd.concat(frames, ignore_index=True).assign(dataset=w.dataset, model=w.model),)


def spectra_inputs(job) -> tuple:
    """The clean spectra of the model's seeds and the clean rows of its summary."""
    from manifold_smoothness.storage import read_table, table_metadata

    w = job.wildcards
    spectra = []
    for path, seed in zip(job.input.spectra, job.params.seeds, strict=True):
        table = read_table(path)
        expected = {"dataset": w.dataset, "model": w.model, "seed": seed, "attack": CLEAN}
        check_provenance(path, table_metadata(table), expected)
        spectra.append(table.to_pandas()[["layer", "rank", "eigenvalue"]].assign(seed=seed))
    clean = read_summary(job.input.summary).query(f"attack == '{CLEAN}'")
    return pd.concat(spectra, ignore_index=True), clean


def summaries_inputs(job) -> tuple:
    """The summaries of every model of the dataset, as one frame."""
    return (pd.concat([read_summary(path) for path in job.input.summaries], ignore_index=True),)


# vocabulary.FIGURE_INPUTS -> what a figure function gets as positional arguments
LOADERS = {
    "summary": summary_inputs,
    "training": training_inputs,
    "spectra": spectra_inputs,
    "summaries": summaries_inputs,
}


def plot_figure(job) -> None:
    from manifold_smoothness.figures.common import save_figure

    spec = FIGURES[job.params.figure]
    function = getattr(importlib.import_module(spec.module), spec.function_name)
    figure = function(*LOADERS[spec.inputs](job), **job.params.options)
    save_figure(figure, job.output.pdf, job.output.png)
