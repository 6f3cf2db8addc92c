"""Input perturbations, all clipped to the image range: Gaussian noise, FGSM, PGD and the
random-sign control (FGSM's L-inf budget without its adversarial direction).

An attack is a `vocabulary.AttackSpec`: a method and its settings, read from one config entry;
`GRID_ATTACKS` holds each method's arithmetic (one function per entry of
vocabulary.ATTACK_METHODS). Its strength is the noise's standard deviation (gaussian) or the
L-inf budget eps (the others); strength 0 is the clean input whatever the method.

Inputs live in [0, 1] (normalisation, if any, belongs inside the model), so clipping the
perturbed image to [0, 1] is exactly the valid-image constraint.

Devices: gradients are taken on the model's device (a model may have been moved, e.g. to the
GPU by ART), inputs are moved there, and every attack returns its result on the device of the
input it was given. Random draws are made on the CPU, so a seed gives the same draws anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from manifold_smoothness.devices import model_device
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.vocabulary import ATTACK_METHODS, PGD_GRID_ROWS, AttackSpec

# The random stream of each method that draws (vocabulary.AttackMethod.noise_stream).
NOISE_STREAMS = {
    name: method.noise_stream
    for name, method in ATTACK_METHODS.items()
    if method.noise_stream is not None
}


def noise_seed(model_seed: int, strength: float, method: str = "gaussian") -> int:
    """Seed of the random draws of one (model seed, strength, method) condition: reruns draw
    the same noise, and methods at the same strength draw independently."""
    if method not in NOISE_STREAMS:
        raise ValueError(f"{method!r} draws nothing at random; seed one of {list(NOISE_STREAMS)}")
    entropy = [int(model_seed), int(round(strength * 1_000_000)), NOISE_STREAMS[method]]
    sequence = np.random.SeedSequence(entropy)
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _generator(model_seed: int, strength: float, method: str) -> torch.Generator:
    return torch.Generator().manual_seed(noise_seed(model_seed, strength, method))


def gaussian(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """x' = clip(x + sigma * xi, 0, 1) with xi ~ N(0, I) per pixel and image. x: (n, 784).
    `generator` is a CPU generator; the result is on x's device."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp_(0.0, 1.0)


def random_sign(x: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """x' = clip(x + eps * sign(xi), 0, 1) with xi ~ N(0, I): a fair +-1 per pixel, the L-inf
    budget of FGSM without its adversarial direction. x: (n, 784); `generator` is a CPU
    generator; the result is on x's device."""
    return (x + eps * fair_signs(x, generator)).clamp_(0.0, 1.0)


def fair_signs(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A fair +-1 per element of x, sign(xi) with xi ~ N(0, 1) drawn with the CPU `generator`
    (xi == 0, probability ~0, counts as +1), on x's device."""
    xi = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return torch.where(xi < 0, -1.0, 1.0).to(dtype=x.dtype, device=x.device)


def input_gradient_sign(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, layer: int = -1
) -> torch.Tensor:
    """sign(grad_x CE(B_layer h_layer(x), y)) with gradients through all layers below `layer`.
    Computed on the model's device, returned on x's device."""
    model.eval()
    device = model_device(model)
    x_model = x.detach().to(device).clone().requires_grad_(True)
    hiddens = model(x_model, detach=False)
    index = layer % model.n_layers
    logits = hiddens[index] @ model.readout(index).T
    loss = nn.functional.cross_entropy(logits, y.to(device), reduction="sum")
    (grad,) = torch.autograd.grad(loss, x_model)
    return grad.sign().to(x.device)


def fgsm(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, eps: float, layer: int = -1
) -> torch.Tensor:
    """x' = clip(x + eps * sign(grad_x CE), 0, 1), true labels, model in eval mode.
    `layer` picks whose readout is attacked (-1: the network's output, the last layer).
    The result is on x's device."""
    return (x + eps * input_gradient_sign(model, x, y, layer)).clamp_(0.0, 1.0).detach()


def uniform_start(x: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """clip(x + u, 0, 1) with u uniform in [-eps, eps] per pixel: PGD's random start.
    `generator` is a CPU generator; the result is on x's device."""
    u = (torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1) * eps
    return (x + u.to(x.device)).clamp_(0.0, 1.0)


def _pgd_steps(
    model: LocalErrorMLP,
    x: torch.Tensor,
    start: torch.Tensor,
    y: torch.Tensor,
    eps: float | torch.Tensor,
    steps: int,
    alpha: float | torch.Tensor,
    layer: int,
) -> torch.Tensor:
    """`steps` signed-gradient steps of size alpha from `start`, projected on the eps ball
    around x and the image range; eps and alpha are numbers or per-row columns (n, 1)."""
    lower, upper = x - eps, x + eps
    x_adv = start
    for _ in range(steps):
        x_adv = x_adv + alpha * input_gradient_sign(model, x_adv, y, layer)
        # the eps ball and [0, 1] are boxes that both contain x, so clipping to one and then
        # the other, in either order, is the projection on their intersection
        x_adv = torch.clamp(x_adv, lower, upper).clamp_(0.0, 1.0)
    return x_adv.detach()


def pgd(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float,
    random_start: bool,
    generator: torch.Generator | None,
    layer: int = -1,
) -> torch.Tensor:
    """Untargeted L-inf PGD (Madry et al. 2018) on true labels, model in eval mode: from x
    (or, with `random_start`, a uniform draw in the eps ball made with the CPU `generator`),
    `steps` times x' <- clip(proj_eps(x' + a * sign(grad_x CE(B_layer h_layer(x'), y))), 0, 1)
    with a = step_size * eps / steps. x: (n, 784); the result is on x's device."""
    if steps < 1:
        raise ValueError(f"pgd needs at least one step, got steps={steps}")
    if random_start and generator is None:
        raise ValueError("pgd with random_start needs a generator to draw the start")
    start = uniform_start(x, eps, generator) if random_start else x
    return _pgd_steps(model, x, start, y, eps, steps, step_size * eps / steps, layer)


def _chunked(attack, x: torch.Tensor, *per_sample: torch.Tensor, chunk: int) -> torch.Tensor:
    """attack(x_chunk, *chunks) over row chunks of x and `per_sample`, concatenated."""
    return torch.cat(
        [
            attack(x[i : i + chunk], *(t[i : i + chunk] for t in per_sample))
            for i in range(0, len(x), chunk)
        ]
    )


def grid_seed(model_seed: int, method: str) -> int:
    """Seed of the one draw that serves every strength of a random-sign grid: the signs are
    drawn once per (model seed, method), and strength eps scales them, so the perturbations of
    a grid are nested like FGSM's (one direction, growing budget)."""
    return noise_seed(model_seed, 0.0, method)


def perturb_grid(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    strengths: list[float],
    seed: int,
    layer: int = -1,
    chunk: int = 2000,
    max_rows: int = PGD_GRID_ROWS,
) -> Iterator[torch.Tensor]:
    """The attacked versions of x (n, 784), one per strength in order, on x's device; strength
    0 is x itself. Work shared by the grid is done once: FGSM takes one input gradient and
    random-sign one draw for all strengths (both perturbations are eps * a fixed sign); PGD
    runs all strengths of a group of at most `max_rows` // n strengths as one batch, chunks of
    `chunk` stacked rows per gradient pass; Gaussian noise is drawn per strength (seeded by
    (seed, strength)). Lazy: each result is made when it is asked for (PGD's per group)."""
    for strength in strengths:
        if strength < 0:
            raise ValueError(f"attack strength must be >= 0, got {strength}")
    if spec.method not in GRID_ATTACKS:
        raise NotImplementedError(
            f"attack method {spec.method!r} is in vocabulary.ATTACK_METHODS but has no grid "
            "function; add one to attacks.GRID_ATTACKS"
        )
    yield from GRID_ATTACKS[spec.method](model, x, y, spec, strengths, seed, layer, chunk, max_rows)


GridAttack = Callable[..., Iterator[torch.Tensor]]


def _gaussian_grid(model, x, y, spec, strengths, seed, layer, chunk, max_rows):
    """Gaussian noise, drawn per strength (seeded by (seed, strength))."""
    for strength in strengths:
        yield gaussian(x, strength, _generator(seed, strength, "gaussian")) if strength else x


def _sign_grid(model, x, y, spec, strengths, seed, layer, chunk, max_rows):
    """x + eps * one fixed sign (FGSM's input-gradient sign or random-sign's draw), clipped;
    the direction is made once, at the first non-zero strength."""
    direction = None
    for strength in strengths:
        if strength == 0:
            yield x
            continue
        if direction is None:
            direction = _sign_direction(model, x, y, spec, seed, layer, chunk)
        yield (x + strength * direction).clamp_(0.0, 1.0).detach()


def _pgd_groups(model, x, y, spec, strengths, seed, layer, chunk, max_rows):
    """PGD, the strengths of a group of at most max_rows // n stacked into one batch."""
    group = max(1, max_rows // max(1, len(x)))
    for first in range(0, len(strengths), group):
        yield from _pgd_grid(
            model, x, y, spec, strengths[first : first + group], seed, layer, chunk
        )


def _sign_direction(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    seed: int,
    layer: int,
    chunk: int,
) -> torch.Tensor:
    """The +-1 direction that FGSM (sign of the input gradient at x) or random-sign (a fair
    draw, seeded by grid_seed) moves every pixel along, on x's device."""
    if spec.method == "random_sign":
        return fair_signs(x, torch.Generator().manual_seed(grid_seed(seed, "random_sign")))
    return _chunked(lambda xc, yc: input_gradient_sign(model, xc, yc, layer), x, y, chunk=chunk)


def _pgd_grid(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    strengths: list[float],
    seed: int,
    layer: int,
    chunk: int,
) -> list[torch.Tensor]:
    """PGD at every strength of `strengths`, run as one stacked batch (strength-major), with
    each strength's start drawn as `perturb` draws it; strength 0 is x."""
    active = [s for s in strengths if s > 0]
    if not active:
        return [x for _ in strengths]
    n = len(x)
    starts = [
        uniform_start(x, s, _generator(seed, s, "pgd")) if spec.random_start else x for s in active
    ]

    # per-row budgets and steps, each rounded from double once as a Python scalar would be
    def per_row(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=x.dtype, device=x.device).repeat_interleave(n)[:, None]

    step = per_row([spec.step_size * s / spec.steps for s in active])
    stacked = _chunked(
        lambda xc, sc, yc, ec, ac: _pgd_steps(model, xc, sc, yc, ec, spec.steps, ac, layer),
        x.repeat(len(active), 1),
        torch.cat(starts),
        y.repeat(len(active)),
        per_row(active),
        step,
        chunk=chunk,
    )
    results = iter(stacked.split(n))
    return [next(results) if s > 0 else x for s in strengths]


# method -> its grid: (model, x, y, spec, strengths, seed, layer, chunk, max_rows) -> the attacked
# inputs, one per strength in order (see perturb_grid); one entry per vocabulary.ATTACK_METHODS.
GRID_ATTACKS: dict[str, GridAttack] = {
    "gaussian": _gaussian_grid,
    "fgsm": _sign_grid,
    "random_sign": _sign_grid,
    "pgd": _pgd_groups,
}


def perturb(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    spec: AttackSpec,
    strength: float,
    seed: int,
    layer: int = -1,
    chunk: int = 2000,
) -> torch.Tensor:
    """The attacked version of x (n, 784) at one strength, on x's device: the element of
    `perturb_grid` for a grid of that strength alone (the same draws and steps as in any
    grid). `layer` is the readout a gradient method differentiates; gradient methods run over
    chunks of `chunk` rows to bound memory."""
    return next(perturb_grid(model, x, y, spec, [strength], seed, layer, chunk))


def perturbation_norms(x: torch.Tensor, x_adv: torch.Tensor) -> dict[str, float]:
    """Realised mean L2 and L-inf perturbation (clipping makes them smaller than nominal)."""
    delta = (x_adv - x).flatten(1)
    return {
        "perturbation_l2": float(delta.norm(dim=1).mean()),
        "perturbation_linf": float(delta.abs().amax(dim=1).mean()),
    }
