"""Input perturbations: independent Gaussian noise and FGSM, both clipped to the image range.

Inputs live in [0, 1] (normalisation, if any, belongs inside the model), so clipping the
perturbed image to [0, 1] is exactly the valid-image constraint.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from manifold_smoothness.model import LocalErrorMLP

ATTACKS = ("clean", "gaussian", "fgsm")
FGSM_TARGETS = ("output", "layer")


def noise_seed(model_seed: int, strength: float) -> int:
    """Seed of the noise of one (model seed, strength) condition: reruns draw the same noise."""
    sequence = np.random.SeedSequence([int(model_seed), int(round(strength * 1_000_000))])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def gaussian(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """x' = clip(x + sigma * xi, 0, 1) with xi ~ N(0, I) per pixel and image. x: (n, 784)."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp_(0.0, 1.0)


def input_gradient_sign(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, layer: int = -1
) -> torch.Tensor:
    """sign(grad_x CE(B_layer h_layer(x), y)) with gradients through all layers below `layer`."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    hiddens = model(x, detach=False)
    index = layer % model.n_layers
    logits = hiddens[index] @ model.readout(index).T
    loss = nn.functional.cross_entropy(logits, y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad.sign()


def fgsm(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, eps: float, layer: int = -1
) -> torch.Tensor:
    """x' = clip(x + eps * sign(grad_x CE), 0, 1), true labels, model in eval mode.
    `layer` picks whose readout is attacked (-1: the network's output, the last layer)."""
    return (x + eps * input_gradient_sign(model, x, y, layer)).clamp_(0.0, 1.0).detach()


def perturbation_norms(x: torch.Tensor, x_adv: torch.Tensor) -> dict[str, float]:
    """Realised mean L2 and L-inf perturbation (clipping makes them smaller than nominal)."""
    delta = (x_adv - x).flatten(1)
    return {
        "perturbation_l2": float(delta.norm(dim=1).mean()),
        "perturbation_linf": float(delta.abs().amax(dim=1).mean()),
    }
