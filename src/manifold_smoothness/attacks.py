"""Input perturbations: independent Gaussian noise and FGSM, both clipped to the image range.

Inputs live in [0, 1] (normalisation, if any, belongs inside the model), so clipping the
perturbed image to [0, 1] is exactly the valid-image constraint.

Devices: gradients are taken on the model's device (a model may have been moved, e.g. to the
GPU by ART), inputs are moved there, and every attack returns its result on the device of the
input it was given. Gaussian noise is drawn on the CPU, so a seed gives the same noise anywhere.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from manifold_smoothness.devices import model_device
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.study import CLEAN, CONDITIONS


def noise_seed(model_seed: int, strength: float) -> int:
    """Seed of the noise of one (model seed, strength) condition: reruns draw the same noise."""
    sequence = np.random.SeedSequence([int(model_seed), int(round(strength * 1_000_000))])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def gaussian(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """x' = clip(x + sigma * xi, 0, 1) with xi ~ N(0, I) per pixel and image. x: (n, 784).
    `generator` is a CPU generator; the result is on x's device."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp_(0.0, 1.0)


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


def perturb(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: str,
    strength: float,
    seed: int,
    layer: int = -1,
    chunk: int = 2000,
) -> torch.Tensor:
    """The attacked version of x (n, 784), on x's device; strength 0 is x itself. The noise
    is seeded by (seed, strength); `layer` is the readout FGSM differentiates."""
    if attack not in CONDITIONS:
        raise ValueError(f"attack {attack!r} unknown; use one of {CONDITIONS}")
    if attack == CLEAN or strength == 0:
        return x
    if attack == "gaussian":
        generator = torch.Generator().manual_seed(noise_seed(seed, strength))
        return gaussian(x, strength, generator)
    if attack == "fgsm":
        return torch.cat(
            [
                fgsm(model, x[i : i + chunk], y[i : i + chunk], strength, layer)
                for i in range(0, len(x), chunk)
            ]
        )
    raise NotImplementedError(f"attack {attack!r} is named in study.ATTACKS; implement it here")


def perturbation_norms(x: torch.Tensor, x_adv: torch.Tensor) -> dict[str, float]:
    """Realised mean L2 and L-inf perturbation (clipping makes them smaller than nominal)."""
    delta = (x_adv - x).flatten(1)
    return {
        "perturbation_l2": float(delta.norm(dim=1).mean()),
        "perturbation_linf": float(delta.abs().amax(dim=1).mean()),
    }
