"""Row 1: the training step with local errors, against the matmul peak and against backprop.

Both steps are training's own (`manifold_smoothness.training.local_step` and `backprop_step`,
each with its fused Adam from `make_optimizer`, divergence checked every DIVERGENCE_CHECK_STEPS
steps as in `train_epoch`), on the first model's architecture and optimiser settings: backprop
trains the same net end to end from the last readout alone, with no input detached.
"""

from __future__ import annotations

import math

from harness import Context, Row, flop_rate, interleaved, log, matmul_peak

N_TRAIN = 60_000  # MNIST training images: one epoch


def default_model_spec(config: dict) -> dict:
    return config["models"][0]


def build(ctx: Context):
    """The default model, its Adam optimiser and random MNIST-shaped data on ctx.device."""

    from manifold_smoothness.model import LocalErrorMLP, ModelConfig
    from manifold_smoothness.training import TrainConfig, make_optimizer

    spec = default_model_spec(ctx.config)
    train_config = TrainConfig.from_spec(spec)
    model = LocalErrorMLP(ModelConfig.from_spec(spec), seed=0).to(ctx.device)
    optimizer = make_optimizer(model, train_config)  # training's own (fused) Adam
    return model, optimizer, train_config


def weight_count(model) -> int:
    """P: weights of the linear layers (no biases, no fixed readouts)."""
    return sum(layer.weight.numel() for layer in model.layers)


def training_steps(step, model, optimizer, x_train, y_train, order, batch_size: int, n_steps: int):
    """n_steps optimiser steps of one of training's step functions (training.local_step,
    training.backprop_step), with the divergence check every DIVERGENCE_CHECK_STEPS steps, as
    training.train_epoch takes them."""
    import torch

    from manifold_smoothness.training import DIVERGENCE_CHECK_STEPS, DivergenceError

    model.train()
    losses = []
    for b in range(n_steps):
        idx = order[b * batch_size : (b + 1) * batch_size]
        step_losses, _ = step(model, optimizer, x_train[idx], y_train[idx])
        losses.append(step_losses)
        if (b + 1) % DIVERGENCE_CHECK_STEPS == 0 or b + 1 == n_steps:
            if not bool(torch.isfinite(torch.stack(losses)).all()):
                raise DivergenceError(f"loss diverged by benchmark step {b + 1}")
            losses.clear()


def measure(ctx: Context) -> list[Row]:
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    if ctx.device == "cpu":
        torch.use_deterministic_algorithms(True)  # as training.train does on the CPU
    try:
        return _measure(ctx)
    finally:
        torch.use_deterministic_algorithms(deterministic)


def _measure(ctx: Context) -> list[Row]:
    import torch

    from manifold_smoothness.training import backprop_step, local_step

    n_steps = 200 if ctx.cuda else 40
    local_model, local_opt, train_config = build(ctx)
    bp_model, bp_opt, _ = build(ctx)
    batch = train_config.batch_size
    n = n_steps * batch
    gen = torch.Generator().manual_seed(0)
    x_train = torch.rand(n, local_model.config.n_inputs, generator=gen).to(ctx.device)
    y_train = torch.randint(0, local_model.config.n_classes, (n,), generator=gen).to(ctx.device)
    order = torch.randperm(n, generator=gen).to(ctx.device)
    p = weight_count(local_model)
    p_first = local_model.layers[0].weight.numel()

    log(f"row 1: matmul peak and {n_steps} training steps x {ctx.repeat} (local, backprop)")
    peak = matmul_peak(ctx)
    size = peak["size"]
    a = torch.randn(size, size, device=ctx.device)
    b = torch.randn(size, size, device=ctx.device)
    data = (x_train, y_train, order, batch, n_steps)
    t_mm, t_local, t_bp = interleaved(
        [
            lambda: torch.mm(a, b),
            lambda: training_steps(local_step, local_model, local_opt, *data),
            lambda: training_steps(backprop_step, bp_model, bp_opt, *data),
        ],
        ctx.repeat,
        ctx.sync,
    )
    peak_rate = max(2 * size**3 / t_mm, peak["flops"])
    local_rate = 4 * p * n / t_local
    steps_per_epoch = math.ceil(N_TRAIN / batch)
    epoch_local = t_local / n_steps * steps_per_epoch
    epoch_bp = t_bp / n_steps * steps_per_epoch
    ctx.cache["train_rate"] = local_rate
    ctx.cache["peak32"] = peak_rate
    cpu_target = not ctx.cuda
    fraction = local_rate / peak_rate
    ctx.note(
        f"1: {n_steps} real Adam steps at batch {batch} on random MNIST-shaped data, "
        f"median of {ctx.repeat}, interleaved with the peak product; epoch times extrapolated "
        f"to {steps_per_epoch} steps: local {epoch_local:.1f} s, backprop {epoch_bp:.1f} s "
        "(without train's per-epoch test evaluation and checkpoint). "
        f"FLOPs per sample: local 4P (forward 2P + weight gradients 2P), P = {p:,} weights; "
        f"backprop does 6P - 2P_1 = {6 * p - 2 * p_first:,} (input gradients of layers 2-5 "
        f"too). Peak: torch.mm float32 {size}x{size}, best of sizes "
        + ", ".join(f"{k}: {flop_rate(v)}" for k, v in peak["by_size"].items())
        + (" (TF32 off, as in training)." if ctx.cuda else f", {ctx.threads} threads.")
    )
    return [
        Row(
            "1a",
            "local-error epoch FLOP rate / float32 matmul peak",
            f"{fraction:.2f} ({flop_rate(local_rate)} / {flop_rate(peak_rate)})",
            ">= 0.6 (cpu)",
            fraction >= 0.6 if cpu_target else None,
            {"local_flops": local_rate, "peak_flops": peak_rate, "matmul_size": size},
        ),
        Row(
            "1b",
            "local epoch time / backprop epoch time (same net)",
            f"{t_local / t_bp:.2f} ({epoch_local:.1f} / {epoch_bp:.1f} s per epoch)",
            "<= 1.0",
            t_local / t_bp <= 1.0,
            {"epoch_local_s": epoch_local, "epoch_backprop_s": epoch_bp, "steps": n_steps},
        ),
    ]
