"""The deep fully connected network trained with local errors (Mostafa et al. 2018).

Every hidden layer l owns a fixed random readout B_l (10 x N_l). The readout is a buffer, not a
parameter: it is saved with the model but never seen by the optimiser. Each layer's input is
detached, so the cross-entropy of B_l h_l trains layer l alone and can be read out as a
classifier on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from manifold_smoothness.storage import CorruptFileError, load_torch, save_torch

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
READOUT_INITS = ("gaussian", "uniform")
N_INPUTS = 784
N_CLASSES = 10


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a LocalErrorMLP; stored inside model.pt so a model rebuilds itself."""

    hidden: tuple[int, ...]
    activation: str = "relu"
    readout_init: str = "gaussian"
    readout_scale: float = 1.0
    n_inputs: int = N_INPUTS
    n_classes: int = N_CLASSES

    def __post_init__(self) -> None:
        if not self.hidden or any(int(w) < 1 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive integers, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation {self.activation!r} unknown; use one of {list(ACTIVATIONS)}"
            )
        if self.readout_init not in READOUT_INITS:
            raise ValueError(f"readout init {self.readout_init!r} unknown; use {READOUT_INITS}")
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))

    def to_dict(self) -> dict:
        return asdict(self)


def random_readout(
    width: int, n_classes: int, init: str, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """Fixed readout B (n_classes, width), std scale/sqrt(width) for both distributions."""
    std = scale / width**0.5
    if init == "gaussian":
        return torch.randn(n_classes, width, generator=generator) * std
    # uniform on [-a, a] has std a/sqrt(3)
    return (torch.rand(n_classes, width, generator=generator) * 2 - 1) * std * 3**0.5


class LocalErrorMLP(nn.Module):
    """x: (batch, 784) in [0, 1] -> hidden activations, one (batch, N_l) tensor per layer."""

    def __init__(self, config: ModelConfig, seed: int) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(seed)  # weight init (nn.Linear uses the global generator)
        readout_gen = torch.Generator().manual_seed(seed + 1_000_003)
        widths = (config.n_inputs, *config.hidden)
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.act = ACTIVATIONS[config.activation]()
        for index, width in enumerate(config.hidden):
            readout = random_readout(
                width, config.n_classes, config.readout_init, config.readout_scale, readout_gen
            )
            self.register_buffer(f"readout_{index}", readout)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def readout(self, layer: int) -> torch.Tensor:
        return getattr(self, f"readout_{layer}")

    def forward(self, x: torch.Tensor, detach: bool = True) -> list[torch.Tensor]:
        """Hidden activations of every layer. With `detach`, no gradient crosses a layer boundary;
        attacks pass detach=False to differentiate the input through the whole network."""
        hiddens = []
        h = x
        for layer in self.layers:
            h = self.act(layer(h.detach() if detach else h))
            hiddens.append(h)
        return hiddens

    def logits(self, hiddens: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each layer's local readout B_l h_l: one (batch, 10) tensor per layer."""
        return [h @ self.readout(i).T for i, h in enumerate(hiddens)]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The network's prediction: argmax of the last layer's readout."""
        return self.logits(self.forward(x))[-1].argmax(dim=1)


def local_losses(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Cross-entropy of every layer's readout; their sum trains all layers in one pass."""
    return [nn.functional.cross_entropy(z, y) for z in model.logits(model(x))]


def save_model(model: LocalErrorMLP, path: str | Path, extra: dict | None = None) -> None:
    """Write state dict + config (plain types only, so weights_only loading works)."""
    blob = {"state_dict": model.state_dict(), "config": model.config.to_dict()}
    save_torch({**blob, **(extra or {})}, path)


def load_model(path: str | Path) -> LocalErrorMLP:
    """Rebuild a LocalErrorMLP from model.pt (loaded with weights_only=True)."""
    blob = load_torch(path)
    try:
        config = ModelConfig(**{**blob["config"], "hidden": tuple(blob["config"]["hidden"])})
        model = LocalErrorMLP(config, seed=0)
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CorruptFileError(
            f"{path} does not hold a LocalErrorMLP ({err}); delete it and rerun snakemake"
        ) from err
    return model.eval()
