"""The deep fully connected network trained with local errors (Mostafa et al. 2018).

Every hidden layer l owns a fixed random readout B_l (10 x N_l). The readout is a buffer, not a
parameter: it is saved with the model but never seen by the optimiser. Each layer's input is
detached, so the cross-entropy of B_l h_l trains layer l alone and can be read out as a
classifier on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from manifold_smoothness.storage import CorruptFileError, load_torch, save_torch
from manifold_smoothness.vocabulary import ModelConfig

# vocabulary.ACTIVATIONS -> the torch module of each
ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh}


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
        self.act = ACTIVATION_MODULES[config.activation]()
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

    def forward(
        self, x: torch.Tensor, detach: bool = True, depth: int | None = None
    ) -> list[torch.Tensor]:
        """Hidden activations of every layer, or of the first `depth` layers only. With `detach`,
        no gradient crosses a layer boundary; attacks and end-to-end training pass detach=False
        to differentiate through the whole network."""
        hiddens = []
        h = x
        for index in range(self.n_layers if depth is None else depth):
            h = self.layer_output(index, h.detach() if detach else h)
            hiddens.append(h)
        return hiddens

    def layer_output(self, index: int, h: torch.Tensor) -> torch.Tensor:
        """Hidden activations (batch, N_index) of layer `index` (0-based) given its input h."""
        return self.act(self.layers[index](h))

    def logits(self, hiddens: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each layer's local readout B_l h_l: one (batch, 10) tensor per layer."""
        return [h @ self.readout(i).T for i, h in enumerate(hiddens)]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The network's prediction: argmax of the last layer's readout."""
        return self.logits(self.forward(x))[-1].argmax(dim=1)


def _numpy(a: torch.Tensor | np.ndarray) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def readout_hits(
    hidden: torch.Tensor | np.ndarray,
    readout: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
) -> int:
    """How many rows of hidden (n, N_l) the readout (10, N_l) classifies as labels (n,).

    Computed with numpy whatever the inputs: near-ties in the argmax depend on the matmul's
    rounding, and one arithmetic everywhere keeps training logs and spectra consistent."""
    h, b, y = _numpy(hidden), _numpy(readout), _numpy(labels)
    if h.ndim != 2 or b.ndim != 2 or h.shape[1] != b.shape[1] or y.shape != (len(h),):
        raise ValueError(
            f"readout of shapes hidden {h.shape}, readout {b.shape}, labels {y.shape}: "
            "expected (n, N), (n_classes, N) and (n,)"
        )
    return int(np.count_nonzero((h @ b.T).argmax(axis=1) == y))


def readout_accuracy(
    hidden: torch.Tensor | np.ndarray,
    readout: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
) -> float:
    """Fraction of rows of hidden (n, N_l) that the readout (10, N_l) classifies as labels (n,)."""
    if len(labels) == 0:
        raise ValueError("readout accuracy of no samples is undefined; pass at least one row")
    return readout_hits(hidden, readout, labels) / len(labels)


def readout_accuracies(
    model: LocalErrorMLP, layers: list[np.ndarray], labels: np.ndarray
) -> list[float]:
    """Accuracy of every layer's fixed readout on its activations layers[l] (n, N_l)."""
    return [
        readout_accuracy(h, model.readout(l).cpu().numpy(), labels) for l, h in enumerate(layers)
    ]


def local_cross_entropies(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every layer's readout: logits (n_layers, n, n_classes) and labels
    (n,) -> (n_layers,). One loss for all layers, a few kernels instead of a few per layer; the
    gradients are bitwise those of per-layer cross-entropies, the losses agree to rounding."""
    n_layers = len(logits)
    per_sample = nn.functional.cross_entropy(
        logits.flatten(0, 1), labels.expand(n_layers, -1).reshape(-1), reduction="none"
    )
    return per_sample.view(n_layers, -1).mean(1)


def local_losses(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every layer's readout (n_layers,); their sum trains all layers in one
    pass, since every layer's input is detached."""
    return local_cross_entropies(torch.stack(model.logits(model(x))), y)


def save_model(model: LocalErrorMLP, path: str | Path, extra: dict | None = None) -> None:
    """Write state dict + config (plain types only, so weights_only loading works)."""
    blob = {"state_dict": model.state_dict(), "config": model.config.to_dict()}
    save_torch({**blob, **(extra or {})}, path)


def load_model(path: str | Path) -> LocalErrorMLP:
    """Rebuild a LocalErrorMLP from model.pt (loaded with weights_only=True)."""
    return _model_from_blob(load_torch(path), path)


def load_model_with_metadata(path: str | Path) -> tuple[LocalErrorMLP, dict[str, str]]:
    """The model of model.pt and the metadata training stored with it (dataset, model, seed
    ...), to check a model against the path it was found at, from one read of the file; a
    model.pt without metadata was not written by training."""
    blob = load_torch(path)
    model = _model_from_blob(blob, path)
    meta = blob.get("meta")
    if not isinstance(meta, dict):
        raise CorruptFileError(
            f"{path} holds no training metadata, so training did not write it; "
            "delete it and rerun snakemake"
        )
    return model, {str(k): str(v) for k, v in meta.items()}


def _model_from_blob(blob, path: str | Path) -> LocalErrorMLP:
    try:
        config = ModelConfig(**{**blob["config"], "hidden": tuple(blob["config"]["hidden"])})
        model = LocalErrorMLP(config, seed=0)
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CorruptFileError(
            f"{path} does not hold a LocalErrorMLP ({err}); delete it and rerun snakemake"
        ) from err
    return model.eval()


def save_snapshots(
    path: str | Path,
    epochs: list[float],
    state_dicts: list[dict],
    config: ModelConfig,
    meta: dict[str, str],
) -> None:
    """Write the weights kept along one training run: epochs[i] (the point of training, in
    epochs) holds state_dicts[i]; with the architecture and string metadata, in plain types so
    that weights_only loading works.

    The bytes depend on the contents alone, so a resumed run writes the same bytes as an
    uninterrupted one (storage.save_torch writes through a file object, see there)."""
    if len(epochs) != len(state_dicts):
        raise ValueError(f"{len(epochs)} snapshot epochs but {len(state_dicts)} state dicts")
    blob = {
        "epochs": [float(t) for t in epochs],
        # pickle writes a string once per object: interned names make the bytes the same
        # whether the dicts share their key objects (one process) or not (read from files)
        "state_dicts": [{sys.intern(str(k)): v for k, v in s.items()} for s in state_dicts],
        "config": config.to_dict(),
        "meta": {str(k): str(v) for k, v in meta.items()},
    }
    save_torch(blob, path)


def load_snapshots(path: str | Path) -> tuple[list[tuple[float, LocalErrorMLP]], dict[str, str]]:
    """The (epoch, model in eval mode) pairs of a bundle written by save_snapshots, in the order
    written, and its metadata."""
    blob = load_torch(path)
    try:
        epochs = [float(t) for t in blob["epochs"]]
        state_dicts, config, meta = blob["state_dicts"], blob["config"], blob["meta"]
        if len(epochs) != len(state_dicts) or not isinstance(meta, dict):
            raise ValueError(f"{len(epochs)} epochs, {len(state_dicts)} state dicts")
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptFileError(
            f"{path} is not a bundle of weight snapshots ({err}); delete it and rerun snakemake"
        ) from err
    models = [_model_from_blob({"config": config, "state_dict": s}, path) for s in state_dicts]
    return list(zip(epochs, models, strict=True)), {str(k): str(v) for k, v in meta.items()}
