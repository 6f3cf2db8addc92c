"""Training with local errors: resumable, deterministic, and loud about divergence.

Three learning rules train the same architecture (fixed random readouts B_l), differing only in
the gradient path. `local`: all layers learn in one pass; the loss is the sum of the layers' local
cross-entropies, and because every layer's input is detached the sum's gradient for layer l is
that of its own loss. `greedy`: layer 1 learns on its readout, then layer 2 on its own with layer
1 frozen, and so on, each for `epochs` epochs with a fresh optimiser. `backprop`: the whole
network learns end to end on the last layer's readout alone, as a control for the local errors.

Weights can be kept at points along training (`snapshots`), and training can see a
class-stratified subset of the training split with a fraction of its labels shuffled
(generalization controls).

Losses stay on the device and are checked for NaN and inf every few steps, not after every step,
so the host queues a GPU's work ahead instead of waiting for it. A checkpoint is written after
every epoch and snapshots as they are taken (checkpoints.py: a killed run resumes to the same
weights). Each rule's step is in STEPS, its properties in vocabulary.LEARNING_RULES.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pyarrow as pa
import torch
from torch import nn

from manifold_smoothness.checkpoints import Checkpoint, run_identity
from manifold_smoothness.data import stratified_subset
from manifold_smoothness.devices import model_device, resolve_device
from manifold_smoothness.model import (
    LocalErrorMLP,
    local_cross_entropies,
    readout_hits,
    save_model,
)
from manifold_smoothness.spectral_penalty import PenaltyTerm
from manifold_smoothness.storage import write_table
from manifold_smoothness.vocabulary import LEARNING_RULES, ModelConfig, TrainConfig

log = logging.getLogger(__name__)
# The shuffled labels draw from their own stream, apart from weight init (seed), the readouts
# (seed + 1_000_003) and the batch order (a generator seeded with seed).
LABEL_NOISE_SEED_OFFSET = 2_000_003
# A layer whose mean epoch loss exceeds this many times the loss of a uniform guess
# (ln n_classes) has exploded: far worse than chance, though not (yet) NaN.
EXPLODED_LOSS_FACTOR = 100.0
# Steps between two checks for NaN or inf losses: a check makes the host wait for a GPU, which
# once per step keeps the GPU idle while the host launches the next step's kernels.
DIVERGENCE_CHECK_STEPS = 50


class DivergenceError(RuntimeError):
    """A local loss became NaN or infinite."""


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


def training_set(
    train_data: tuple[torch.Tensor, torch.Tensor], config: TrainConfig, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples training sees: train_data (x (n, 784), y (n,)) or its class-stratified
    subset of config.train_subset, with config.label_noise of the labels shuffled."""
    x, y = train_data
    if (n := config.train_subset) is not None:
        if n > len(y):
            raise ValueError(
                f"train_subset {n} exceeds the {len(y)} images of the training split; "
                "lower it or prepare a larger training split"
            )
        keep = torch.from_numpy(stratified_subset(y.cpu().numpy(), n, seed)).to(y.device)
        x, y = x[keep], y[keep]
    return x, shuffle_labels(y, config.label_noise, seed)


def shuffle_labels(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """labels (n,) with round(fraction * n) of them, drawn at random, permuted among themselves:
    the class counts stay, and a shuffled label equals the true one by chance (about 1 in 10).
    The draw depends on the seed alone."""
    k = round(fraction * len(labels))
    if k == 0:
        return labels
    generator = torch.Generator().manual_seed(seed + LABEL_NOISE_SEED_OFFSET)
    chosen = torch.randperm(len(labels), generator=generator)[:k].to(labels.device)
    permuted = chosen[torch.randperm(k, generator=generator).to(labels.device)]
    noisy = labels.clone()
    noisy[chosen] = labels[permuted]
    return noisy


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def make_optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.Adam:
    """Adam over the module's weights (the model, or the one layer greedy trains), fused into one
    pass over weights, gradients and moments per step, on the CPU as on CUDA. The CPU's default
    single-tensor Adam makes seven passes and took as long as the step's matrix products; fused
    weights differ from its in the last bits."""
    return torch.optim.Adam(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )


def _optimise(
    optimizer: torch.optim.Optimizer,
    logits: torch.Tensor,
    y: torch.Tensor,
    trained: int | None,
    extra: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step on the local cross-entropy of layer `trained` (None: the sum over all layers) of
    logits (k, b, n_classes), plus `extra` (a penalty) if given; returns every readout's loss
    (k,) and hits (k,) on the device.

    The readouts all have n_classes rows, so the losses and hits of all k layers come from one
    stacked tensor; nothing here waits for a GPU."""
    losses = local_cross_entropies(logits, y)
    optimizer.zero_grad(set_to_none=True)
    objective = losses.sum() if trained is None else losses[trained]
    (objective if extra is None else objective + extra).backward()
    optimizer.step()
    hits = (logits.argmax(2) == y).sum(1)
    return losses.detach(), hits


def local_step(
    model: LocalErrorMLP,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    penalty: PenaltyTerm | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on the sum of the layers' local cross-entropies on x (b, 784), y (b,)
    (plus the spectral penalty of the hidden layers, if any); returns the losses (n_layers,) and
    readout hits (n_layers,) as tensors on the device."""
    hiddens = model(x)
    extra = None if penalty is None else penalty(hiddens)
    return _optimise(optimizer, torch.stack(model.logits(hiddens)), y, None, extra)


def backprop_step(
    model: LocalErrorMLP,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    penalty: PenaltyTerm | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One end-to-end step on the cross-entropy of the last layer's readout on x (b, 784),
    y (b,) (plus the spectral penalty, if any); the losses (n_layers,) and hits (n_layers,) of
    every readout come from the same logits."""
    hiddens = model(x, detach=False)
    extra = None if penalty is None else penalty(hiddens)
    return _optimise(optimizer, torch.stack(model.logits(hiddens)), y, -1, extra)


def greedy_step(
    model: LocalErrorMLP,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    layer: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of layer `layer` (0-based) on its local cross-entropy on x (b, 784), y (b,),
    the layers below frozen (run without gradient) and those above not run at all; returns the
    losses (layer + 1,) and hits (layer + 1,) of the readouts up to it."""
    with torch.no_grad():
        hiddens = model(x, depth=layer)
    hiddens.append(model.layer_output(layer, hiddens[-1] if hiddens else x))
    return _optimise(optimizer, torch.stack(model.logits(hiddens)), y, layer)


Step = Callable[
    [LocalErrorMLP, torch.optim.Optimizer, torch.Tensor, torch.Tensor],
    tuple[torch.Tensor, torch.Tensor],
]


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
    *,
    step: Step = local_step,
    after_step: Callable[[int], None] | None = None,
) -> tuple[list[float], list[float]]:
    """One pass over train_data (x (n, 784), y (n,)) in the given order (n,), in batches of
    config.batch_size, each an optimiser `step`; returns every layer's mean training loss and
    training accuracy, NaN for the layers the step does not run (greedy: those above the one it
    trains). `after_step(k)` is called after the k-th step (1-based) of the epoch.

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
        step_losses, step_hits = step(model, optimizer, x_train[idx], y_train[idx])
        losses.append(step_losses)
        hits.append(step_hits)
        if after_step is not None:
            after_step(b + 1)
        if b + 1 - checked == DIVERGENCE_CHECK_STEPS or b + 1 == n_batches:
            _raise_if_diverged(torch.stack(losses[checked:]), checked, epoch, n_batches, config.lr)
            checked = b + 1
    sizes = torch.full((n_batches, 1), size, dtype=torch.float64, device=order.device)
    sizes[-1] = n - size * (n_batches - 1)  # the last batch may be short
    mean_loss = ((torch.stack(losses).double() * sizes).sum(0) / n).tolist()
    accuracy = [count / n for count in torch.stack(hits).sum(0).tolist()]
    not_run = [math.nan] * (model.n_layers - len(mean_loss))
    return mean_loss + not_run, accuracy + not_run


# rule -> its optimiser step (model, optimizer, x, y, *, layer for a layer-wise rule, penalty for
# a rule that carries the spectral penalty) -> losses and hits per readout; one entry per
# vocabulary.LEARNING_RULES.
STEPS: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
    "local": local_step,
    "greedy": greedy_step,
    "backprop": backprop_step,
}


def training_layer(config: TrainConfig, epoch: int, n_layers: int) -> int | None:
    """The layer (0-based) that a layer-wise rule trains in global epoch `epoch` (1-based; past
    the end, the last layer); None for the rules that train all layers at once."""
    if not LEARNING_RULES[config.rule].layerwise:
        return None
    return min((epoch - 1) // config.epochs, n_layers - 1)


def training_phase(
    model: LocalErrorMLP, config: TrainConfig, layer: int | None, penalty: PenaltyTerm | None = None
) -> tuple[torch.optim.Optimizer, object, Step]:
    """A fresh optimiser, lr schedule and step for training `layer` (None: all layers at once,
    for the whole run), with the spectral `penalty` if any; a layer-wise rule starts one such
    phase per layer."""
    if config.rule not in STEPS:
        raise NotImplementedError(
            f"rule {config.rule!r} is in vocabulary.LEARNING_RULES but has no step; add one to "
            "training.STEPS"
        )
    model.zero_grad(set_to_none=True)  # a frozen layer keeps no gradient of its own phase
    step = STEPS[config.rule]
    if layer is None:
        optimizer = make_optimizer(model, config)
    else:
        optimizer = make_optimizer(model.layers[layer], config)
        step = partial(step, layer=layer)
    if penalty is not None:
        step = partial(step, penalty=penalty)
    return optimizer, _scheduler(optimizer, config), step


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
    snapshot_out: str | Path | None = None,
    snapshot_meta: dict[str, str] | None = None,
) -> tuple[LocalErrorMLP, list[dict]]:
    """Train one seed; returns the model and the per-epoch, per-layer log rows.

    x tensors are (n, 784) float32 in [0, 1]; y are (n,) int64. `data_id`, `test_id` and
    `code_id` name the training split, the test split and the code; a checkpoint at
    `checkpoint_path` is resumed only when it was written by a run with the same ids, configs
    and seed. The bundle of snapshots (model.save_snapshots; empty without
    train_config.snapshots) is written to `snapshot_out`, required when there are snapshots,
    with `snapshot_meta` (e.g. dataset and model names) added to its metadata.

    Rows: `epoch` counts 1..total_epochs, `training_layer` is the layer greedy trains (1-based;
    0 for local and backprop). Training loss and accuracy are on the labels training saw (noisy
    with label_noise), for every layer's readout on the batches, as each step computed them;
    for greedy the layers above the one in training are not run, and theirs are NaN. Test
    accuracy is every layer's after the epoch."""
    if train_config.snapshots and snapshot_out is None:
        raise ValueError(
            f"snapshots {list(train_config.snapshots)} need snapshot_out, the bundle's path"
        )
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    model = LocalErrorMLP(model_config, seed).to(dev)
    x_train, y_train = (t.to(dev) for t in training_set(train_data, train_config, seed))
    x_test, y_test = (t.to(dev) for t in test_data)
    n_batches = math.ceil(len(x_train) / train_config.batch_size)
    steps = train_config.snapshot_steps(model.n_layers, n_batches)
    total = train_config.total_epochs(model.n_layers)

    identity = run_identity(model_config, train_config, seed, data_id, test_id, code_id)
    checkpoint = Checkpoint(checkpoint_path, identity, train_config.snapshots, steps)
    snapshots = checkpoint.snapshots
    shuffle = torch.Generator().manual_seed(seed)
    state = checkpoint.read()
    start_epoch = 1 if state is None else state["epoch"] + 1
    layer = training_layer(train_config, start_epoch, model.n_layers)
    penalty = None if (spec := train_config.spectral_penalty) is None else PenaltyTerm(spec)
    optimizer, scheduler, step = training_phase(model, train_config, layer, penalty)
    if state is None:
        rows = []
        snapshots.take_due(model, 0)
    else:
        rows = checkpoint.restore(state, model, optimizer, scheduler, shuffle)

    for epoch in range(start_epoch, total + 1):
        tic = time.perf_counter()
        if penalty is not None:  # eigenvectors of the weights the epoch starts from
            value = penalty.refresh(model, x_train)
            log.info("epoch %d: spectral penalty of the training set %.4g", epoch, value)
        order = torch.randperm(len(x_train), generator=shuffle).to(dev)
        train_loss, train_accuracy = train_epoch(
            model,
            optimizer,
            (x_train, y_train),
            order,
            train_config,
            epoch,
            step=step,
            after_step=partial(snapshots.take_due, model, (epoch - 1) * n_batches),
        )
        scheduler.step()
        test_acc = layer_accuracies(model, x_test, y_test)
        rows += epoch_rows(epoch, layer, train_loss, train_accuracy, test_acc)
        warn_if_exploded(train_loss, epoch, train_config.lr, model_config.n_classes)
        log.info(
            "epoch %d/%d  %.1fs  test accuracy per layer: %s%s",
            epoch,
            total,
            time.perf_counter() - tic,
            " ".join(f"{a:.4f}" for a in test_acc),
            "" if layer is None else f"  (training layer {layer + 1})",
        )
        next_layer = training_layer(train_config, epoch + 1, model.n_layers)
        if next_layer != layer:  # greedy: the checkpoint holds the next phase's optimiser
            layer = next_layer
            optimizer, scheduler, step = training_phase(model, train_config, layer, penalty)
        checkpoint.write(epoch, model, optimizer, scheduler, shuffle, rows)
    if snapshot_out is not None:  # no snapshots: an empty bundle, so the output always exists
        meta = {
            "rule": train_config.rule,
            "seed": str(seed),
            "steps_per_epoch": str(n_batches),
            "snapshot_steps": json.dumps(list(steps)),
            "total_epochs": str(total),
            "fingerprint": checkpoint.key,
            **(snapshot_meta or {}),
        }
        snapshots.write_bundle(snapshot_out, model_config, meta)
    return model.eval(), rows


def epoch_rows(
    epoch: int,
    layer: int | None,
    train_loss: list[float],
    train_accuracy: list[float],
    test_accuracy: list[float],
) -> list[dict]:
    """The log rows of one epoch, one per layer (see train)."""
    return [
        {
            "epoch": epoch,
            "training_layer": 0 if layer is None else layer + 1,
            "layer": index + 1,
            "train_loss": loss,
            "train_accuracy": accuracy,
            "test_accuracy": test,
        }
        for index, (loss, accuracy, test) in enumerate(
            zip(train_loss, train_accuracy, test_accuracy, strict=True)
        )
    ]


def training_table(rows: list[dict]) -> pa.Table:
    """The tidy training log: epoch, training_layer, layer, train_loss, train_accuracy,
    test_accuracy (see train)."""
    schema = pa.schema(
        [
            ("epoch", pa.int32()),
            ("training_layer", pa.int32()),
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
