"""Tests for manifold_smoothness.idx: official files pass, custom ones warn, broken ones raise."""

from __future__ import annotations

import gzip
import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from manifold_smoothness import idx
from manifold_smoothness.sources import DEBIAN_FASHION_MNIST_DIR

DEBIAN_TEST_LABELS = DEBIAN_FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
needs_debian = pytest.mark.skipif(
    not DEBIAN_TEST_LABELS.is_file(),
    reason=f"{DEBIAN_TEST_LABELS} absent (apt-get install dataset-fashion-mnist)",
)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (the format of the official files)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@needs_debian
def test_official_gzipped_file_passes_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = idx.gunzipped(DEBIAN_TEST_LABELS, tmp_path)
    with caplog.at_level(logging.DEBUG, logger="manifold_smoothness"):
        sha = idx.check_idx(DEBIAN_TEST_LABELS, "fashion-mnist", plain)
    assert sha == idx.OFFICIAL_IDX_SHA256["fashion-mnist"]["t10k-labels-idx1-ubyte"]
    assert _warnings(caplog) == []


@needs_debian
def test_modified_copy_of_an_official_file_warns_with_name_and_hash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "t10k-labels-idx1-ubyte"
    blob = bytearray(gzip.decompress(DEBIAN_TEST_LABELS.read_bytes()))
    blob[-1] = (blob[-1] + 1) % 10  # one relabelled example: still a valid IDX file
    copy.write_bytes(bytes(blob))
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
        sha = idx.check_idx(copy, "fashion-mnist")
    [record] = _warnings(caplog)
    assert record.name == "manifold_smoothness.idx"
    message = record.getMessage()
    assert str(copy) in message and sha in message
    assert idx.OFFICIAL_IDX_SHA256["fashion-mnist"]["t10k-labels-idx1-ubyte"] in message
    assert "not be comparable" in message


def test_truncated_file_raises_naming_file_and_sizes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(100, np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(idx.IdxFileError) as err:
        idx.check_idx(path, "mnist")
    assert str(path) in str(err.value)
    assert "98 bytes" in str(err.value) and "implies 108" in str(err.value)
    assert "truncated" in str(err.value)


def test_file_without_uint8_idx_header_raises(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(idx.IdxFileError, match="does not start with a uint8 IDX header"):
        idx.check_idx(path, "mnist")


def test_broken_gzip_stream_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00" * 1000)[:-20])
    with pytest.raises(idx.IdxFileError, match="cannot decompress") as err:
        idx.gunzipped(path, tmp_path)
    assert str(path) in str(err.value)


def test_find_idx_prefers_the_plain_file(tmp_path: Path) -> None:
    assert idx.find_idx(tmp_path, "t10k-labels-idx1-ubyte") is None
    gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(b"")
    assert idx.find_idx(tmp_path, "t10k-labels-idx1-ubyte") == gz
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(b"")
    assert idx.find_idx(tmp_path, "t10k-labels-idx1-ubyte") == plain


def test_read_idx_returns_the_array(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    assert np.array_equal(idx.read_idx(path, path, images=True), images)


def test_gunzipped_round_trip(tmp_path: Path) -> None:
    labels = np.arange(10, dtype=np.uint8)
    plain = write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    gz = tmp_path / "in" / "t10k-labels-idx1-ubyte.gz"
    gz.parent.mkdir()
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = idx.gunzipped(gz, scratch)
    assert out.parent == scratch and out.read_bytes() == plain.read_bytes()
    assert idx.gunzipped(plain, scratch) == plain
