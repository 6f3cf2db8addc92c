"""What is measured on one network state (a snapshot or the final model) and one set of input
images: every layer's spectrum with its delete-one-block jackknife spectra, its readout
accuracy, the intrinsic dimension of the inputs it saw, and its linear probe.

The stages call these with arrays they have read; nothing here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from manifold_smoothness.devices import model_device
from manifold_smoothness.intrinsic import two_nn_dimension
from manifold_smoothness.model import LocalErrorMLP, readout_accuracy
from manifold_smoothness.probe import ProbeResult, fit_probe
from manifold_smoothness.spectrum import block_spectra, eigenspectrum

# Seed of the assignment of test images to jackknife blocks and of the dimension subset: the
# same images form the same blocks in every condition and snapshot, so that their alphas' errors
# are comparable (and the blocks are random, not the classes of a label-sorted file).
IMAGE_SEED = 0


def block_order(n: int) -> np.ndarray:
    """(n,) permutation of the analysed images; consecutive runs of it are the jackknife blocks."""
    return np.random.default_rng(IMAGE_SEED).permutation(n)


def layer_spectrum(
    h: np.ndarray, n_blocks: int, device: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Spectrum (N,) of one layer's activations h (n, N), and its (n_blocks, N) delete-one-block
    spectra over the blocks of `block_order` (None when n_blocks is 0: no jackknife)."""
    if n_blocks == 0:
        return eigenspectrum(h, device=device), None
    return block_spectra(np.asarray(h)[block_order(len(h))], n_blocks, device=device)


@torch.no_grad()
def hiddens(model: LocalErrorMLP, x: torch.Tensor, chunk: int = 2000) -> list[np.ndarray]:
    """Every layer's activations (n, N_l) float32 of x (n, 784), computed on the model's device."""
    model.eval()
    device = model_device(model)
    parts = [model(x[i : i + chunk].to(device)) for i in range(0, len(x), chunk)]
    return [torch.cat([p[l] for p in parts]).cpu().numpy() for l in range(model.n_layers)]


def readout_accuracies(
    model: LocalErrorMLP, layers: Sequence[np.ndarray], labels: np.ndarray
) -> list[float]:
    """Accuracy of every layer's fixed readout on its activations (one float per layer)."""
    return [
        readout_accuracy(h, model.readout(l).cpu().numpy(), labels) for l, h in enumerate(layers)
    ]


def input_dimensions(inputs: Sequence[np.ndarray], rows: np.ndarray) -> list[float]:
    """TwoNN dimension of the inputs each layer saw, on `rows` of them: inputs[l] is the
    (n, 784) array layer l saw; layers that saw the same array share one estimate."""
    estimates: dict[int, float] = {}
    for x in inputs:
        if id(x) not in estimates:
            estimates[id(x)] = two_nn_dimension(np.asarray(x, np.float64)[rows])
    return [estimates[id(x)] for x in inputs]


def dimension_rows(n: int, n_dimension: int) -> np.ndarray:
    """The first `n_dimension` images of `block_order`: a fixed random subset of the analysed
    images for the intrinsic dimension (TwoNN's cost grows with the square of its size)."""
    return np.sort(block_order(n)[: min(n, n_dimension)])


def probe_layers(
    train_layers: Sequence[np.ndarray],
    y_train: np.ndarray,
    test_layers: Sequence[np.ndarray],
    y_test: np.ndarray,
    l2: float,
    max_iter: int,
    device: str | None = None,
) -> list[ProbeResult]:
    """The linear probe of every layer: fitted on its training activations, scored on its test
    activations (probe.fit_probe, the same settings for every layer, rule and snapshot)."""
    return [
        fit_probe(h_train, y_train, h_test, y_test, l2=l2, max_iter=max_iter, device=device)
        for h_train, h_test in zip(train_layers, test_layers, strict=True)
    ]
