"""Hidden activations of (possibly attacked) test images, stored as one parquet file per condition.

Schema: `sample` (int32, position in the test split), `label` (int8), and one column
`layer_<l>` per hidden layer (l = 1..L, post-activation): `fixed_size_binary[4 N_l]`, each value
one sample's N_l little-endian float32 activations, the field's metadata saying so (`dtype`
`<f4`, `width` N_l). A fixed-size binary column is written as plain parquet values; a
`fixed_size_list<float32>` column (this schema before 2026-12-07, still read) carries a
repetition and definition level per float, which made writing 2-4x and reading 3-5x slower
(README: Performance). The file metadata records dataset, model, seed, attack, strength, the
realised perturbation and package versions. `read_layer` turns one column into an (n, N_l)
float32 array without copying.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from manifold_smoothness.attacks import AttackSpec, perturb_grid, perturbation_norms
from manifold_smoothness.devices import model_device
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.storage import (
    REBUILD_HINT,
    CorruptFileError,
    read_schema,
    read_table,
    table_metadata,
    write_table,
)


def layer_column(layer: int) -> str:
    """Column name of hidden layer `layer` (1-based)."""
    return f"layer_{layer}"


def package_versions() -> dict[str, str]:
    import pandas
    import scipy

    import manifold_smoothness

    return {
        "python": platform.python_version(),
        "manifold_smoothness": manifold_smoothness.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
    }


@torch.no_grad()
def hiddens(model: LocalErrorMLP, x: torch.Tensor, chunk: int = 2000) -> list[np.ndarray]:
    """Every layer's activations (n, N_l) float32 of x (n, 784), computed on the model's
    device, as numpy arrays."""
    device = model_device(model)
    parts = [model(x[i : i + chunk].to(device)) for i in range(0, len(x), chunk)]
    return [torch.cat([p[l] for p in parts]).cpu().numpy() for l in range(model.n_layers)]


def record_grid(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    strengths: list[float],
    seed: int,
    chunk: int = 2000,
) -> Iterator[tuple[list[np.ndarray], list[dict[str, float]], list[np.ndarray]]]:
    """For each strength in order: the attacked inputs' activations (one (n, N_l) float32
    array per layer), the realised perturbation norms per layer, and per layer the (n, 784)
    float32 inputs that entered it. With target `layer` (gradient methods), layer l sees inputs
    attacked through its own readout; otherwise all layers see the same inputs (the same
    array, repeated). The attacks of a grid share their work (attacks.perturb_grid)."""
    model.eval()
    if spec.target == "layer":
        grids = [
            perturb_grid(model, x, y, spec, strengths, seed, layer, chunk)
            for layer in range(model.n_layers)
        ]
        for attacked in zip(*grids, strict=True):
            if all(x_adv is x for x_adv in attacked):  # strength 0: one shared clean input
                yield _record_shared(model, x, x, chunk)
                continue
            yield (
                [hiddens(model, x_adv, chunk)[layer] for layer, x_adv in enumerate(attacked)],
                [perturbation_norms(x, x_adv) for x_adv in attacked],
                [_numpy_inputs(x_adv) for x_adv in attacked],
            )
        return
    for x_adv in perturb_grid(model, x, y, spec, strengths, seed, -1, chunk):
        yield _record_shared(model, x, x_adv, chunk)


def _record_shared(model: LocalErrorMLP, x: torch.Tensor, x_adv: torch.Tensor, chunk: int):
    """record_grid's triple when every layer sees the same inputs x_adv (the same array,
    repeated)."""
    n_layers = model.n_layers
    return (
        hiddens(model, x_adv, chunk),
        [perturbation_norms(x, x_adv)] * n_layers,
        [_numpy_inputs(x_adv)] * n_layers,
    )


def record(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    strength: float,
    seed: int,
    chunk: int = 2000,
) -> tuple[list[np.ndarray], list[dict[str, float]], list[np.ndarray]]:
    """record_grid for a grid of one strength."""
    return next(record_grid(model, x, y, spec, [strength], seed, chunk))


def _numpy_inputs(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float32, copy=False)


LAYER_DTYPE = np.dtype("<f4")


def activations_table(
    sample: np.ndarray, labels: np.ndarray, hiddens: list[np.ndarray]
) -> pa.Table:
    """The activation table; each layer becomes a fixed_size_binary column of one sample's
    float32 activations per value, a view of the array's bytes (no copy)."""
    fields = [pa.field("sample", pa.int32()), pa.field("label", pa.int8())]
    columns = [pa.array(sample, pa.int32()), pa.array(labels, pa.int8())]
    for layer, h in enumerate(hiddens, start=1):
        h = np.ascontiguousarray(h, dtype=LAYER_DTYPE)
        n, width = h.shape
        kind = pa.binary(LAYER_DTYPE.itemsize * width)
        meta = {"dtype": LAYER_DTYPE.str, "width": str(width)}
        fields.append(pa.field(layer_column(layer), kind, nullable=False, metadata=meta))
        columns.append(pa.Array.from_buffers(kind, n, [None, pa.py_buffer(h)]))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def write_activations(
    path: str | Path,
    sample: np.ndarray,
    labels: np.ndarray,
    hiddens: list[np.ndarray],
    metadata: dict[str, object],
    norms: list[dict[str, float]],
) -> None:
    meta = {k: str(v) for k, v in metadata.items()}
    meta["perturbation"] = json.dumps(norms)
    meta["versions"] = json.dumps(package_versions())
    meta["n_layers"] = str(len(hiddens))
    write_table(activations_table(sample, labels, hiddens), path, metadata=meta, scratch=True)


def read_layer(path: str | Path, layer: int) -> np.ndarray:
    """Activations of hidden layer `layer` (1-based) as an (n, N_l) float32 array, zero-copy
    from the Arrow buffer (read-only). Reads both layer encodings (module docstring)."""
    name = layer_column(layer)
    table = read_table(path, columns=[name])
    column, kind = table.column(0).combine_chunks(), table.schema.field(0).type
    if isinstance(kind, pa.FixedSizeListType) and kind.value_type == pa.float32():
        return column.values.to_numpy(zero_copy_only=True).reshape(-1, kind.list_size)
    dtype = (table.schema.field(0).metadata or {}).get(b"dtype", b"").decode()
    if (
        not isinstance(kind, pa.FixedSizeBinaryType)
        or dtype != LAYER_DTYPE.str
        or kind.byte_width % LAYER_DTYPE.itemsize
    ):
        raise CorruptFileError(
            f"{path}: column {name} has type {kind} (dtype {dtype or 'not recorded'}), not the "
            f"float32 activations of an activation file; {REBUILD_HINT}"
        )
    if column.null_count:
        raise CorruptFileError(f"{path}: column {name} has missing rows; {REBUILD_HINT}")
    width = kind.byte_width // LAYER_DTYPE.itemsize
    values = np.frombuffer(
        column.buffers()[1], LAYER_DTYPE, len(column) * width, column.offset * kind.byte_width
    )
    values.flags.writeable = False  # a view of Arrow's memory, as to_numpy gives it
    return values.reshape(len(column), width)


def read_metadata(path: str | Path) -> dict[str, str]:
    """File metadata of an activation file, without reading its columns."""
    return table_metadata(read_schema(path))


def read_labels(path: str | Path) -> np.ndarray:
    return read_table(path, columns=["label"]).column(0).to_numpy().astype(np.int64)
