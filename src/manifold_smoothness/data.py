"""Class-stratified subsets and the parquet split files every later stage reads.

A split holds uint8 images (n, 784), int8 labels and each row's position in the source split,
with the source's provenance as file metadata. ``images_to_tensor`` turns images into float32 in
[0, 1] (uint8 / 255). Inputs stay in [0, 1]: any normalisation lives inside the model, so that
adversarial perturbations and clipping are expressed in pixel space. Where the full datasets come
from (and how they are checked) is ``manifold_smoothness.sources``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from manifold_smoothness.sources import N_CLASSES, N_PIXELS, load_dataset
from manifold_smoothness.storage import (
    REBUILD_HINT,
    CorruptFileError,
    read_table,
    table_metadata,
    write_table,
)

if TYPE_CHECKING:  # torch is imported where tensors are made: reading splits does not need it
    import torch

__all__ = [
    "N_CLASSES",
    "Split",
    "images_to_tensor",
    "prepare_dataset",
    "read_split",
    "split_tensors",
    "stratified_subset",
    "write_split",
]


@dataclass(frozen=True)
class Split:
    """One split as stored in parquet: original positions, labels, images and file metadata."""

    index: np.ndarray  # (n,) int32, position in the source split
    labels: np.ndarray  # (n,) int8
    images: np.ndarray  # (n, 784) uint8
    metadata: dict[str, str]


def stratified_subset(labels: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted int64 indices of a deterministic class-stratified subset of size `n`.

    Per-class counts are proportional to the class frequencies in `labels`, rounded with the
    largest-remainder method (ties to the smaller label) so that they sum to exactly `n`; within
    each class, in label order, the members are drawn without replacement with
    ``numpy.random.default_rng(seed)``. `n` None or >= len(labels) returns every index.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    total = len(labels)
    if n is None:
        return np.arange(total, dtype=np.int64)
    n = int(n)
    if n < 1:
        raise ValueError(f"subset size must be at least 1, got {n}")
    if n >= total:
        return np.arange(total, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    if n < len(classes):
        raise ValueError(
            f"subset size {n} is smaller than the number of classes ({len(classes)}); "
            "a stratified subset needs at least one example per class"
        )
    exact = counts * n / total
    quota = np.floor(exact).astype(np.int64)
    shortfall = n - int(quota.sum())
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[:shortfall]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=int(k), replace=False)
        for cls, k in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


REQUIRED_METADATA = ("dataset", "split", "source", "source_file", "source_sha256")


def write_split(
    path: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    index: np.ndarray,
    metadata: dict[str, str],
) -> None:
    """Write one split as zstd parquet (columns index:int32, label:int8,
    image:fixed_size_list<uint8>[784]) atomically, with `metadata` as file key-value metadata
    (which must include dataset, split, source, source_file and source_sha256)."""
    images = np.ascontiguousarray(images)
    labels = np.asarray(labels)
    index = np.asarray(index)
    n = len(images)
    if images.dtype != np.uint8 or images.shape != (n, N_PIXELS):
        raise ValueError(f"images must be uint8 (n, {N_PIXELS}), got {images.dtype} {images.shape}")
    if labels.dtype != np.int8 or labels.shape != (n,):
        raise ValueError(f"labels must be int8 ({n},), got {labels.dtype} {labels.shape}")
    if index.dtype != np.int32 or index.shape != (n,):
        raise ValueError(f"index must be int32 ({n},), got {index.dtype} {index.shape}")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {', '.join(missing)}")
    image_column = pa.FixedSizeListArray.from_arrays(pa.array(images.reshape(-1)), N_PIXELS)
    table = pa.table({"index": pa.array(index), "label": pa.array(labels), "image": image_column})
    write_table(table, path, {str(k): str(v) for k, v in metadata.items()})


_SPLIT_SCHEMA = pa.schema(
    [
        ("index", pa.int32()),
        ("label", pa.int8()),
        ("image", pa.list_(pa.uint8(), N_PIXELS)),
    ]
)


def read_split(path: str | Path) -> Split:
    """Read a split written by `write_split`; a missing or damaged file raises an error naming it
    (FileNotFoundError or storage.CorruptFileError)."""
    path = Path(path)
    table = read_table(path)
    schema = pa.schema([field.remove_metadata() for field in table.schema])
    if not schema.equals(_SPLIT_SCHEMA):
        raise CorruptFileError(
            f"{path} does not hold a data split (columns {schema.names} of types "
            f"{[str(t) for t in schema.types]}); {REBUILD_HINT}"
        )
    if any(table.column(name).null_count for name in _SPLIT_SCHEMA.names):
        raise CorruptFileError(f"{path} has missing values in a data split; {REBUILD_HINT}")
    image = table.column("image")
    image = image.chunk(0) if image.num_chunks == 1 else image.combine_chunks()
    images = image.flatten().to_numpy(zero_copy_only=False).reshape(-1, N_PIXELS)
    return Split(
        index=table.column("index").to_numpy(),
        labels=table.column("label").to_numpy(),
        images=images,
        metadata=table_metadata(table),
    )


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (n, 784) -> float32 tensor in [0, 1] (uint8 / 255).

    Inputs stay in [0, 1]; normalisation lives inside the model, so adversarial perturbations and
    clipping act on pixel values.
    """
    import torch

    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    return torch.from_numpy(images.astype(np.float32)).div_(255.0)


def split_tensors(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (n, 784) float32 in [0, 1], labels (n,) int64) tensors of a split."""
    import torch

    return images_to_tensor(split.images), torch.from_numpy(split.labels.astype(np.int64))


def prepare_dataset(
    name: str,
    source: str,
    root: str | Path,
    download: bool,
    train_subset: int | None,
    test_subset: int | None,
    train_out: str | Path,
    test_out: str | Path,
    seed: int = 0,
    *,
    bundled_path: str | Path | None = None,
    debian_dir: str | Path | None = None,
) -> str:
    """Pipeline stage: load `name`, take stratified subsets (None = all) and write both splits.

    Returns the source actually used (useful when `source` is "auto").
    """
    raw = load_dataset(
        name, source, root, download, bundled_path=bundled_path, debian_dir=debian_dir
    )
    splits = (
        ("train", raw.train_images, raw.train_labels, train_subset, train_out),
        ("test", raw.test_images, raw.test_labels, test_subset, test_out),
    )
    for split, images, labels, subset, out in splits:
        keep = stratified_subset(labels, subset, seed)
        write_split(
            out,
            images[keep],
            labels[keep],
            keep.astype(np.int32),
            {
                "dataset": raw.name,
                "split": split,
                "source": raw.source,
                "source_file": raw.source_file,
                "source_sha256": raw.source_sha256,
                "subset_requested": "all" if subset is None else str(subset),
                "n_rows": str(len(keep)),
                "n_source_rows": str(len(labels)),
                "subset_seed": str(seed),
            },
        )
    return raw.source
