"""Intrinsic dimension of a point cloud, for the smoothness bound alpha >= 1 + 2/d.

Stringer et al. (Nature 2019) showed that a representation of a d-dimensional input manifold
can only be smooth (differentiable) if its PCA eigenspectrum decays as n^-alpha with
alpha >= 1 + 2/d. The d in that bound is the *intrinsic* dimension of the input ensemble (for
MNIST far below the 784 pixels), so it has to be estimated from the data. This module provides
two nearest-neighbour estimators that need no choice of scale:

* ``two_nn_dimension``: TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7, 12140, 2017),
  which uses only the ratio of the distances to each point's 2nd and 1st nearest neighbour and
  so probes the smallest scale of the data.
* ``mle_dimension``: the Levina-Bickel maximum-likelihood estimator (NIPS 2004) with the
  MacKay-Ghahramani correction (average the per-point *inverse* dimensions, then invert),
  which uses the k nearest neighbours and so probes a somewhat larger scale.

Nearest neighbours are found exactly by brute force in float64, in row chunks so that memory
stays at ``chunk * n`` distances: candidates are selected with the Gram expansion
|a - b|^2 = |a|^2 + |b|^2 - 2 a.b (one BLAS matrix product per chunk), and the distances of
the few candidates kept are then recomputed directly from the differences, which removes the
cancellation error of the expansion for close pairs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IntrinsicDimensionError",
    "input_dimensions",
    "mle_dimension",
    "nearest_neighbour_distances",
    "two_nn_dimension",
]

# Extra candidates kept from the Gram-expansion ranking before exact recomputation, so that
# round-off in the expansion cannot push a true k-th neighbour out of the candidate set.
_CANDIDATE_MARGIN = 4
# Up to this many candidates, repeated argmin is faster than np.argpartition (measured).
_MAX_ARGMIN_PASSES = 32


class IntrinsicDimensionError(ValueError):
    """Raised when the data or parameters cannot yield an intrinsic-dimension estimate."""


def _as_points(X: np.ndarray) -> np.ndarray:
    """Validate a point cloud (n, D) and return it as float64, shape (n, D)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise IntrinsicDimensionError(
            f"X must be 2-D (n points, D coordinates); got shape {X.shape}. "
            "Flatten each image into one row first."
        )
    if X.shape[1] < 1:
        raise IntrinsicDimensionError(f"X has shape {X.shape} with no coordinates.")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise IntrinsicDimensionError(f"X must hold real numbers; got dtype {X.dtype}.")
    n_bad = X.size - int(np.count_nonzero(np.isfinite(X)))
    if n_bad:
        raise IntrinsicDimensionError(
            f"X contains {n_bad} non-finite value(s) (NaN or inf) out of {X.size}; "
            "remove or fix those points first."
        )
    return X.astype(np.float64, copy=False)


def _unique_points(X: np.ndarray, min_points: int) -> np.ndarray:
    """Drop exact duplicate rows (keeping one copy) and check enough distinct points remain.

    Duplicates have a nearest-neighbour distance of 0, for which the neighbour-distance ratios
    of both estimators are undefined (division by zero or log 0). Keeping a single copy, rather
    than discarding only the points with r1 == 0, also keeps a duplicated pair from acting as
    two coincident neighbours of other points (which would give them r2 == r1 spuriously).
    """
    unique = np.unique(X, axis=0)
    if unique.shape[0] < min_points:
        raise IntrinsicDimensionError(
            f"X has {unique.shape[0]} distinct point(s) (of {X.shape[0]} rows); "
            f"at least {min_points} are needed."
        )
    return unique


def _check_chunk(chunk: int) -> int:
    """Validate the row-chunk size of the brute-force neighbour search."""
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise IntrinsicDimensionError(f"chunk must be a positive integer; got {chunk!r}.")
    return int(chunk)


def _smallest_columns(values: np.ndarray, m: int) -> np.ndarray:
    """Column indices of the m smallest entries of each row (any order), shape (rows, m).

    Overwrites ``values``. For the few neighbours the estimators need, m passes of argmin
    (each a fast linear scan, masking the minimum found) beat ``np.argpartition`` several
    times over; for large m the partition is used.
    """
    if m > _MAX_ARGMIN_PASSES:
        return np.argpartition(values, m - 1, axis=1)[:, :m]
    rows = np.arange(values.shape[0])
    idx = np.empty((values.shape[0], m), dtype=np.intp)
    for j in range(m):
        idx[:, j] = np.argmin(values, axis=1)
        values[rows, idx[:, j]] = np.inf
    return idx


def nearest_neighbour_distances(X: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Exact Euclidean distances from every point to its k nearest other points.

    Brute force over all pairs in float64, ``chunk`` query rows at a time (memory about
    ``8 * chunk * n`` bytes per chunk). A point is never its own neighbour; duplicates of a
    point *are* neighbours at distance 0 (the estimators remove duplicates beforehand).

    Args:
        X: points, shape (n, D), finite.
        k: neighbours per point, 1 <= k <= n - 1.
        chunk: query rows per distance block.

    Returns:
        Distances, shape (n, k), float64, ascending along each row.

    Raises:
        IntrinsicDimensionError: bad X, k or chunk.
    """
    X = _as_points(X)
    chunk = _check_chunk(chunk)
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n - 1:
        raise IntrinsicDimensionError(
            f"k must be an integer in 1..n-1 = 1..{n - 1} for {n} points; got {k!r}."
        )
    k = int(k)
    n_cand = min(k + _CANDIDATE_MARGIN, n - 1)
    sq_norms = np.einsum("ij,ij->i", X, X)
    out = np.empty((n, k), dtype=np.float64)
    # One reused distance block: allocating a fresh (chunk, n) array per chunk costs as much
    # in page faults as the matrix product itself.
    block = np.empty((min(chunk, n), n), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        rows = np.arange(stop - start)
        # Squared distances up to round-off, shape (rows, n); only used to rank candidates.
        d2 = block[: stop - start]
        np.matmul(X[start:stop], X.T, out=d2)
        d2 *= -2.0
        d2 += sq_norms[start:stop, None]
        d2 += sq_norms[None, :]
        d2[rows, rows + start] = np.inf  # a point is not its own neighbour
        cand = _smallest_columns(d2, n_cand)
        # Exact distances of the candidates from the coordinate differences, shape (rows, n_cand);
        # one candidate column at a time keeps the temporary at (rows, D).
        dist = np.empty(cand.shape, dtype=np.float64)
        for j in range(n_cand):
            diff = X[cand[:, j]] - X[start:stop]
            dist[:, j] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        dist.sort(axis=1)
        out[start:stop] = dist[:, :k]
    return out


def two_nn_dimension(X: np.ndarray, discard_fraction: float = 0.1, chunk: int = 1024) -> float:
    """TwoNN intrinsic dimension (Facco et al., Sci. Rep. 2017).

    For each point, mu = r2 / r1 is the ratio of the distances to its 2nd and 1st nearest
    neighbours. If the density is locally uniform on the scale of the 2nd neighbour, mu follows
    a Pareto law with CDF F(mu) = 1 - mu^-d, independent of the density, so
    -log(1 - F(mu)) = d log(mu). With the empirical CDF F(mu_(i)) = i / n of the sorted ratios,
    d is the least-squares slope of that line through the origin. The largest
    ``discard_fraction`` of the ratios is dropped first, as Facco et al. recommend, because the
    tail of mu comes from points in sparse regions where the uniform-density assumption fails
    (and the largest ratio has F = 1, where the log diverges).

    Duplicate points: exact duplicate rows are collapsed to a single copy before the neighbour
    search, because r1 = 0 leaves mu undefined (see ``_unique_points``). The estimate is then
    that of the distinct points.

    Args:
        X: points, shape (n, D), finite; e.g. the 10000 x 784 MNIST test images in [0, 1].
        discard_fraction: fraction of the largest mu dropped before the fit, in [0, 1).
        chunk: query rows per brute-force distance block (memory ~ 8 * chunk * n bytes).

    Returns:
        The estimated intrinsic dimension d > 0.

    Raises:
        IntrinsicDimensionError: X not 2-D / non-finite, fewer than 3 distinct points, a bad
            ``discard_fraction`` or ``chunk``, or too few ratios left to fit.
    """
    if not np.isfinite(discard_fraction) or not 0.0 <= discard_fraction < 1.0:
        raise IntrinsicDimensionError(
            f"discard_fraction must be in [0, 1); got {discard_fraction!r}."
        )
    X = _unique_points(_as_points(X), min_points=3)
    dist = nearest_neighbour_distances(X, k=2, chunk=chunk)
    mu = np.sort(dist[:, 1] / dist[:, 0])
    n = mu.size
    # Keep the smallest (1 - discard_fraction) of the ratios, and never the last one (F = 1).
    n_fit = min(int(np.floor(n * (1.0 - discard_fraction))), n - 1)
    if n_fit < 2:
        raise IntrinsicDimensionError(
            f"only {n_fit} ratio(s) remain after discarding {discard_fraction:g} of {n}; "
            "pass more points or a smaller discard_fraction."
        )
    x = np.log(mu[:n_fit])
    y = -np.log1p(-np.arange(1, n_fit + 1, dtype=np.float64) / n)
    sxx = float(x @ x)
    if sxx == 0.0:
        raise IntrinsicDimensionError(
            "all retained ratios r2/r1 equal 1 (every point has two equidistant nearest "
            "neighbours, e.g. a regular grid); TwoNN cannot estimate a dimension."
        )
    return float(x @ y) / sxx


def mle_dimension(X: np.ndarray, k: int = 20, chunk: int = 1024) -> float:
    """Levina-Bickel MLE of the intrinsic dimension with the MacKay-Ghahramani correction.

    For a point with neighbour distances T_1 <= ... <= T_k, the log-ratios log(T_k / T_j),
    j < k, are (for locally uniform density) independent exponentials with mean 1/d, so
    inv_i = (1 / (k - 1)) * sum_j log(T_k / T_j) is an unbiased estimate of 1/d. Levina and
    Bickel average the per-point inverses 1/inv_i, which is biased upwards; MacKay and
    Ghahramani (2005) instead average inv_i over points and invert once:
    d = 1 / mean_i(inv_i). Exact duplicate rows are collapsed to one copy first (T_1 = 0 would
    make the log-ratios infinite).

    Args:
        X: points, shape (n, D), finite.
        k: neighbours per point, >= 2 and at most (distinct points - 1).
        chunk: query rows per brute-force distance block.

    Returns:
        The estimated intrinsic dimension d > 0.

    Raises:
        IntrinsicDimensionError: bad X / k / chunk, too few distinct points, or all
            neighbour distances equal (zero log-ratios).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise IntrinsicDimensionError(f"k must be an integer >= 2; got {k!r}.")
    X = _unique_points(_as_points(X), min_points=int(k) + 1)
    dist = nearest_neighbour_distances(X, k=int(k), chunk=chunk)
    log_ratio = np.log(dist[:, -1:] / dist[:, :-1])  # shape (n, k - 1), >= 0
    inverse = float(log_ratio.mean())  # mean over points of inv_i (equal weights k - 1)
    if inverse <= 0.0:
        raise IntrinsicDimensionError(
            f"all {k} neighbour distances are equal for every point; the MLE is undefined."
        )
    return 1.0 / inverse


def input_dimensions(inputs: list[np.ndarray], rows: np.ndarray) -> list[float]:
    """TwoNN dimension of the inputs each layer saw, on `rows` of them: inputs[l] is the
    (n, 784) array that layer l saw; layers that saw the same array share one estimate."""
    estimates: dict[int, float] = {}
    for x in inputs:
        if id(x) not in estimates:
            estimates[id(x)] = two_nn_dimension(np.asarray(x, np.float64)[rows])
    return [estimates[id(x)] for x in inputs]
