"""Linear-probe accuracy of a layer: how linearly decodable the labels are from its activations.

The probe is a multinomial logistic regression on the layer's standardised activations, fitted
on (a fixed subset of) the training set and scored on the test set. It is the same model for
every learning rule and snapshot: the same L2 penalty, zero initialisation and stopping rule,
and a full-batch L-BFGS solve in float64, so a fit is deterministic on a given device and
independent of any random state. It runs in torch so that the ~750 fits of a study are fast on
a GPU; on the CPU it is cross-checked against scikit-learn's ``LogisticRegression``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from manifold_smoothness.devices import resolve_device

__all__ = ["ProbeError", "ProbeResult", "fit_probe", "fit_probe_weights"]

# Rows of the test set standardised and scored at a time, so that only the training features
# are ever held as a full float64 copy on the device.
_TEST_CHUNK = 8192
# L-BFGS settings. Curvature pairs kept: 100 x 2 vectors of C (N + 1) float64 (16 MB at
# C = 10, N = 1000). Line-search steps per iteration, torch's default.
_HISTORY = 100
_MAX_LINE_SEARCH = 25

ArrayLike = np.ndarray | torch.Tensor


class ProbeError(ValueError):
    """Raised when activations, labels or settings cannot give a meaningful probe."""


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one linear probe.

    Attributes:
        test_accuracy: fraction of test samples whose argmax logit is their label.
        train_accuracy: the same on the training samples the probe was fitted on.
        iterations: L-BFGS iterations taken.
        converged: True when the max absolute gradient reached ``tol``; False when the solver
            stopped at ``max_iter`` (or stalled at float64 resolution) before that.
    """

    test_accuracy: float
    train_accuracy: float
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _Fit:
    """A fitted probe on the device: the standardised training features X (n, N) and labels
    y (n,), the standardisation mean (N,) and std (N,), weights W (C, N) and bias b (C,)."""

    X: torch.Tensor
    y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    W: torch.Tensor
    b: torch.Tensor
    iterations: int
    converged: bool


def fit_probe(
    h_train: ArrayLike,
    y_train: ArrayLike,
    h_test: ArrayLike,
    y_test: ArrayLike,
    l2: float = 1e-3,
    max_iter: int = 500,
    tol: float = 1e-6,
    device: str | None = None,
    *,
    n_classes: int = 10,
) -> ProbeResult:
    """Fit a linear probe on (h_train, y_train) and score it on (h_train, y_train) and (h_test,
    y_test).

    Model: features are standardised with the training mean and (population, ddof = 0) std; a
    unit whose training std is at round-off level (a dead or constant unit) gets std 1, so it
    is ~0 after centring and its weights stay ~0: it contributes nothing, and no NaN appears.
    Logits are W z + b; the objective is

        mean cross-entropy over the n training samples + (l2 / 2) * ||W||_F^2,

    with the bias unpenalised. This is exactly sklearn's ``LogisticRegression(C=1 / (l2 * n))``
    (multinomial loss, L2 penalty, fitted intercept) on ``StandardScaler().fit(h_train)``'s
    features. The penalty makes the minimiser unique (the softmax is invariant to a common
    shift of b; b is kept summing to ~0). It is minimised by full-batch L-BFGS with a
    strong-Wolfe line search from W = 0, b = 0, in float64 whatever the input dtype (its two
    large products first in float32, then in float64 to the tolerance: see ``_minimise``).

    Args:
        h_train: training activations, shape (n, N), real and finite (numpy or torch).
        y_train: training labels, shape (n,), integers in 0..n_classes-1, >= 2 classes present.
        h_test: test activations, shape (m, N).
        y_test: test labels, shape (m,).
        l2: L2 penalty on W (per sample, see the objective), > 0.
        max_iter: most L-BFGS iterations.
        tol: stop once max |gradient| <= tol (over W and b).
        device: None or 'cpu' computes on the CPU, 'cuda' / 'cuda:k' on that GPU.
        n_classes: C, the number of classes.

    Returns:
        ProbeResult with test and train accuracy of the argmax of the logits (ties go to the
        lowest class), the iterations taken and whether the gradient tolerance was reached.

    Raises:
        ProbeError: mismatched shapes, non-finite or non-real activations, non-integer or
            out-of-range labels, fewer than 2 classes in y_train, or invalid settings.
    """
    _check_settings(l2, max_iter, tol, n_classes)  # before the labels are checked against C
    m, N_test = _check_features(h_test, "h_test")
    N = _check_features(h_train, "h_train")[1]
    if N_test != N:
        raise ProbeError(
            f"h_test has {N_test} features but h_train has {N}; pass activations of the same "
            "layer for both."
        )
    _check_labels(y_test, "y_test", m, n_classes)
    fit = _fit(h_train, y_train, l2, max_iter, tol, device, n_classes)
    y_test_t = _labels_tensor(y_test, fit.X.device)
    correct = 0
    for start in range(0, m, _TEST_CHUNK):
        # Only a chunk of the test set is copied to float64 at a time.
        z = _float64_copy(h_test[start : start + _TEST_CHUNK], fit.X.device)
        z.sub_(fit.mean).div_(fit.std)
        correct += _n_correct(z, y_test_t[start : start + _TEST_CHUNK], fit.W, fit.b)
    return ProbeResult(
        test_accuracy=correct / m,
        train_accuracy=_n_correct(fit.X, fit.y, fit.W, fit.b) / fit.X.shape[0],
        iterations=fit.iterations,
        converged=fit.converged,
    )


def fit_probe_weights(
    h_train: ArrayLike,
    y_train: ArrayLike,
    l2: float = 1e-3,
    max_iter: int = 500,
    tol: float = 1e-6,
    device: str | None = None,
    *,
    n_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """The probe's parameters, for inspection and cross-checks: the same fit as ``fit_probe``.

    Returns:
        W, shape (C, N), and b, shape (C,), float64 numpy arrays acting on the standardised
        features (see ``fit_probe``); sklearn's ``coef_`` and ``intercept_`` (less its mean).

    Raises:
        ProbeError: as ``fit_probe``.
    """
    fit = _fit(h_train, y_train, l2, max_iter, tol, device, n_classes)
    return fit.W.cpu().numpy(), fit.b.cpu().numpy()


def _fit(
    h_train: ArrayLike,
    y_train: ArrayLike,
    l2: float,
    max_iter: int,
    tol: float,
    device: str | None,
    n_classes: int,
) -> _Fit:
    """Validate, standardise and fit; see ``fit_probe``."""
    _check_settings(l2, max_iter, tol, n_classes)
    n, _ = _check_features(h_train, "h_train")
    _check_labels(y_train, "y_train", n, n_classes)
    dev = resolve_device("cpu" if device is None else device)
    y = _labels_tensor(y_train, dev)
    present = torch.unique(y)
    if present.numel() < 2:
        raise ProbeError(
            f"y_train holds only class {int(present[0])}; a probe needs at least 2 classes. "
            "Use a training subset that covers several classes."
        )
    X = _float64_copy(h_train, dev)
    mean, std = _standardise_(X)
    W, b, iterations, converged = _minimise(X, y, n_classes, l2, max_iter, tol)
    return _Fit(X, y, mean, std, W, b, iterations, converged)


def _standardise_(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardise X (n, N) in place; return the mean (N,) and std (N,) used.

    A unit counts as constant when its variance is within the round-off bound of a two-pass
    variance (Chan, Golub & LeVeque), var <= n eps var + (n eps mean)^2: a dead unit (var 0,
    whose std would divide 0 by 0) or one whose variation is below the float64 resolution of
    its values (which would otherwise be blown up to unit variance). Such units get std 1.
    sklearn's StandardScaler uses the same rule, so both see the same features.
    """
    n = X.shape[0]
    var, mean = torch.var_mean(X, dim=0, correction=0)
    eps = torch.finfo(torch.float64).eps
    constant = var <= n * eps * var + (n * eps * mean) ** 2
    std = torch.where(constant, torch.ones_like(var), var.sqrt())
    X.sub_(mean).div_(std)
    return mean, std


def _minimise(
    X: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, int, bool]:
    """L-BFGS on mean cross-entropy + (l2/2)||W||^2 for features X (n, N), labels y (n,), in
    two phases that `max_iter` bounds together: first with the two (n, N) products in float32
    (half their float64 time on a CPU; everything else in float64) until the gradient reaches
    `tol` or stalls at float32 resolution, then in float64 from that point (fresh curvature
    memory), which checks the float64 gradient first and stops at once where it is within
    `tol`. The solution is the float64 problem's to the tolerance (README: Performance).

    Returns W (C, N), b (C,), the iterations taken and whether max |gradient| <= tol.
    """
    n, N = X.shape
    W = torch.zeros(n_classes, N, dtype=torch.float64, device=X.device)
    b = torch.zeros(n_classes, dtype=torch.float64, device=X.device)
    onehot = torch.nn.functional.one_hot(y, n_classes).to(torch.float64)
    iterations = 0
    for features in (X.to(torch.float32), X):
        if iterations >= max_iter:
            break
        closure = _objective(features, onehot, W, b, l2)
        iterations += _lbfgs(closure, W, b, max_iter - iterations, tol)
    closure = _objective(X, onehot, W, b, l2)
    closure()  # the float64 gradient at the final point, whichever criterion stopped the solve
    grad_max = max(float(W.grad.abs().max()), float(b.grad.abs().max()))
    return W, b, iterations, grad_max <= tol


def _objective(X: torch.Tensor, onehot: torch.Tensor, W: torch.Tensor, b: torch.Tensor, l2: float):
    """The closure of L-BFGS: the loss at (W, b), with its gradient put in W.grad and b.grad.
    The two products run in X's dtype; the rest in float64."""
    n = X.shape[0]

    def closure() -> torch.Tensor:
        # Analytic gradient instead of autograd: two (n, N) x (N, C) products per evaluation,
        # no graph, and no scatter-based backward whose GPU reductions could vary run to run.
        logits = torch.addmm(b.to(X.dtype), X, W.T.to(X.dtype)).to(torch.float64)
        lse = torch.logsumexp(logits, dim=1)
        loss = lse.mean() - (logits * onehot).sum() / n + 0.5 * l2 * W.square().sum()
        residual = torch.exp(logits - lse[:, None]).sub_(onehot).div_(n)  # softmax - onehot
        W.grad = (residual.T.to(X.dtype) @ X).to(torch.float64).add_(W, alpha=l2)
        b.grad = residual.sum(dim=0)
        return loss

    return closure


def _lbfgs(closure, W: torch.Tensor, b: torch.Tensor, max_iter: int, tol: float) -> int:
    """At most max_iter L-BFGS iterations (strong-Wolfe line search) on (W, b) from where they
    are; the iterations taken."""
    optimiser = torch.optim.LBFGS(
        [W, b],
        lr=1.0,
        max_iter=max_iter,
        # Let max_iter, not the evaluation budget, bound the solve.
        max_eval=max_iter * (_MAX_LINE_SEARCH + 1),
        tolerance_grad=tol,
        # Stop on a change in loss or step below float64 resolution only: a stalled solve,
        # which the final gradient check then reports as not converged.
        tolerance_change=torch.finfo(torch.float64).eps,
        history_size=_HISTORY,
        line_search_fn="strong_wolfe",
    )
    optimiser.step(closure)
    return int(optimiser.state[W].get("n_iter", 0))


def _n_correct(z: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> int:
    """Samples of standardised features z (k, N) whose argmax logit equals their label y (k,)."""
    return int((torch.addmm(b, z, W.T).argmax(dim=1) == y).sum())


def _float64_copy(h: ArrayLike, device: torch.device) -> torch.Tensor:
    """A fresh float64 copy of h on device, so the caller's array is never modified."""
    if isinstance(h, torch.Tensor):
        return h.detach().to(device=device, dtype=torch.float64, copy=True)
    # torch.tensor copies (as_tensor would share, and warn on a read-only array).
    return torch.tensor(h, dtype=torch.float64, device=device)


def _labels_tensor(y: ArrayLike, device: torch.device) -> torch.Tensor:
    """Labels as an int64 tensor on device, shape (n,)."""
    if isinstance(y, torch.Tensor):
        return y.detach().to(device=device, dtype=torch.int64)
    return torch.tensor(y, dtype=torch.int64, device=device)


def _check_settings(l2: float, max_iter: int, tol: float, n_classes: int) -> None:
    """Raise ProbeError for a penalty, iteration cap, tolerance or class count out of range."""
    if not (np.isfinite(l2) and l2 > 0):
        raise ProbeError(
            f"l2 must be a finite number > 0; got {l2!r}. The penalty makes the probe unique "
            "(and finite on separable layers); use e.g. the default 1e-3."
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ProbeError(f"max_iter must be an integer >= 1; got {max_iter!r}.")
    if not (np.isfinite(tol) and tol > 0):
        raise ProbeError(f"tol must be a finite number > 0; got {tol!r}.")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ProbeError(f"n_classes must be an integer >= 2; got {n_classes!r}.")


def _check_features(h: ArrayLike, name: str) -> tuple[int, int]:
    """Check that h is a real, finite (n, N) array with n, N >= 1; return (n, N)."""
    if not isinstance(h, torch.Tensor):
        h = np.asarray(h)
        real = np.issubdtype(h.dtype, np.number) and not np.iscomplexobj(h)
    else:
        real = not (h.dtype.is_complex or h.dtype == torch.bool)
    if not real:
        raise ProbeError(f"{name} must hold real numbers; got dtype {h.dtype}.")
    if h.ndim != 2 or h.shape[0] < 1 or h.shape[1] < 1:
        raise ProbeError(
            f"{name} must be 2-D (n samples, N units) with n, N >= 1; got shape "
            f"{tuple(h.shape)}. Flatten each sample's activations into one row."
        )
    finite = torch.isfinite(h) if isinstance(h, torch.Tensor) else np.isfinite(h)
    n_bad = h.shape[0] * h.shape[1] - int(finite.sum())
    if n_bad:
        raise ProbeError(
            f"{name} contains {n_bad} non-finite value(s) (NaN or inf) out of "
            f"{h.shape[0] * h.shape[1]}; probe only networks whose activations are finite "
            "(a diverged run has no meaningful probe)."
        )
    return int(h.shape[0]), int(h.shape[1])


def _check_labels(y: ArrayLike, name: str, n: int, n_classes: int) -> None:
    """Check that y is (n,) integers in 0..n_classes-1."""
    if isinstance(y, torch.Tensor):
        integer = not (y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool)
    else:
        y = np.asarray(y)
        integer = np.issubdtype(y.dtype, np.integer)
    if not integer:
        raise ProbeError(
            f"{name} must hold integer class labels; got dtype {y.dtype}. Cast the labels "
            "to an integer type."
        )
    if y.ndim != 1 or y.shape[0] != n:
        raise ProbeError(
            f"{name} must have shape ({n},), one label per row of the activations; got "
            f"{tuple(y.shape)}."
        )
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        raise ProbeError(
            f"{name} has labels in {lo}..{hi}, outside 0..{n_classes - 1}; pass labels "
            f"0..C-1 and n_classes=C."
        )


def probe_layers(
    train_layers: list[np.ndarray],
    y_train: np.ndarray,
    test_layers: list[np.ndarray],
    y_test: np.ndarray,
    l2: float,
    max_iter: int,
    device: str | None = None,
) -> list[ProbeResult]:
    """The linear probe of every layer: fitted on its training activations train_layers[l]
    (n_train, N_l), scored on its test activations test_layers[l] (n_test, N_l), with the same
    settings for every layer, learning rule and snapshot.

    The stages fit on the CPU even where the activations came from a GPU: an L-BFGS fit of this
    size is bound by the launch latency of its many small steps there (1.3-1.7 s per fit on an
    H200, against 4.5 s on one CPU thread), jobs on several cores fit in parallel, and a fit
    gives the same result on every machine (GPU and CPU fits differ by about one test image)."""
    return [
        fit_probe(h_train, y_train, h_test, y_test, l2=l2, max_iter=max_iter, device=device)
        for h_train, h_test in zip(train_layers, test_layers, strict=True)
    ]


def probe_table(results: list[ProbeResult]):
    """One row per layer (1-based, in order) of the results: a pyarrow Table."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("layer", pa.int32()),
            ("probe_accuracy", pa.float64()),
            ("probe_train_accuracy", pa.float64()),
            ("probe_iterations", pa.int32()),
            ("probe_converged", pa.bool_()),
        ]
    )
    rows = [
        {
            "layer": layer,
            "probe_accuracy": r.test_accuracy,
            "probe_train_accuracy": r.train_accuracy,
            "probe_iterations": r.iterations,
            "probe_converged": r.converged,
        }
        for layer, r in enumerate(results, start=1)
    ]
    return pa.Table.from_pylist(rows, schema=schema)
