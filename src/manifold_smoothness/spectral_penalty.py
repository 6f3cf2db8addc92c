"""A spectral intervention: a training penalty that pulls every hidden layer's covariance spectrum
towards a power law lambda_n ~ n^-exponent (Nassar et al., NeurIPS 2020, "On 1/n neural
representation and robustness"; their code, josuenassar/power_law, is the anchor).

Once per epoch the eigenvectors V of each hidden layer's covariance are computed on the training
set (torch.linalg.eigh in float64; their code used torch.symeig, which torch 2 removed). At every
step the batch's variance along each eigenvector, lambda_n = var(h V)_n (sorted in decreasing
order), is compared with the power law through the rank tau = first_rank - 1 (0-based):
gamma_n = lambda_tau (tau + 1)^a / (n + 1)^a, with lambda_tau held fixed (no gradient), and

    penalty_l = sum_{n > tau} (r_n - 1)^2 + relu(r_n - 1),  r_n = lambda_n / gamma_n

divided by the layer's width; the loss gains weight * sum_l penalty_l. The relu term punishes
excess variance (a spectrum decaying too slowly) more than a deficit. Ranks before tau are free:
first_rank defaults to 11, the first rank of the analysis's fit window (config
`analysis.fit_window`), so the penalty acts on the ranks whose decay the study measures as alpha.
One departure from their code: it skips ranks whose variance is not positive (meant for negative
round-off), which in a ReLU network lets a steep target be met by killing units at no cost (a
dead direction's variance is exactly 0); here a dead direction costs a full deficit, 1 / N.

Every hidden layer is penalised. Under local errors a layer's input is detached, so its penalty
moves its own weights only; under backprop it also moves the layers below. Greedy training is
not supported (its frozen layers could not follow their penalty). The penalty is a
`SpectralPenalty` (its settings) and a `PenaltyTerm` (with the eigenvectors) during training.
"""

from __future__ import annotations

import torch

from manifold_smoothness.vocabulary import PENALTY_CHUNK, SpectralPenalty

# An anchor variance at or below this fraction of the largest one counts as 0: the layer has
# collapsed onto fewer than first_rank directions, and its penalty is 0.
COLLAPSED = 1e-12


def covariance_eigh(scatter: torch.Tensor, total: torch.Tensor, n: int):
    """Eigenvalues (N,) and eigenvectors (N, N) of the covariance of n rows whose sum is total
    (N,) and whose scatter h^T h is scatter (N, N), both float64, in decreasing order."""
    mean = total / n
    cov = scatter / n - torch.outer(mean, mean)
    values, vectors = torch.linalg.eigh((cov + cov.T) / 2)
    return values.flip(0), vectors.flip(1)


def projected_variances(h: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Variance of h (b, N) along each column of vectors (N, N), in decreasing order: (N,)."""
    centred = h - h.mean(0)
    variances = (centred @ vectors).square().sum(0) / max(len(h) - 1, 1)
    return torch.sort(variances, descending=True).values


def power_law_penalty(variances: torch.Tensor, exponent: float, first_rank: int) -> torch.Tensor:
    """The penalty of one layer's spectrum variances (N,) (decreasing) against the power law of
    `exponent` anchored at rank first_rank (1-based), divided by N: a scalar tensor."""
    tau = first_rank - 1
    n_units = len(variances)
    if tau + 1 >= n_units:
        raise ValueError(
            f"spectral_penalty.first_rank {first_rank} leaves no rank of a {n_units}-unit layer "
            "to penalise; lower it below the layer's width"
        )
    anchor = variances[tau].detach()
    # A layer that spans at most tau directions has no tail to pull towards a power law (and
    # its ratios to a zero anchor would be 0 / 0): its penalty is 0. Decided on the device,
    # without making the host wait for it.
    spans = anchor > COLLAPSED * variances[0].detach()
    ranks = torch.arange(tau + 1, n_units, device=variances.device, dtype=variances.dtype)
    gamma = torch.where(spans, anchor, 1.0) * (tau + 1) ** exponent / (ranks + 1) ** exponent
    excess = variances[tau + 1 :] / gamma - 1
    penalty = (excess.square() + torch.relu(excess)).sum() / n_units
    return torch.where(spans, penalty, 0.0)


class PenaltyTerm:
    """The penalty during training: `refresh` recomputes the eigenvectors of every hidden layer
    on the training set (once per epoch), calling it on a step's hidden layers gives
    weight * sum of the layers' penalties."""

    def __init__(self, spec: SpectralPenalty) -> None:
        self.spec = spec
        self.vectors: list[torch.Tensor] = []

    @torch.no_grad()
    def refresh(self, model, x: torch.Tensor, chunk: int = PENALTY_CHUNK) -> float:
        """New eigenvectors from the hidden layers of x (n, 784), their covariances accumulated
        in float64 chunk by chunk; returns the unweighted penalty of the whole set's spectra
        (for the log)."""
        was_training = model.training
        model.eval()
        sums: list[list[torch.Tensor]] = []
        for start in range(0, len(x), chunk):
            hiddens = [h.double() for h in model(x[start : start + chunk])]
            if not sums:
                sums = [
                    [torch.zeros_like(h[0]), h.new_zeros(h.shape[1], h.shape[1])] for h in hiddens
                ]
            for (total, scatter), h in zip(sums, hiddens, strict=True):
                total += h.sum(0)
                scatter += h.T @ h
        model.train(was_training)
        decompositions = [covariance_eigh(scatter, total, len(x)) for total, scatter in sums]
        dtype = next(model.parameters()).dtype
        self.vectors = [vectors.to(dtype) for _, vectors in decompositions]
        return sum(
            float(power_law_penalty(values, self.spec.exponent, self.spec.first_rank))
            for values, _ in decompositions
        )

    def __call__(self, hiddens: list[torch.Tensor]) -> torch.Tensor:
        """weight * sum_l penalty_l of the hidden layers (b, N_l) of one step."""
        if len(self.vectors) != len(hiddens):
            raise RuntimeError("the penalty's eigenvectors were never computed; call refresh first")
        total = sum(
            power_law_penalty(projected_variances(h, v), self.spec.exponent, self.spec.first_rank)
            for h, v in zip(hiddens, self.vectors, strict=True)
        )
        return self.spec.weight * total
