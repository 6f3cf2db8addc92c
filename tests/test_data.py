"""Tests for manifold_smoothness.data: stratified subsets, parquet splits, tensors, the stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from manifold_smoothness import data
from manifold_smoothness.sources import BUNDLED_SHA256, RawDataset, load_dataset
from manifold_smoothness.storage import CorruptFileError

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist() -> RawDataset:
    return load_dataset("mnist", "bundled")


def test_importing_data_does_not_import_torch() -> None:
    code = (
        "import sys, manifold_smoothness.data; assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# stratified subsets


@pytest.mark.parametrize("n", [10, 37, 1000, 12345])
def test_stratified_subset_is_proportional_exact_sorted_and_deterministic(
    mnist: RawDataset, n: int
) -> None:
    labels = mnist.train_labels
    idx = data.stratified_subset(labels, n, seed=3)
    assert idx.dtype == np.int64 and len(idx) == n
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates
    assert idx.min() >= 0 and idx.max() < len(labels)
    exact = np.bincount(labels, minlength=10) * n / len(labels)
    got = np.bincount(labels[idx], minlength=10)
    assert np.all(np.abs(got - exact) < 1)
    assert np.array_equal(idx, data.stratified_subset(labels, n, seed=3))
    assert not np.array_equal(idx, data.stratified_subset(labels, n, seed=4))


def test_stratified_subset_largest_remainder() -> None:
    labels = np.repeat(np.arange(3), [5, 3, 2])  # exact quotas for n=5: 2.5, 1.5, 1.0
    idx = data.stratified_subset(labels, 5, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 1, 1]  # tie of remainders -> smaller label
    assert np.bincount(labels[data.stratified_subset(labels, 4)]).tolist() == [2, 1, 1]


def test_stratified_subset_all_and_invalid_sizes() -> None:
    labels = np.tile(np.arange(10, dtype=np.int8), 5)
    everything = np.arange(50, dtype=np.int64)
    assert np.array_equal(data.stratified_subset(labels, None), everything)
    assert np.array_equal(data.stratified_subset(labels, 50), everything)
    assert np.array_equal(data.stratified_subset(labels, 500), everything)
    assert data.stratified_subset(labels, None).dtype == np.int64
    for bad in (0, -1, 9):
        with pytest.raises(ValueError):
            data.stratified_subset(labels, bad)


# ---------------------------------------------------------------------------------------------
# parquet splits


def _metadata(split: str = "train") -> dict[str, str]:
    return {
        "dataset": "mnist",
        "split": split,
        "source": "bundled",
        "source_file": "/x/mnist.pkl.gz",
        "source_sha256": BUNDLED_SHA256,
    }


def test_split_round_trip(mnist: RawDataset, tmp_path: Path) -> None:
    keep = data.stratified_subset(mnist.train_labels, 500, seed=1)
    path = tmp_path / "out" / "train.parquet"
    extra = {"subset_requested": "500", "note": "hello"}
    data.write_split(
        path,
        mnist.train_images[keep],
        mnist.train_labels[keep],
        keep.astype(np.int32),
        {**_metadata(), **extra},
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.parquet"]  # no temp left
    schema = pq.read_schema(path)
    assert [str(t) for t in schema.types] == [
        "int32",
        "int8",
        "fixed_size_list<element: uint8>[784]",
    ]
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(2).compression == "ZSTD"

    split = data.read_split(path)
    assert split.index.dtype == np.int32 and np.array_equal(split.index, keep)
    assert split.labels.dtype == np.int8
    assert np.array_equal(split.labels, mnist.train_labels[keep])
    assert split.images.dtype == np.uint8 and split.images.shape == (500, 784)
    assert np.array_equal(split.images, mnist.train_images[keep])
    assert split.metadata == {**_metadata(), **extra}


def test_write_split_validates_inputs(tmp_path: Path) -> None:
    images = np.zeros((3, 784), np.uint8)
    labels = np.zeros(3, np.int8)
    index = np.arange(3, dtype=np.int32)
    path = tmp_path / "s.parquet"
    with pytest.raises(ValueError, match="images"):
        data.write_split(path, images.astype(np.float32), labels, index, _metadata())
    with pytest.raises(ValueError, match="labels"):
        data.write_split(path, images, labels.astype(np.int64), index, _metadata())
    with pytest.raises(ValueError, match="index"):
        data.write_split(path, images, labels, index[:2], _metadata())
    with pytest.raises(ValueError, match="source_sha256"):
        data.write_split(path, images, labels, index, {"dataset": "mnist", "split": "train"})
    assert not path.exists()


def test_damaged_or_missing_split_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    images = np.arange(20 * 784, dtype=np.int64).reshape(20, 784).astype(np.uint8)
    data.write_split(
        path, images, np.zeros(20, np.int8), np.arange(20, dtype=np.int32), _metadata()
    )
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorruptFileError) as err:
        data.read_split(path)
    assert str(path) in str(err.value)
    assert "snakemake" in str(err.value) and "delete" in str(err.value)

    missing = tmp_path / "nothing.parquet"
    with pytest.raises(FileNotFoundError, match="nothing.parquet"):
        data.read_split(missing)

    other = tmp_path / "other.parquet"
    pq.write_table(
        pa.table({"index": pa.array([1, 2], pa.int64()), "label": pa.array([0, 1])}), other
    )
    with pytest.raises(CorruptFileError, match="does not hold a data split"):
        data.read_split(other)


# ---------------------------------------------------------------------------------------------
# tensors and the stage entry point


def test_images_to_tensor() -> None:
    images = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    tensor = data.images_to_tensor(images)
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 4)
    expected = torch.tensor([[0.0, 1.0, 128.0, 255.0]], dtype=torch.float32) / 255
    assert torch.equal(tensor, expected)
    assert tensor[0, 0] == 0 and tensor[0, 3] == 1
    assert tensor.min() >= 0 and tensor.max() <= 1
    with pytest.raises(ValueError):
        data.images_to_tensor(images.astype(np.float32))


def test_split_tensors() -> None:
    split = data.Split(
        index=np.arange(2, dtype=np.int32),
        labels=np.array([3, 9], dtype=np.int8),
        images=np.array([[0, 255], [51, 102]], dtype=np.uint8),
        metadata={},
    )
    x, y = data.split_tensors(split)
    assert x.dtype == torch.float32 and torch.equal(x, data.images_to_tensor(split.images))
    assert y.dtype == torch.int64 and y.tolist() == [3, 9]


def test_prepare_dataset_writes_stratified_splits(mnist: RawDataset, tmp_path: Path) -> None:
    train_out = tmp_path / "results" / "data" / "mnist" / "train.parquet"
    test_out = tmp_path / "results" / "data" / "mnist" / "test.parquet"
    used = data.prepare_dataset(
        "mnist", "auto", tmp_path / "raw", False, 600, None, train_out, test_out, seed=7
    )
    assert used == "bundled"
    train = data.read_split(train_out)
    test = data.read_split(test_out)
    assert len(train.index) == 600 and len(test.index) == 10000
    assert np.array_equal(train.index, data.stratified_subset(mnist.train_labels, 600, seed=7))
    assert np.array_equal(train.images, mnist.train_images[train.index])
    assert np.array_equal(train.labels, mnist.train_labels[train.index])
    assert np.array_equal(test.index, np.arange(10000))
    assert np.bincount(test.labels).tolist() == MNIST_TEST_COUNTS
    assert train.metadata["split"] == "train" and test.metadata["split"] == "test"
    for split in (train, test):
        assert split.metadata["dataset"] == "mnist"
        assert split.metadata["source"] == "bundled"
        assert split.metadata["source_sha256"] == BUNDLED_SHA256
        assert split.metadata["source_file"] == mnist.source_file
    assert train.metadata["subset_requested"] == "600" and train.metadata["n_rows"] == "600"
    assert test.metadata["subset_requested"] == "all" and test.metadata["n_rows"] == "10000"
    assert train.metadata["subset_seed"] == "7"
