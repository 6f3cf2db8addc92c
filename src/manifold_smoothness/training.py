"""Training with local errors: resumable, deterministic, and loud about divergence.

All layers learn in one pass: the loss is the sum of the layers' local cross-entropies, and
because every layer's input is detached the sum's gradient for layer l is that of its own loss.
Losses stay on the device and are checked for NaN and inf every few steps, not after every step,
so the host queues a GPU's work ahead instead of waiting for it. A checkpoint is written after
every epoch; a run that is killed resumes from it and ends with the same weights as an
uninterrupted run (same device and thread count). A checkpoint is resumed only by the very run
that wrote it: same configs, seed, training and test split, and code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import pyarrow as pa
import torch

from manifold_smoothness.devices import model_device, resolve_device
from manifold_smoothness.model import (
    LocalErrorMLP,
    ModelConfig,
    local_cross_entropies,
    readout_hits,
    save_model,
)
from manifold_smoothness.storage import (
    REBUILD_HINT,
    CorruptFileError,
    load_torch,
    save_torch,
    write_table,
)

log = logging.getLogger(__name__)
LR_SCHEDULES = ("constant", "cosine")
# A layer whose mean epoch loss exceeds this many times the loss of a uniform guess
# (ln n_classes) has exploded: far worse than chance, though not (yet) NaN.
EXPLODED_LOSS_FACTOR = 100.0
# Steps between two checks for NaN or inf losses: a check makes the host wait for a GPU, which
# once per step keeps the GPU idle while the host launches the next step's kernels.
DIVERGENCE_CHECK_STEPS = 50


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

    @classmethod
    def from_spec(cls, spec: Mapping) -> TrainConfig:
        """The optimisation settings of a config `models` entry: its `training` mapping."""
        if "training" not in spec:
            raise ValueError(f"model spec {dict(spec)} has no 'training' settings; add training:")
        training = dict(spec["training"])
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        if unknown := sorted(set(training) - names):
            raise ValueError(f"training settings {unknown} unknown; use some of {sorted(names)}")
        if missing := sorted(required - set(training)):
            raise ValueError(f"training settings lack {missing}; add them under training:")
        return cls(**training)


def run_identity(
    model_config: ModelConfig,
    train_config: TrainConfig,
    seed: int,
    data_id: str,
    test_id: str,
    code_id: str,
) -> dict:
    """Everything a checkpoint's contents depend on: the test split too, since the checkpoint
    carries the test accuracies, and the code, since a code change changes the weights."""
    return {
        "model": model_config.to_dict(),
        "training": asdict(train_config),
        "seed": seed,
        "data_id": data_id,
        "test_id": test_id,
        "code_id": code_id,
    }


def fingerprint(identity: dict) -> str:
    """Hash of a run identity; a checkpoint is resumed only by the run that wrote it."""
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@torch.no_grad()
def layer_accuracies(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096
) -> list[float]:
    """Accuracy of every layer's readout on x (n, 784), y (n,): one float per layer."""
    model.eval()
    device = model_device(model)
    correct = [0] * model.n_layers
    for start in range(0, len(x), chunk):
        hiddens = model(x[start : start + chunk].to(device))
        yy = y[start : start + chunk]
        for layer, h in enumerate(hiddens):
            correct[layer] += readout_hits(h, model.readout(layer), yy)
    return [c / len(x) for c in correct]


def warn_if_exploded(losses: list[float], epoch: int, lr: float, n_classes: int) -> None:
    """Warn about every layer whose mean epoch loss (one per layer) has exploded."""
    bound = EXPLODED_LOSS_FACTOR * math.log(n_classes)
    for layer, loss in enumerate(losses, start=1):
        if loss > bound:
            log.warning(
                "loss of layer %d is %.4g at epoch %d, over %g x a uniform guess (%.3g): "
                "training has exploded; lower the learning rate (lr=%g)",
                layer,
                loss,
                epoch,
                EXPLODED_LOSS_FACTOR,
                bound,
                lr,
            )


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def make_optimizer(model: LocalErrorMLP, config: TrainConfig) -> torch.optim.Adam:
    """Adam over the model's weights, fused into one pass over weights, gradients and moments
    per step, on the CPU as on CUDA. The CPU's default single-tensor Adam makes seven passes and
    took as long as the step's matrix products; fused weights differ from its in the last bits."""
    return torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )


def local_step(
    model: LocalErrorMLP, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on the sum of the layers' local cross-entropies on x (b, 784), y (b,).

    Returns the losses (n_layers,) and readout hits (n_layers,) as tensors on the device: nothing
    here waits for a GPU. The readouts all have n_classes rows, so the losses and hits of all
    layers come from one stacked (n_layers, b, n_classes) tensor."""
    logits = torch.stack(model.logits(model(x)))
    losses = local_cross_entropies(logits, y)
    optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()
    optimizer.step()
    hits = (logits.argmax(2) == y).sum(1)
    return losses.detach(), hits


def _raise_if_diverged(
    losses: torch.Tensor, first_batch: int, epoch: int, n_batches: int, lr: float
) -> None:
    """Raise DivergenceError naming the first non-finite entry of losses (steps, n_layers), the
    losses of batches first_batch + 1, ...: the check makes the host wait for the device."""
    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return
    step, layer = (~finite).nonzero()[0].tolist()  # row-major: earliest batch, then layer
    raise DivergenceError(
        f"loss of layer {layer + 1} is {losses[step, layer].item()} at epoch {epoch} "
        f"(batch {first_batch + step + 1}/{n_batches}); lower the learning rate (lr={lr})"
    )


def train_epoch(
    model: LocalErrorMLP,
    optimizer: torch.optim.Optimizer,
    train_data: tuple[torch.Tensor, torch.Tensor],
    order: torch.Tensor,
    config: TrainConfig,
    epoch: int,
) -> tuple[list[float], list[float]]:
    """One pass over train_data (x (n, 784), y (n,)) in the given order (n,), in batches of
    config.batch_size; returns every layer's mean training loss and training accuracy.

    Losses are checked for NaN and inf every DIVERGENCE_CHECK_STEPS steps and at the end, so a
    GPU runs ahead of the host in between; a DivergenceError still names the first non-finite
    loss, and the caller writes no checkpoint of an epoch that raised."""
    model.train()
    x_train, y_train = train_data
    n, size = len(x_train), config.batch_size
    n_batches = math.ceil(n / size)
    losses, hits = [], []
    checked = 0
    for b in range(n_batches):
        idx = order[b * size : (b + 1) * size]
        step_losses, step_hits = local_step(model, optimizer, x_train[idx], y_train[idx])
        losses.append(step_losses)
        hits.append(step_hits)
        if b + 1 - checked == DIVERGENCE_CHECK_STEPS or b + 1 == n_batches:
            _raise_if_diverged(torch.stack(losses[checked:]), checked, epoch, n_batches, config.lr)
            checked = b + 1
    sizes = torch.full((n_batches, 1), size, dtype=torch.float64, device=order.device)
    sizes[-1] = n - size * (n_batches - 1)  # the last batch may be short
    mean_loss = ((torch.stack(losses).double() * sizes).sum(0) / n).tolist()
    accuracy = [count / n for count in torch.stack(hits).sum(0).tolist()]
    return mean_loss, accuracy


CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "scheduler", "shuffle", "rows")


def _resume(
    checkpoint_path: Path,
    identity: dict,
    model: LocalErrorMLP,
    optimizer: torch.optim.Optimizer,
    scheduler,
    shuffle: torch.Generator,
) -> tuple[list[dict], int]:
    """Load the checkpoint into the training state if this very run wrote it; returns the
    log rows so far and the next epoch (no rows and epoch 1 when starting afresh)."""
    if not checkpoint_path.exists():
        return [], 1
    state = load_torch(checkpoint_path)
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise CorruptFileError(
            f"{checkpoint_path} is not a training checkpoint (no fingerprint); {REBUILD_HINT}"
        )
    if state["fingerprint"] != fingerprint(identity):
        written_by = state.get("identity", {})
        changed = [k for k in identity if written_by.get(k) != identity[k]] or ["unknown"]
        log.info(
            "ignoring %s: another run wrote it (differs in %s); training from scratch",
            checkpoint_path,
            ", ".join(changed),
        )
        return [], 1
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise CorruptFileError(f"{checkpoint_path} lacks {missing}; {REBUILD_HINT}")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(state["shuffle"])
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        raise CorruptFileError(
            f"{checkpoint_path} does not fit this model ({err}); {REBUILD_HINT}"
        ) from err
    log.info("resuming from %s after epoch %d", checkpoint_path, state["epoch"])
    return list(state["rows"]), state["epoch"] + 1


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    seed: int,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    checkpoint_path: str | Path,
    *,
    data_id: str,
    test_id: str,
    code_id: str,
    device: str = "cpu",
) -> tuple[LocalErrorMLP, list[dict]]:
    """Train one seed; returns the model and the per-epoch, per-layer log rows.

    x tensors are (n, 784) float32 in [0, 1]; y are (n,) int64. `data_id`, `test_id` and
    `code_id` name the training split, the test split and the code; a checkpoint at
    `checkpoint_path` is resumed only when it was written by a run with the same ids, configs
    and seed."""
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    model = LocalErrorMLP(model_config, seed).to(dev)
    optimizer = make_optimizer(model, train_config)
    scheduler = _scheduler(optimizer, train_config)
    shuffle = torch.Generator().manual_seed(seed)
    identity = run_identity(model_config, train_config, seed, data_id, test_id, code_id)
    checkpoint_path = Path(checkpoint_path)
    rows, start_epoch = _resume(checkpoint_path, identity, model, optimizer, scheduler, shuffle)

    x_train, y_train = (t.to(dev) for t in train_data)
    x_test, y_test = (t.to(dev) for t in test_data)
    for epoch in range(start_epoch, train_config.epochs + 1):
        tic = time.perf_counter()
        order = torch.randperm(len(x_train), generator=shuffle).to(dev)
        train_loss, train_accuracy = train_epoch(
            model, optimizer, (x_train, y_train), order, train_config, epoch
        )
        scheduler.step()
        test_acc = layer_accuracies(model, x_test, y_test)
        for layer in range(model.n_layers):
            rows.append(
                {
                    "epoch": epoch,
                    "layer": layer + 1,
                    "train_loss": train_loss[layer],
                    "train_accuracy": train_accuracy[layer],
                    "test_accuracy": test_acc[layer],
                }
            )
        warn_if_exploded(train_loss, epoch, train_config.lr, model_config.n_classes)
        save_torch(
            {
                "fingerprint": fingerprint(identity),
                "identity": identity,
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
