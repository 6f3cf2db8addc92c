"""Shared fixtures: tiny real data so unit tests of training stay fast."""

from __future__ import annotations

import pytest
import torch

from manifold_smoothness.model import ModelConfig
from manifold_smoothness.training import TrainConfig


@pytest.fixture
def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    """256 random images in [0, 1] with labels that a net can partly learn (label = brightest
    block of 10 pixel blocks)."""
    g = torch.Generator().manual_seed(123)
    x = torch.rand(256, 784, generator=g)
    y = x[:, :780].reshape(256, 10, 78).mean(dim=2).argmax(dim=1)
    return x, y


@pytest.fixture
def tiny_model_config() -> ModelConfig:
    return ModelConfig(hidden=(32, 24, 16))


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    return TrainConfig(epochs=3, batch_size=64, lr=3.0e-3)
