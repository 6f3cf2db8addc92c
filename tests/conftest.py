"""Shared fixtures: tiny real data so unit tests of training stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from workflow_runner import copy_workflow, snakemake

from manifold_smoothness.model import ModelConfig
from manifold_smoothness.training import TrainConfig


def block_data() -> tuple[torch.Tensor, torch.Tensor]:
    """256 noisy images in [0, 1] whose label is the block of 78 pixels that is brighter:
    learnable in a few epochs, not trivially."""
    g = torch.Generator().manual_seed(123)
    y = torch.randint(0, 10, (256,), generator=g)
    x = torch.rand(256, 784, generator=g) * 0.7
    blocks = x[:, :780].view(256, 10, 78)
    blocks[torch.arange(256), y] += 0.3
    return x, y


@pytest.fixture
def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    return block_data()


@pytest.fixture(scope="session")
def train_on_blocks(tmp_path_factory):
    """train_on_blocks(hidden) -> (model, x, y): a network of those hidden widths trained for
    10 epochs on block_data (above chance, far from perfect: attacks have work to do)."""

    def trained(hidden: tuple[int, ...]):
        from manifold_smoothness.training import train

        x, y = block_data()
        model, _ = train(
            ModelConfig(hidden=hidden),
            TrainConfig(epochs=10, batch_size=32, lr=3.0e-3),
            0,
            (x, y),
            (x, y),
            tmp_path_factory.mktemp("blocks") / "ck.pt",
            data_id="tiny",
            test_id="tiny",
            code_id="tests",
        )
        return model, x, y

    return trained


@pytest.fixture
def tiny_model_config() -> ModelConfig:
    return ModelConfig(hidden=(32, 24, 16))


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    return TrainConfig(epochs=3, batch_size=64, lr=3.0e-3)


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Path:
    """A complete, uninterrupted run of the quick preset in a fresh copy of the workflow."""
    workdir = copy_workflow(tmp_path_factory.mktemp("quick"))
    snakemake(workdir, "--configfile", "config/quick.yaml")
    return workdir
