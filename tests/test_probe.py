"""Tests for manifold_smoothness.probe: the per-layer linear probe, cross-checked with sklearn."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from manifold_smoothness.probe import ProbeError, ProbeResult, fit_probe, fit_probe_weights

D = 20  # feature dimensions of the toy sets


def _blobs(
    n: int, m: int, n_classes: int, spread: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train (n, D) and test (m, D) samples of unit Gaussians around n_classes random centres
    whose coordinates have standard deviation `spread`, with their labels (n,) and (m,)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, D)) * spread
    y_train, y_test = rng.integers(0, n_classes, n), rng.integers(0, n_classes, m)
    h_train = centres[y_train] + rng.standard_normal((n, D))
    h_test = centres[y_test] + rng.standard_normal((m, D))
    return h_train, y_train, h_test, y_test


@functools.cache
def _separable() -> tuple[np.ndarray, ...]:
    """3 blobs 10 units apart per axis in 20 dims: linearly separable with a wide margin."""
    return _readonly(_blobs(300, 300, 3, spread=10.0, seed=1))


@functools.cache
def _overlapping() -> tuple[np.ndarray, ...]:
    """4 overlapping blobs (about 89% accuracy): the probe's optimum matters for the score."""
    return _readonly(_blobs(600, 3000, 4, spread=0.6, seed=2))


def _readonly(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    # Shared by several tests, so any mutation by the code under test must fail loudly.
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _sklearn_probe(h_train, y_train, l2: float) -> tuple[StandardScaler, LogisticRegression]:
    """sklearn's model of the probe (the docstring's equivalence), solved to high precision."""
    scaler = StandardScaler().fit(h_train)
    model = LogisticRegression(C=1.0 / (l2 * len(y_train)), max_iter=100_000, tol=1e-12)
    return scaler, model.fit(scaler.transform(h_train), y_train)


def test_separable_blobs_are_probed_perfectly() -> None:
    h_train, y_train, h_test, y_test = _separable()
    result = fit_probe(h_train, y_train, h_test, y_test, n_classes=3)
    assert result.test_accuracy == 1.0
    assert result.train_accuracy == 1.0
    assert result.converged


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_accuracy_matches_sklearn_on_overlapping_blobs(l2: float) -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    result = fit_probe(h_train, y_train, h_test, y_test, l2=l2, n_classes=4)
    scaler, model = _sklearn_probe(h_train, y_train, l2)
    expected_test = model.score(scaler.transform(h_test), y_test)
    expected_train = model.score(scaler.transform(h_train), y_train)
    assert 0.8 < expected_test < 0.95  # the toy set is neither trivial nor hopeless
    assert abs(result.test_accuracy - expected_test) <= 1 / len(y_test)
    assert abs(result.train_accuracy - expected_train) <= 1 / len(y_train)


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_weights_match_sklearn_on_overlapping_blobs(l2: float) -> None:
    h_train, y_train, _, _ = _overlapping()
    W, b = fit_probe_weights(h_train, y_train, l2=l2, n_classes=4)
    _, model = _sklearn_probe(h_train, y_train, l2)
    assert W.shape == (4, D) and b.shape == (4,)
    scale = np.abs(model.coef_).max()
    np.testing.assert_allclose(W, model.coef_, rtol=0, atol=1e-3 * scale)
    # The softmax is invariant to a common shift of the bias: compare bias differences.
    expected_b = model.intercept_ - model.intercept_.mean()
    np.testing.assert_allclose(b - b.mean(), expected_b, rtol=0, atol=1e-3 * scale)


def test_two_fits_are_bitwise_equal() -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    first = fit_probe_weights(h_train, y_train, n_classes=4)
    second = fit_probe_weights(h_train, y_train, n_classes=4)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    assert fit_probe(h_train, y_train, h_test, y_test, n_classes=4) == fit_probe(
        h_train, y_train, h_test, y_test, n_classes=4
    )


def test_float32_torch_input_gives_the_float64_numpy_result() -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    h32_train, h32_test = h_train.astype(np.float32), h_test.astype(np.float32)
    from_numpy = fit_probe(h32_train.astype(np.float64), y_train, h32_test, y_test, n_classes=4)
    from_torch = fit_probe(
        torch.from_numpy(h32_train),
        torch.tensor(y_train),
        torch.from_numpy(h32_test),
        torch.tensor(y_test),
        n_classes=4,
    )
    assert from_torch == from_numpy


def test_inputs_are_not_modified() -> None:
    h_train, y_train, h_test, y_test = (a.copy() for a in _overlapping())
    before = h_train.copy(), h_test.copy()
    fit_probe(h_train, y_train, h_test, y_test, n_classes=4)
    fit_probe(torch.from_numpy(h_train), y_train, torch.from_numpy(h_test), y_test, n_classes=4)
    np.testing.assert_array_equal(h_train, before[0])
    np.testing.assert_array_equal(h_test, before[1])


def test_dead_and_round_off_constant_units_contribute_nothing() -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    rng = np.random.default_rng(3)
    # A dead ReLU (all 0), a constant unit, and one that varies only in its last bits.
    near_constant = 3.0 + 3e-15 * rng.standard_normal(len(y_train))
    extra = np.column_stack([np.zeros(len(y_train)), np.full(len(y_train), 0.37), near_constant])
    padded_train = np.hstack([h_train, extra])
    padded_test = np.hstack([h_test, np.ones((len(y_test), 3))])  # alive at test time
    W, b = fit_probe_weights(padded_train, y_train, n_classes=4)
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(b))
    assert np.abs(W[:, D:]).max() < 1e-12
    W_ref, b_ref = fit_probe_weights(h_train, y_train, n_classes=4)
    # the same minimiser to the solve's tolerance (max |gradient| 1e-6, so |dW| <= 1e-6 / l2 at
    # worst): the float32 phase rounds differently with three more columns
    np.testing.assert_allclose(W[:, :D], W_ref, rtol=0, atol=1e-4)
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-4)
    padded = fit_probe(padded_train, y_train, padded_test, y_test, n_classes=4)
    plain = fit_probe(h_train, y_train, h_test, y_test, n_classes=4)
    assert padded.test_accuracy == plain.test_accuracy
    assert padded.train_accuracy == plain.train_accuracy


def test_max_iter_caps_the_solve_and_is_reported_as_not_converged() -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    capped = fit_probe(h_train, y_train, h_test, y_test, max_iter=3, n_classes=4)
    full = fit_probe(h_train, y_train, h_test, y_test, n_classes=4)
    assert capped.iterations == 3 and not capped.converged
    assert 3 < full.iterations < 500 and full.converged


def test_result_is_a_frozen_record_of_plain_numbers() -> None:
    h_train, y_train, h_test, y_test = _separable()
    result = fit_probe(h_train, y_train, h_test, y_test, n_classes=3)
    assert isinstance(result, ProbeResult)
    assert type(result.test_accuracy) is float and type(result.iterations) is int
    assert type(result.converged) is bool
    with pytest.raises(AttributeError):
        result.test_accuracy = 0.5  # type: ignore[misc]


def _with_nan(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[5, 3] = np.nan
    return a


def _with_inf(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a[0, 0] = np.inf
    return a


_BAD_INPUTS = {
    # name: (change to the arguments of fit_probe, words the message must contain)
    "h_train 1-D": (lambda a: {**a, "h_train": a["h_train"][:, 0]}, "must be 2-D"),
    "feature mismatch": (lambda a: {**a, "h_test": a["h_test"][:, :-1]}, "same layer"),
    "y_train length": (lambda a: {**a, "y_train": a["y_train"][:-1]}, r"shape \(600,\)"),
    "y_test 2-D": (lambda a: {**a, "y_test": a["y_test"][:, None]}, r"shape \(3000,\)"),
    "label too large": (
        lambda a: {**a, "y_train": np.where(a["y_train"] == 3, 4, a["y_train"])},
        r"0\.\.4, outside 0\.\.3",
    ),
    "negative label": (
        lambda a: {**a, "y_test": np.where(a["y_test"] == 0, -1, a["y_test"])},
        "outside 0..3",
    ),
    "float labels": (
        lambda a: {**a, "y_train": a["y_train"].astype(float)},
        "integer class labels",
    ),
    "one class": (
        lambda a: {**a, "y_train": np.full_like(a["y_train"], 2)},
        "only class 2",
    ),
    "nan in h_train": (lambda a: {**a, "h_train": _with_nan(a["h_train"])}, "1 non-finite"),
    "inf in h_test": (lambda a: {**a, "h_test": _with_inf(a["h_test"])}, "h_test contains 1"),
    "complex": (lambda a: {**a, "h_train": a["h_train"] + 0j}, "real numbers"),
    "no test rows": (lambda a: {**a, "h_test": a["h_test"][:0]}, "n, N >= 1"),
    "l2 zero": (lambda a: {**a, "l2": 0.0}, "l2 must be"),
    "l2 nan": (lambda a: {**a, "l2": float("nan")}, "l2 must be"),
    "max_iter zero": (lambda a: {**a, "max_iter": 0}, "max_iter must be"),
    "tol negative": (lambda a: {**a, "tol": -1e-6}, "tol must be"),
    "one class declared": (lambda a: {**a, "n_classes": 1}, "n_classes must be"),
}


@pytest.mark.parametrize("case", list(_BAD_INPUTS))
def test_bad_inputs_raise_probe_error(case: str) -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    good = {"h_train": h_train, "y_train": y_train, "h_test": h_test, "y_test": y_test}
    change, message = _BAD_INPUTS[case]
    with pytest.raises(ProbeError, match=message):
        fit_probe(**change({**good, "n_classes": 4}))


def test_probe_error_is_a_value_error() -> None:
    assert issubclass(ProbeError, ValueError)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu() -> None:
    h_train, y_train, h_test, y_test = _overlapping()
    cpu = fit_probe(h_train, y_train, h_test, y_test, n_classes=4)
    gpu = fit_probe(h_train, y_train, h_test, y_test, n_classes=4, device="cuda")
    assert abs(gpu.test_accuracy - cpu.test_accuracy) <= 1 / len(y_test)
    assert gpu.converged
    W_cpu, b_cpu = fit_probe_weights(h_train, y_train, n_classes=4)
    W_gpu, b_gpu = fit_probe_weights(h_train, y_train, n_classes=4, device="cuda")
    np.testing.assert_allclose(W_gpu, W_cpu, rtol=0, atol=1e-6)
    again = fit_probe_weights(h_train, y_train, n_classes=4, device="cuda")
    assert np.array_equal(again[0], W_gpu) and np.array_equal(again[1], b_gpu)
