"""Eigenspectrum of layer representations and its power-law decay exponent.

The smoothness of a representation manifold is summarised, following Stringer et al. (Nature
2019, "High-dimensional geometry of population responses in visual cortex"), by the exponent
alpha of the PCA eigenspectrum lambda_n ~ n^-alpha: the faster the variances decay with rank,
the smoother the manifold. This module computes the spectrum, fits alpha and reports the
participation ratio as a complementary effective dimensionality. For the uncertainty of alpha
from the finite set of samples it also gives the delete-one-block spectra and the jackknife
standard error of any statistic computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PowerLawFit",
    "SpectrumError",
    "block_spectra",
    "capped_window",
    "eigenspectrum",
    "fit_power_law",
    "jackknife_se",
    "participation_ratio",
    "valid_rank_count",
]

# Fewest ranks a power-law fit may use; below this the slope is dominated by noise.
_MIN_FIT_RANKS = 5


class SpectrumError(ValueError):
    """Raised when data or eigenvalues cannot yield a meaningful spectrum or fit."""


@dataclass(frozen=True)
class PowerLawFit:
    """Result of fitting lambda_n ~ exp(intercept) * n^-alpha over ranks first..last.

    Attributes:
        alpha: decay exponent (minus the log-log slope).
        intercept: log-log intercept, natural log (log lambda at rank 1 on the fitted line).
        r2: weighted coefficient of determination of the fit in log-log space.
        first_rank: first rank used (1-based, inclusive).
        last_rank: last rank actually used (1-based, inclusive), after capping (if any).
    """

    alpha: float
    intercept: float
    r2: float
    first_rank: int
    last_rank: int


def _as_float64_2d(X: np.ndarray) -> np.ndarray:
    """Validate a sample matrix (n, N) and return it as a float64 copy, shape (n, N).

    A copy is always made so that callers' arrays are never centred in place.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise SpectrumError(
            f"X must be 2-D (n samples, N features); got shape {X.shape}. "
            "Flatten each sample's activations into one row first."
        )
    n, N = X.shape
    if n < 2:
        raise SpectrumError(
            f"X has {n} sample(s); a covariance needs at least 2 rows. Pass more samples."
        )
    if N < 1:
        raise SpectrumError(f"X has shape {X.shape} with no features; pass at least 1 column.")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise SpectrumError(f"X must hold real numbers; got dtype {X.dtype}.")
    n_bad = X.size - int(np.count_nonzero(np.isfinite(X)))
    if n_bad:
        raise SpectrumError(
            f"X contains {n_bad} non-finite value(s) (NaN or inf) out of {X.size}; "
            "remove or fix those samples (e.g. diverged activations) before the spectrum."
        )
    return X.astype(np.float64, copy=True)


def eigenspectrum(X: np.ndarray, device: str | None = None) -> np.ndarray:
    """Variances of the principal components of X, descending.

    The covariance has the mean of each feature removed and is normalised by 1/(n-1), so the
    result equals sklearn's ``PCA().explained_variance_`` (padded with zeros) and the
    eigenvalues of ``np.cov(X, rowvar=False)``. Computation is in float64 whatever X's dtype.

    Args:
        X: samples, shape (n, N), rows are samples; n >= 2, all entries finite.
        device: a CUDA device ('cuda', 'cuda:1') computes the same float64 covariance and
            symmetric eigensolve with torch on that GPU (equal to the CPU result to round-off,
            ~1e-12 relative); None or 'cpu' uses numpy.

    Returns:
        Eigenvalues, shape (N,), float64, descending, >= 0. When the data have rank below N
        (e.g. n <= N) the trailing values are exactly 0 or round-off-small.

    Raises:
        SpectrumError: X not 2-D, fewer than 2 rows, or non-finite entries.
    """
    if device is not None and str(device).startswith("cuda"):
        return _eigenspectrum_torch(X, device)
    Xc = _as_float64_2d(X)
    n, N = Xc.shape
    # Centre in place on our own float64 copy: one (n, N) float64 buffer, no extra temporaries.
    Xc -= Xc.mean(axis=0)
    if n >= N:
        # (N, N) covariance; numpy dispatches X.T @ X to a symmetric BLAS product.
        gram = Xc.T @ Xc
    else:
        # Fewer samples than features: the non-zero eigenvalues of Xc.T @ Xc equal those of the
        # smaller (n, n) Gram matrix Xc @ Xc.T; the remaining N - n are exactly zero. This keeps
        # memory at n^2 instead of N^2 for wide layers.
        gram = Xc @ Xc.T
    gram /= n - 1
    # Symmetric solver: real eigenvalues, stable for a PSD matrix (never general `eig`).
    return _padded_descending(np.linalg.eigvalsh(gram), N)


def _padded_descending(ascending: np.ndarray, N: int) -> np.ndarray:
    """Spectrum (N,) from the ascending eigenvalues (k,), k <= N, of a covariance or Gram matrix:
    descending, clipped at 0 and padded with zeros for the N - k ranks a Gram matrix lacks."""
    spectrum = np.zeros(N, dtype=np.float64)
    # Round-off can make eigenvalues of a PSD matrix slightly negative; variances are >= 0.
    spectrum[: ascending.size] = np.clip(ascending[::-1], 0.0, None)
    return spectrum


def _eigenspectrum_torch(X: np.ndarray, device: str) -> np.ndarray:
    """eigenspectrum on a GPU: float64 throughout, as on the CPU (the arithmetic of a 10,000 x
    1,000 layer is milliseconds there; the numpy path takes about a second on two cores)."""
    import torch

    X = np.asarray(X)
    real = np.issubdtype(X.dtype, np.number) and not np.iscomplexobj(X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1 or not real:
        return eigenspectrum(X)  # the CPU path raises its SpectrumError
    Xc = torch.as_tensor(X, device=device).to(torch.float64)
    if not bool(torch.isfinite(Xc).all()):
        return eigenspectrum(X)  # raises the CPU path's SpectrumError naming the count
    n, N = Xc.shape
    Xc -= Xc.mean(dim=0)
    gram = Xc.T @ Xc if n >= N else Xc @ Xc.T
    gram /= n - 1
    return _padded_descending(torch.linalg.eigvalsh(gram).cpu().numpy(), N)


def block_spectra(
    X: np.ndarray, n_blocks: int, device: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenspectrum of X and of X without each of n_blocks row blocks, for a jackknife.

    The blocks are the contiguous, near-equal row ranges of ``np.array_split(rows, n_blocks)``;
    the caller orders the rows (e.g. test images in a stratified order) so that each block is
    a fair subsample. Any statistic of the spectrum (e.g. alpha of fit_power_law) evaluated on
    the n_blocks delete-one spectra gives its standard error through jackknife_se.

    The data are read once. For n >= N the per-block sums (N,) and scatter matrices
    X_b^T X_b (N, N) are formed in float64 and every delete-one covariance follows by
    subtraction from their totals, centred with its own mean (its eigenvalues divided by
    m - 1, not its N x N entries): n_blocks extra (N, N)
    eigensolves and n_blocks (N, N) matrices in memory (80 MB for N = 1000, 10 blocks). For
    n < N, as in eigenspectrum, the (n, n) Gram matrix is used: each delete-one Gram matrix is
    its sub-matrix on the remaining rows, re-centred on their mean (H K H).

    Args:
        X: samples, shape (n, N), rows are samples, all entries finite.
        n_blocks: number of blocks, >= 2, with every block non-empty and every delete-one
            sample >= 2 rows. (Without a jackknife, skip this function; 0 or 1 is an error.)
        device: a CUDA device computes the same float64 arithmetic with torch on that GPU;
            None or 'cpu' uses numpy.

    Returns:
        (full, leave_one_out): full, shape (N,), equals eigenspectrum(X) to round-off;
        leave_one_out, shape (n_blocks, N), row b the eigenspectrum of X without block b.
        Both float64, descending, >= 0.

    Raises:
        SpectrumError: bad X (as eigenspectrum), or n_blocks < 2, more blocks than rows, or a
            delete-one sample with fewer than 2 rows.
    """
    Xc = _as_float64_2d(X)
    n, N = Xc.shape
    bounds = _block_bounds(n, n_blocks)
    if device is not None and str(device).startswith("cuda"):
        import torch

        Xc = torch.as_tensor(Xc, device=device)
        eigvalsh, to_numpy = torch.linalg.eigvalsh, lambda t: t.cpu().numpy()
    else:
        eigvalsh, to_numpy = np.linalg.eigvalsh, np.asarray
    # Centring on the overall mean first costs nothing (covariances are shift-invariant) and
    # keeps the block sums small, so subtracting the delete-one means loses no precision to
    # cancellation when the features have large means (e.g. post-ReLU activations).
    Xc -= Xc.mean(0)
    matrices = _delete_one_covariances(Xc, bounds) if n >= N else _delete_one_grams(Xc, bounds)
    spectra = [_padded_descending(to_numpy(eigvalsh(m) / dof), N) for m, dof in matrices]
    return spectra[0], np.stack(spectra[1:])


def _block_bounds(n: int, n_blocks: int) -> list[tuple[int, int]]:
    """(start, stop) of the n_blocks contiguous row blocks of np.array_split, after checks."""
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2:
        raise SpectrumError(
            f"n_blocks must be an integer >= 2 for a delete-one jackknife; got {n_blocks!r}. "
            "To go without a standard error, skip block_spectra and use eigenspectrum."
        )
    if n_blocks > n:
        raise SpectrumError(
            f"n_blocks ({n_blocks}) exceeds the {n} rows of X, which leaves empty blocks; "
            "use at most as many blocks as samples."
        )
    largest = -(-n // n_blocks)
    if n - largest < 2:
        raise SpectrumError(
            f"removing the largest of {n_blocks} blocks of {n} rows leaves {n - largest} "
            "row(s); a delete-one covariance needs at least 2. Use more blocks or more samples."
        )
    blocks = np.array_split(np.arange(n), n_blocks)
    return [(int(rows[0]), int(rows[-1]) + 1) for rows in blocks]


def _delete_one_covariances(Xc, bounds: list[tuple[int, int]]):
    """Yield (S, m - 1) for all n rows of Xc (n, N), then for the m rows left without each
    block: S (N, N) the scatter of those rows about their own mean, from the block sums and
    scatters, so that their covariance is S / (m - 1). The caller divides the N eigenvalues
    instead of the N x N entries. Xc is a numpy array or a torch tensor, centred or not."""
    n = Xc.shape[0]
    sums = [Xc[start:stop].sum(0) for start, stop in bounds]
    scatters = [Xc[start:stop].T @ Xc[start:stop] for start, stop in bounds]
    total_sum, total_scatter = sum(sums), sum(scatters)
    yield _centred_scatter(total_scatter + 0.0, total_sum, n), n - 1  # a copy: reused below
    for (start, stop), block_sum, block_scatter in zip(bounds, sums, scatters, strict=True):
        m = n - (stop - start)
        yield _centred_scatter(total_scatter - block_scatter, total_sum - block_sum, m), m - 1


def _centred_scatter(scatter, row_sum, m: int):
    """The scatter of m rows about their mean, sum(x x^T) - sum(x) sum(x)^T / m, from the
    scatter sum(x x^T) (N, N), which it overwrites, and the sum(x) (N,) of the rows: one
    (N, N) temporary and two passes over it."""
    scatter -= row_sum[:, None] * (row_sum / m)[None, :]
    return scatter


def _delete_one_grams(Xc, bounds: list[tuple[int, int]]):
    """Yield (G, n - 1) with G the Gram matrix (n, n) of the centred Xc (n, N), then (G_b,
    m - 1) with G_b the re-centred Gram matrix (m, m) of the m rows left without each block;
    G / (n - 1) has the covariance's non-zero eigenvalues. Xc is a numpy array or a torch
    tensor."""
    n = Xc.shape[0]
    gram = Xc @ Xc.T
    yield gram, n - 1
    for start, stop in bounds:
        keep = np.r_[0:start, stop:n]
        sub = gram[keep][:, keep]
        # Double centring H K H with H = I - 11^T / m; K is symmetric, so row means = column means.
        means = sub.mean(0)
        yield sub - means[:, None] - means[None, :] + means.mean(), keep.size - 1


def layer_spectrum(
    h: np.ndarray, n_blocks: int, device: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Spectrum (N,) of one layer's activations h (n, N) and its (n_blocks, N) delete-one-block
    spectra over the blocks of sampling.block_order (None when n_blocks is 0: no jackknife)."""
    from manifold_smoothness.sampling import block_order

    if n_blocks == 0:
        return eigenspectrum(h, device=device), None
    return block_spectra(np.asarray(h)[block_order(len(h))], n_blocks, device=device)


def _as_float64_1d(eigenvalues: np.ndarray, name: str = "eigenvalues") -> np.ndarray:
    """Validate a 1-D finite spectrum and return a float64 copy, shape (K,)."""
    ev = np.array(eigenvalues, dtype=np.float64, copy=True)
    if ev.ndim != 1:
        raise SpectrumError(f"{name} must be 1-D; got shape {ev.shape}.")
    if ev.size == 0:
        raise SpectrumError(f"{name} is empty; pass the output of eigenspectrum().")
    n_bad = ev.size - int(np.count_nonzero(np.isfinite(ev)))
    if n_bad:
        raise SpectrumError(
            f"{name} contains {n_bad} non-finite value(s) out of {ev.size}; "
            "check the data the spectrum was computed from."
        )
    return ev


def _validate_ranks(ranks: tuple[int, int]) -> tuple[int, int]:
    """Check a (first, last) 1-based inclusive rank window and return it as Python ints."""
    try:
        first, last = ranks
    except (TypeError, ValueError):
        raise SpectrumError(
            f"ranks must be a pair (first, last) of 1-based ranks; got {ranks!r}."
        ) from None
    for value in (first, last):
        # bool is an int subclass but never a meaningful rank.
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise SpectrumError(f"ranks must be integers; got {ranks!r}.")
    first, last = int(first), int(last)
    if first < 1:
        raise SpectrumError(f"ranks are 1-based; first rank must be >= 1, got {first}.")
    if last < first:
        raise SpectrumError(f"last rank ({last}) must be >= first rank ({first}).")
    return first, last


def valid_rank_count(eigenvalues: np.ndarray, floor: float) -> int:
    """Number of eigenvalues above floor * max(eigenvalues): the ranks a fit may use.

    Args:
        eigenvalues: spectrum, shape (K,), finite, in any order.
        floor: relative floor, finite and >= 0; values at or below it count as zero.

    Returns:
        The count, 0 for a spectrum whose largest value is <= 0.
    """
    if not np.isfinite(floor) or floor < 0:
        raise SpectrumError(f"floor must be a finite number >= 0; got {floor!r}.")
    ev = _as_float64_1d(eigenvalues)
    top = ev.max()
    if top <= 0:
        return 0
    return int(np.count_nonzero(ev > floor * top))


def capped_window(ranks: tuple[int, int], n_valid: int) -> tuple[int, int]:
    """The (first, last) window fit_power_law uses by default: last capped at n_valid // 2.

    Args:
        ranks: (first, last) 1-based inclusive window.
        n_valid: number of valid eigenvalues (valid_rank_count).

    Raises:
        SpectrumError: bad ranks, or fewer than 5 ranks left after capping.
    """
    first, last = _validate_ranks(ranks)
    # The tail of a finite-sample spectrum is biased: sampling noise distorts the smallest
    # eigenvalues and rank deficiency (n samples < N features) zeroes them. Like Stringer et
    # al., fit only the upper half of the valid spectrum, which also keeps the window inside
    # the valid eigenvalues.
    last_used = min(last, n_valid // 2)
    _require_min_ranks(
        first,
        last_used,
        f"{first}..{last} (capped to {first}..{last_used} at half of the {n_valid} "
        "eigenvalues above the floor)",
    )
    return first, last_used


def _require_min_ranks(first: int, last_used: int, window: str) -> None:
    """Raise SpectrumError naming `window` if first..last_used holds fewer than 5 ranks."""
    n_fit = last_used - first + 1
    if n_fit < _MIN_FIT_RANKS:
        raise SpectrumError(
            f"power-law window ranks {window} holds {max(n_fit, 0)} rank(s), fewer than "
            f"{_MIN_FIT_RANKS}. Use a smaller first rank, more samples or wider layers."
        )


def fit_power_law(
    eigenvalues: np.ndarray,
    ranks: tuple[int, int] = (11, 500),
    floor: float = 1e-12,
    cap: bool = True,
) -> PowerLawFit:
    """Fit lambda_n ~ n^-alpha by weighted least squares of log lambda on log n.

    Weights are 1/n, as in Stringer et al. (2019), so that the many high ranks, which are
    evenly spaced in n but crowded in log n, do not dominate the slope.

    Args:
        eigenvalues: spectrum, shape (K,), ideally descending (a sorted copy is used otherwise;
            the input is never modified).
        ranks: (first, last) 1-based inclusive window.
        floor: eigenvalues <= floor * max(eigenvalues) count as zero (relative floor); the
            others are the n_valid valid eigenvalues (valid_rank_count).
        cap: True caps ``last`` at n_valid // 2 (capped_window). False fits the window as
            given, e.g. one window fixed per layer for all conditions; it must lie within the
            valid eigenvalues (check valid_rank_count first to flag, not fail).

    Returns:
        PowerLawFit with alpha, natural-log intercept, weighted r2 and the ranks used.

    Raises:
        SpectrumError: bad ranks/floor, non-finite or non-positive spectrum, a window that
            holds fewer than 5 ranks (after capping), or with cap=False a window reaching
            beyond the valid eigenvalues.
    """
    first, last = _validate_ranks(ranks)
    ev = _as_float64_1d(eigenvalues)
    # Sorting returns a new array, so the caller's data stay untouched either way.
    if np.any(np.diff(ev) > 0):
        ev = np.sort(ev)[::-1]
    top = ev[0]
    if top <= 0:
        raise SpectrumError(
            f"largest eigenvalue is {top!r}; a power law needs a positive spectrum "
            "(is the representation constant?)."
        )
    n_valid = valid_rank_count(ev, floor)
    if cap:
        first, last_used = capped_window((first, last), n_valid)
    else:
        if last > n_valid:
            raise SpectrumError(
                f"fixed power-law window ranks {first}..{last} reaches beyond the {n_valid} "
                f"eigenvalues above {floor:g} x max; check valid_rank_count() first and flag "
                "the fit, or use cap=True."
            )
        _require_min_ranks(first, last, f"{first}..{last}")
        last_used = last
    n = np.arange(first, last_used + 1, dtype=np.float64)
    x = np.log(n)
    y = np.log(ev[first - 1 : last_used])
    w = 1.0 / n
    # Weighted least squares via row scaling by sqrt(w): minimises sum w * residual^2.
    design = np.column_stack([x, np.ones_like(x)])
    sw = np.sqrt(w)
    (slope, intercept), *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    residual = y - (slope * x + intercept)
    ss_res = float(np.sum(w * residual**2))
    ss_tot = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    # A perfectly flat segment has ss_tot == 0 and is fitted exactly by slope 0.
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerLawFit(
        alpha=float(-slope),
        intercept=float(intercept),
        r2=r2,
        first_rank=first,
        last_rank=last_used,
    )


def jackknife_se(estimates: np.ndarray) -> float:
    """Delete-one jackknife standard error sqrt((B-1)/B * sum_b (a_b - mean a)^2).

    Args:
        estimates: the statistic on each of the B delete-one samples (e.g. alpha of each
            leave_one_out spectrum of block_spectra), shape (B,), finite, B >= 2.

    Raises:
        SpectrumError: not 1-D, fewer than 2 estimates, or non-finite values.
    """
    a = np.asarray(estimates, dtype=np.float64)
    if a.ndim != 1 or a.size < 2:
        raise SpectrumError(
            f"jackknife_se needs a 1-D array of >= 2 delete-one estimates; got shape {a.shape}."
        )
    n_bad = a.size - int(np.count_nonzero(np.isfinite(a)))
    if n_bad:
        raise SpectrumError(
            f"{n_bad} of the {a.size} delete-one estimates are non-finite; fix the failing "
            "fits (or skip the standard error) before the jackknife."
        )
    B = a.size
    return float(np.sqrt((B - 1) / B * np.sum((a - a.mean()) ** 2)))


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """Participation ratio (sum lambda)^2 / sum lambda^2, an effective dimensionality.

    Ranges from 1 (one dominant direction) to K (flat spectrum).

    Args:
        eigenvalues: variances, shape (K,), all >= 0 and finite.

    Raises:
        SpectrumError: negative or non-finite values, or an all-zero spectrum.
    """
    ev = _as_float64_1d(eigenvalues)
    if np.any(ev < 0):
        raise SpectrumError(
            f"eigenvalues must be >= 0 (variances); found {int(np.count_nonzero(ev < 0))} "
            f"negative value(s), min {ev.min()!r}. Clip round-off negatives or use eigenspectrum()."
        )
    top = ev.max()
    if top == 0:
        raise SpectrumError(
            "all eigenvalues are zero; the participation ratio is undefined "
            "(is the representation constant?)."
        )
    # Scale-invariant, so divide by the max first to avoid overflow/underflow in the squares.
    ev /= top
    return float(ev.sum() ** 2 / np.sum(ev**2))
