"""Tests for manifold_smoothness.intrinsic: exact neighbours, TwoNN and MLE dimensions."""

from __future__ import annotations

import numpy as np
import pytest

from manifold_smoothness.intrinsic import (
    IntrinsicDimensionError,
    mle_dimension,
    nearest_neighbour_distances,
    two_nn_dimension,
)

N_POINTS = 2000
AMBIENT = 50


def _rotated_subspace(d: int, seed: int = 0) -> np.ndarray:
    """N_POINTS standard-normal points of R^d embedded in R^50 by a random rotation, (2000, 50).

    Gaussian rather than uniform-in-a-cube coordinates: at n = 2000 and d = 10 most points of a
    cube lie near its faces, where neighbours are missing on one side and TwoNN underestimates
    d by 10-15 % (a boundary effect of the estimator, not of this implementation).
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((AMBIENT, AMBIENT)))
    z = np.zeros((N_POINTS, AMBIENT))
    z[:, :d] = rng.standard_normal((N_POINTS, d))
    return z @ q.T + rng.standard_normal(AMBIENT)  # rotate and shift off the origin


def _swiss_roll(seed: int = 0) -> np.ndarray:
    """A 2-D swiss roll in R^3, (2000, 3)."""
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.random(N_POINTS))
    h = 20 * rng.random(N_POINTS)
    return np.column_stack([t * np.cos(t), h, t * np.sin(t)])


def _sphere(seed: int = 0) -> np.ndarray:
    """Uniform points on the unit 2-sphere in R^3, (2000, 3)."""
    g = np.random.default_rng(seed).standard_normal((N_POINTS, 3))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


# --- exact neighbours -----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_neighbour_distances_match_full_distance_matrix(chunk: int) -> None:
    rng = np.random.default_rng(1)
    X = rng.random((60, 5))
    full = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)
    np.fill_diagonal(full, np.inf)
    expected = np.sort(full, axis=1)[:, :3]
    np.testing.assert_allclose(nearest_neighbour_distances(X, k=3, chunk=chunk), expected)


def test_neighbour_distances_are_exact_for_close_pairs_far_from_origin() -> None:
    """The Gram expansion has an absolute error ~1e-9 in d^2 ~ 1e-6 here; values must not."""
    rng = np.random.default_rng(2)
    X = 1e3 + rng.random((40, 4)) * 1e-3
    full = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1)
    np.fill_diagonal(full, np.inf)
    expected = np.sort(full, axis=1)[:, :2]
    np.testing.assert_allclose(nearest_neighbour_distances(X, k=2), expected, rtol=1e-12)


def test_neighbour_distances_reject_bad_k() -> None:
    X = np.random.default_rng(3).random((5, 2))
    for k in (0, 5, 1.5, True):
        with pytest.raises(IntrinsicDimensionError, match="k must be"):
            nearest_neighbour_distances(X, k=k)


# --- TwoNN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 5, 10])
def test_two_nn_recovers_dimension_of_rotated_linear_subspace(d: int) -> None:
    assert two_nn_dimension(_rotated_subspace(d)) == pytest.approx(d, rel=0.10)


@pytest.mark.parametrize("make", [_swiss_roll, _sphere], ids=["swiss_roll", "sphere"])
def test_two_nn_recovers_two_dimensional_curved_manifolds(make) -> None:
    assert two_nn_dimension(make()) == pytest.approx(2.0, rel=0.10)


def test_two_nn_is_invariant_to_chunk_and_dtype() -> None:
    X = _rotated_subspace(5)
    ref = two_nn_dimension(X)
    assert two_nn_dimension(X, chunk=333) == pytest.approx(ref, rel=1e-12)
    assert two_nn_dimension(X.astype(np.float32)) == pytest.approx(ref, rel=1e-3)


def test_two_nn_collapses_duplicates_without_crashing() -> None:
    X = _rotated_subspace(5)
    with_dups = np.concatenate([X, X[:300], X[:10]])
    assert two_nn_dimension(with_dups) == pytest.approx(two_nn_dimension(X), rel=1e-12)


def test_two_nn_does_not_modify_input() -> None:
    X = _sphere()
    X.flags.writeable = False
    two_nn_dimension(X)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_two_nn_raises_on_too_few_points(n: int) -> None:
    with pytest.raises(IntrinsicDimensionError, match="distinct point"):
        two_nn_dimension(np.random.default_rng(4).random((n, 3)))


def test_two_nn_raises_when_only_duplicates_remain() -> None:
    X = np.repeat(np.array([[0.0, 1.0], [1.0, 0.0]]), 50, axis=0)
    with pytest.raises(IntrinsicDimensionError, match="2 distinct point"):
        two_nn_dimension(X)


def test_two_nn_raises_on_regular_grid() -> None:
    X = np.arange(20, dtype=np.float64)[:, None]  # interior points: r2 == r1
    with pytest.raises(IntrinsicDimensionError, match="equal 1"):
        two_nn_dimension(X[1:-1], discard_fraction=0.3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"discard_fraction": 1.0}, "discard_fraction"),
        ({"discard_fraction": -0.1}, "discard_fraction"),
        ({"discard_fraction": float("nan")}, "discard_fraction"),
        ({"chunk": 0}, "chunk"),
    ],
)
def test_two_nn_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(IntrinsicDimensionError, match=match):
        two_nn_dimension(_sphere(), **kwargs)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(10), "2-D"),
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "non-finite"),
        (np.array([["a", "b"]] * 3), "real numbers"),
    ],
)
def test_two_nn_rejects_bad_points(X: np.ndarray, match: str) -> None:
    with pytest.raises(IntrinsicDimensionError, match=match):
        two_nn_dimension(X)


# --- MLE --------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 5])
def test_mle_recovers_dimension_of_rotated_linear_subspace(d: int) -> None:
    assert mle_dimension(_rotated_subspace(d)) == pytest.approx(d, rel=0.10)


def test_mle_recovers_sphere_and_handles_duplicates() -> None:
    X = _sphere()
    assert mle_dimension(np.concatenate([X, X[:100]])) == pytest.approx(2.0, rel=0.10)


def test_mle_rejects_bad_k() -> None:
    with pytest.raises(IntrinsicDimensionError, match="k must be"):
        mle_dimension(_sphere(), k=1)
    with pytest.raises(IntrinsicDimensionError, match="distinct point"):
        mle_dimension(_sphere()[:10], k=20)
