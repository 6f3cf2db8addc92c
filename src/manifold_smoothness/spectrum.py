"""Eigenspectrum of layer representations and its power-law decay exponent.

The smoothness of a representation manifold is summarised, following Stringer et al. (Nature
2019, "High-dimensional geometry of population responses in visual cortex"), by the exponent
alpha of the PCA eigenspectrum lambda_n ~ n^-alpha: the faster the variances decay with rank,
the smoother the manifold. This module computes the spectrum, fits alpha and reports the
participation ratio as a complementary effective dimensionality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PowerLawFit",
    "SpectrumError",
    "eigenspectrum",
    "fit_power_law",
    "participation_ratio",
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
        last_rank: last rank actually used (1-based, inclusive), after capping.
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
    evals = np.linalg.eigvalsh(gram)[::-1]
    # Round-off can make eigenvalues of a PSD matrix slightly negative; variances are >= 0.
    np.clip(evals, 0.0, None, out=evals)
    spectrum = np.zeros(N, dtype=np.float64)
    spectrum[: evals.size] = evals
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
    evals = torch.linalg.eigvalsh(gram).flip(0).clamp_(min=0.0).cpu().numpy()
    spectrum = np.zeros(N, dtype=np.float64)
    spectrum[: evals.size] = evals
    return spectrum


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


def fit_power_law(
    eigenvalues: np.ndarray,
    ranks: tuple[int, int] = (11, 500),
    floor: float = 1e-12,
) -> PowerLawFit:
    """Fit lambda_n ~ n^-alpha by weighted least squares of log lambda on log n.

    Weights are 1/n, as in Stringer et al. (2019), so that the many high ranks, which are
    evenly spaced in n but crowded in log n, do not dominate the slope.

    Args:
        eigenvalues: spectrum, shape (K,), ideally descending (a sorted copy is used otherwise;
            the input is never modified).
        ranks: (first, last) 1-based inclusive window. ``last`` is capped at half the number of
            valid eigenvalues (see below).
        floor: eigenvalues <= floor * max(eigenvalues) count as zero (relative floor).

    Returns:
        PowerLawFit with alpha, natural-log intercept, weighted r2 and the ranks used.

    Raises:
        SpectrumError: bad ranks/floor, non-finite or non-positive spectrum, or a window that
            holds fewer than 5 ranks after capping.
    """
    first, last = _validate_ranks(ranks)
    if not np.isfinite(floor) or floor < 0:
        raise SpectrumError(f"floor must be a finite number >= 0; got {floor!r}.")
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
    n_valid = int(np.count_nonzero(ev > floor * top))
    # The tail of a finite-sample spectrum is biased: sampling noise distorts the smallest
    # eigenvalues and rank deficiency (n samples < N features) zeroes them. Like Stringer et
    # al., fit only the upper half of the valid spectrum. Since n_valid // 2 <= n_valid this
    # also keeps the window inside the valid eigenvalues.
    last_used = min(last, n_valid // 2, n_valid)
    n_fit = last_used - first + 1
    if n_fit < _MIN_FIT_RANKS:
        raise SpectrumError(
            f"power-law window ranks {first}..{last} (capped to {first}..{last_used} at half "
            f"of the {n_valid} eigenvalues above {floor:g} x max) holds {max(n_fit, 0)} "
            f"rank(s), fewer than {_MIN_FIT_RANKS}. Use a smaller first rank, more samples "
            "or wider layers."
        )
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
