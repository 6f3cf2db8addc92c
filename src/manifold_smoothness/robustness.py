"""Per-image minimum adversarial distance of one network, by bisection over our PGD's budget.

For every test image, the distance is the smallest L-inf budget eps (on [0, 1] pixels) at which
our PGD (the sweeps' attack, on the network's output readout, from the clean image: no random
start, so the number is deterministic) changes the prediction away from the true label. One
robustness number per network is the median over images (`median_distance`).

The bisection brackets the budget at which PGD starts to succeed: PGD at `max_distance` either
fails (the image is censored, distance inf: robust beyond the range searched) or succeeds, and
then each of `bisections` rounds halves the bracket [lo, hi] by running PGD at its midpoint.
The distance reported is hi, a budget at which PGD did flip the image, so it is an upper bound
on the true minimum distance (an adversarial example exists within it); it is within the
bracket width max_distance / 2**bisections of the budget where PGD starts to succeed, which is
the true minimum only as far as PGD finds the worst case: the audit checks PGD against APGD.
PGD's success need not be monotone in eps; bisection assumes it is, as every budget sweep does.
Images the network already misclassifies have distance 0.

Cost: at most (1 + bisections) * pgd_steps input-gradient passes per image (one PGD run at
max_distance, then one per round); misclassified and censored images drop out early.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from manifold_smoothness.attacks import _pgd_steps
from manifold_smoothness.devices import model_device
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.vocabulary import refuse_unknown_keys

ROBUSTNESS_COLUMNS = ("sample", "label", "clean_correct", "distance")
ROBUSTNESS_SCHEMA = pa.schema(
    [
        ("sample", pa.int64()),
        ("label", pa.int64()),
        ("clean_correct", pa.bool_()),
        ("distance", pa.float64()),
    ]
)


@dataclass(frozen=True)
class RobustnessSettings:
    """One config `robustness` entry: test images measured (None: all; the caller picks a
    class-stratified subset), the bisection's upper end and rounds (bracket width
    max_distance / 2**bisections), and our PGD's steps and relative step size (absolute step
    pgd_step_size * eps / pgd_steps, as the sweeps' pgd)."""

    samples: int | None = 1000
    max_distance: float = 0.5
    bisections: int = 10
    pgd_steps: int = 20
    pgd_step_size: float = 2.5

    def __post_init__(self) -> None:
        if self.samples is not None:
            _check_int("samples", self.samples, 1, "a positive number of test images or null (all)")
        _check_float("max_distance", self.max_distance, lambda v: 0 < v <= 1, "in (0, 1]")
        _check_int("bisections", self.bisections, 1, "an integer >= 1, e.g. 10")
        _check_int("pgd_steps", self.pgd_steps, 1, "an integer >= 1, e.g. 20")
        _check_float("pgd_step_size", self.pgd_step_size, lambda v: v > 0, "> 0, e.g. 2.5")
        object.__setattr__(self, "max_distance", float(self.max_distance))
        object.__setattr__(self, "pgd_step_size", float(self.pgd_step_size))

    @classmethod
    def from_config(cls, entry: Mapping) -> RobustnessSettings:
        """The settings of a config `robustness` entry: absent keys take the defaults above,
        any other key is an error."""
        refuse_unknown_keys("robustness settings", entry, cls)
        return cls(**entry)

    @property
    def bracket_width(self) -> float:
        """Width of the final bisection bracket, the resolution of a finite distance."""
        return self.max_distance / 2**self.bisections


def _check_int(key: str, value, minimum: int, expected: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"robustness setting {key!r} is {value!r}; use {expected}")


def _check_float(key: str, value, in_range: Callable[[float], bool], expected: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not in_range(value):
        raise ValueError(f"robustness setting {key!r} is {value!r}; use a number {expected}")


def _flipped(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(n,) bool: the network's output readout does not classify x (n, 784) as y (n,)."""
    with torch.no_grad():
        return model.predict(x) != y


def _chunk_distances(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, settings: RobustnessSettings
) -> torch.Tensor:
    """Distances (n,) float64 of x (n, 784) and y (n,), all on the model's device: one batched
    PGD run per round over the images still bracketed, each at its own budget."""
    distance = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    active = torch.nonzero(~_flipped(model, x, y)).squeeze(1)  # correct: distance > 0
    lower = torch.zeros(len(active), dtype=torch.float64, device=x.device)
    upper = torch.full_like(lower, settings.max_distance)
    for round_ in range(1 + settings.bisections):
        if len(active) == 0:
            break
        # round 0 tries max_distance itself; each later round the bracket's midpoint
        eps = upper if round_ == 0 else (lower + upper) / 2
        xa, ya = x[active], y[active]
        # budgets and steps are computed in double and rounded to x's dtype once, as the
        # Python scalars of attacks.pgd are, so pgd(eps=d) repeats this run's arithmetic
        alpha = (settings.pgd_step_size * eps / settings.pgd_steps).to(x.dtype)[:, None]
        x_adv = _pgd_steps(
            model, xa, xa, ya, eps.to(x.dtype)[:, None], settings.pgd_steps, alpha, -1
        )
        flipped = _flipped(model, x_adv, ya)
        if round_ == 0:
            distance[active[~flipped]] = math.inf
            active, lower, upper = active[flipped], lower[flipped], upper[flipped]
        else:
            upper = torch.where(flipped, eps, upper)
            lower = torch.where(flipped, lower, eps)
    distance[active] = upper
    return distance


def minimum_distances(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: RobustnessSettings,
    chunk: int = 2000,
) -> np.ndarray:
    """(n,) float64 per-image distance of x (n, 784) in [0, 1] with labels y (n,): 0 where the
    network's output (last layer's readout) already misclassifies the clean image, inf where
    PGD at max_distance does not flip it, else the upper end of the final bisection bracket
    (a budget at which PGD flipped it). Runs on the model's device, in eval mode, over chunks
    of `chunk` images to bound memory; returned on the CPU."""
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(
            f"images {tuple(x.shape)} and labels {tuple(y.shape)}: expected (n, d) and (n,)"
        )
    model.eval()
    device = model_device(model)
    parts = [
        _chunk_distances(model, x[i : i + chunk].to(device), y[i : i + chunk].to(device), settings)
        for i in range(0, len(x), chunk)
    ]
    if not parts:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(parts).cpu().numpy()


def robustness_frame(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    samples_index: np.ndarray,
    settings: RobustnessSettings,
    chunk: int = 2000,
) -> pd.DataFrame:
    """One row per image (ROBUSTNESS_COLUMNS): its index in the test split (`samples_index`
    (n,), the caller's subset), label, whether the network classifies it correctly, and its
    minimum_distances distance."""
    if len(samples_index) != len(x):
        raise ValueError(f"{len(samples_index)} sample indices for {len(x)} images; pass one each")
    distance = minimum_distances(model, x, y, settings, chunk)
    return pd.DataFrame(
        {
            "sample": np.asarray(samples_index, dtype=np.int64),
            "label": y.cpu().numpy().astype(np.int64),
            "clean_correct": distance > 0,
            "distance": distance,
        },
        columns=list(ROBUSTNESS_COLUMNS),
    )


def robustness_table(frame: pd.DataFrame) -> pa.Table:
    """The frame of robustness_frame as a table of ROBUSTNESS_SCHEMA (inf stays inf)."""
    return pa.Table.from_pandas(
        frame.reset_index(drop=True)[list(ROBUSTNESS_COLUMNS)],
        schema=ROBUSTNESS_SCHEMA,
        preserve_index=False,
    )


def median_distance(distances: np.ndarray) -> float:
    """The network's robustness number: the median of distances (n,), censored images (inf)
    counted as the largest values, so it is inf when more than half are censored (or, for an
    even count, exactly half: the mean of the two middle values is then inf)."""
    distances = np.asarray(distances, dtype=np.float64)
    if len(distances) == 0 or np.isnan(distances).any():
        raise ValueError(f"median of {len(distances)} distances with NaN or none is undefined")
    return float(np.median(distances))
