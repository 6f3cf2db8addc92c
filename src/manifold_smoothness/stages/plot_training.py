"""Stage plot_training: test accuracy and training loss against epoch."""

from __future__ import annotations

import pandas as pd

from manifold_smoothness.stages import check_provenance

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


def plot_training(job) -> None:
    from manifold_smoothness import figures

    w = job.wildcards
    frames = [
        read_training(path, {"dataset": w.dataset, "model": w.model, "seed": seed}).assign(
            seed=seed
        )
        for path, seed in zip(job.input.training, job.params.seeds, strict=True)
    ]
    frame = pd.concat(frames, ignore_index=True).assign(dataset=w.dataset, model=w.model)
    figures.save_figure(figures.plot_training(frame), job.output.pdf, job.output.png)
