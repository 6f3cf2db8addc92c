"""Training with local errors: resumable, deterministic, and loud about divergence.

All layers learn in one pass: the loss is the sum of the layers' local cross-entropies, and
because every layer's input is detached the sum's gradient for layer l is that of its own loss.
A checkpoint is written after every epoch; a run that is killed resumes from it and ends with
the same weights as an uninterrupted run (same device and thread count).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import torch

from manifold_smoothness.model import LocalErrorMLP, ModelConfig, save_model
from manifold_smoothness.storage import load_torch, save_torch, write_table

log = logging.getLogger(__name__)
LR_SCHEDULES = ("constant", "cosine")


class DivergenceError(RuntimeError):
    """A local loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam); `lr_schedule: cosine` anneals lr to 0 over `epochs`."""

    epochs: int
    batch_size: int
    lr: float
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} unknown; use one of {LR_SCHEDULES}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch_size and lr must be positive, got {self}")


def resolve_device(device: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; an explicit `cuda` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no GPU; use auto or cpu")
    return torch.device(device)


def fingerprint(
    model_config: ModelConfig, train_config: TrainConfig, seed: int, data_id: str
) -> str:
    """Identity of a training run; a checkpoint is resumed only by the run that wrote it."""
    blob = json.dumps(
        [model_config.to_dict(), asdict(train_config), seed, data_id], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@torch.no_grad()
def layer_accuracies(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096):
    """Accuracy of every layer's readout on (x, y): a list of floats, one per layer."""
    model.eval()
    correct = torch.zeros(model.n_layers, dtype=torch.int64)
    for start in range(0, len(x), chunk):
        logits = model.logits(model(x[start : start + chunk]))
        yy = y[start : start + chunk]
        correct += torch.stack([(z.argmax(1) == yy).sum().cpu() for z in logits])
    return (correct.double() / len(x)).tolist()


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    seed: int,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    checkpoint_path: str | Path,
    device: str = "cpu",
    data_id: str = "",
) -> tuple[LocalErrorMLP, list[dict]]:
    """Train one seed; returns the model and the per-epoch, per-layer log rows.

    x tensors are (n, 784) float32 in [0, 1]; y are (n,) int64. Resumes from `checkpoint_path`
    when it holds a checkpoint of this very run (same fingerprint)."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    model = LocalErrorMLP(model_config, seed).to(dev)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
    )
    scheduler = _scheduler(optimizer, train_config)
    shuffle = torch.Generator().manual_seed(seed)
    key = fingerprint(model_config, train_config, seed, data_id)
    rows: list[dict] = []
    start_epoch = 1

    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.exists():
        state = load_torch(checkpoint_path)
        if state.get("fingerprint") == key:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            shuffle.set_state(state["shuffle"])
            rows = list(state["rows"])
            start_epoch = state["epoch"] + 1
            log.info("resuming from %s after epoch %d", checkpoint_path, state["epoch"])
        else:
            log.info("ignoring %s: it belongs to another configuration", checkpoint_path)

    x_train, y_train = (t.to(dev) for t in train_data)
    x_test, y_test = (t.to(dev) for t in test_data)
    n = len(x_train)
    n_batches = math.ceil(n / train_config.batch_size)
    for epoch in range(start_epoch, train_config.epochs + 1):
        tic = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle).to(dev)
        loss_sum = torch.zeros(model.n_layers, dtype=torch.float64, device=dev)
        correct = torch.zeros(model.n_layers, dtype=torch.int64, device=dev)
        for b in range(n_batches):
            idx = order[b * train_config.batch_size : (b + 1) * train_config.batch_size]
            x, y = x_train[idx], y_train[idx]
            logits = model.logits(model(x))
            losses = [torch.nn.functional.cross_entropy(z, y) for z in logits]
            stacked = torch.stack(losses)
            if not torch.isfinite(stacked).all():
                bad = int((~torch.isfinite(stacked)).nonzero()[0, 0]) + 1
                raise DivergenceError(
                    f"loss of layer {bad} is {stacked[bad - 1].item()} at epoch {epoch} "
                    f"(batch {b + 1}/{n_batches}); lower the learning rate (lr={train_config.lr})"
                )
            optimizer.zero_grad(set_to_none=True)
            stacked.sum().backward()
            optimizer.step()
            loss_sum += stacked.detach().double() * len(idx)
            correct += torch.stack([(z.argmax(1) == y).sum() for z in logits]).detach()
        scheduler.step()
        test_acc = layer_accuracies(model, x_test, y_test)
        for layer in range(model.n_layers):
            rows.append(
                {
                    "epoch": epoch,
                    "layer": layer + 1,
                    "train_loss": float(loss_sum[layer] / n),
                    "train_accuracy": float(correct[layer] / n),
                    "test_accuracy": test_acc[layer],
                }
            )
        save_torch(
            {
                "fingerprint": key,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "shuffle": shuffle.get_state(),
                "rows": rows,
            },
            checkpoint_path,
        )
        log.info(
            "epoch %d/%d  %.1fs  test accuracy per layer: %s",
            epoch,
            train_config.epochs,
            time.perf_counter() - tic,
            " ".join(f"{a:.4f}" for a in test_acc),
        )
    return model.eval(), rows


def training_table(rows: list[dict]) -> pa.Table:
    """The tidy training log: epoch, layer, train_loss, train_accuracy, test_accuracy."""
    schema = pa.schema(
        [
            ("epoch", pa.int32()),
            ("layer", pa.int32()),
            ("train_loss", pa.float64()),
            ("train_accuracy", pa.float64()),
            ("test_accuracy", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def write_outputs(model: LocalErrorMLP, rows: list[dict], model_out, log_out, meta: dict) -> None:
    """model.pt last: its presence means the training finished."""
    write_table(training_table(rows), log_out, metadata=meta)
    save_model(model, model_out, extra={"meta": {k: str(v) for k, v in meta.items()}})
