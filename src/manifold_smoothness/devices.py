"""Where tensors live: the device a job asks for, and the device a model sits on."""

from __future__ import annotations

import torch
from torch import nn


def resolve_device(device: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; an explicit `cuda` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no GPU; use auto or cpu")
    return torch.device(device)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (ART, for one, moves a model to the GPU itself)."""
    return next(model.parameters()).device
