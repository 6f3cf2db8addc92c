import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from manifold_smoothness.model import LocalErrorMLP, readout_accuracy
from manifold_smoothness.storage import CorruptFileError, load_torch
from manifold_smoothness.training import (
    DIVERGENCE_CHECK_STEPS,
    DivergenceError,
    TrainConfig,
    layer_accuracies,
    make_optimizer,
    train,
    train_epoch,
)

IDS = {"data_id": "tiny-train", "test_id": "tiny-test", "code_id": "code-a"}


def _train(cfg, tcfg, data, checkpoint, seed=0, **ids):
    return train(cfg, tcfg, seed, data, data, checkpoint, **{**IDS, **ids})


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_training_learns_and_logs_every_layer(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=4, batch_size=32, lr=3.0e-3)
    model, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    assert len(rows) == 4 * 3
    first = [r for r in rows if r["epoch"] == 1]
    last = [r for r in rows if r["epoch"] == 4]
    assert all(b["train_loss"] < a["train_loss"] for a, b in zip(first, last, strict=True))
    assert {r["layer"] for r in rows} == {1, 2, 3}


def test_readouts_never_change_during_training(
    tmp_path, tiny_data, tiny_model_config, tiny_train_config
):
    before = LocalErrorMLP(tiny_model_config, seed=0)
    after, _ = _train(tiny_model_config, tiny_train_config, tiny_data, tmp_path / "ck.pt")
    for l in range(before.n_layers):
        assert torch.equal(before.readout(l), after.readout(l))
        assert not torch.equal(before.layers[l].weight, after.layers[l].weight)


def test_same_seed_gives_bitwise_identical_weights(
    tmp_path, tiny_data, tiny_model_config, tiny_train_config
):
    a, rows_a = _train(tiny_model_config, tiny_train_config, tiny_data, tmp_path / "a.pt")
    b, rows_b = _train(tiny_model_config, tiny_train_config, tiny_data, tmp_path / "b.pt")
    _assert_same_weights(a, b)
    assert rows_a == rows_b


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path, tiny_data, tiny_model_config):
    ck = tmp_path / "ck.pt"
    _train(tiny_model_config, TrainConfig(epochs=2, batch_size=64, lr=1.0e-3), tiny_data, ck)
    other = TrainConfig(epochs=2, batch_size=64, lr=2.0e-3)
    fresh, _ = _train(tiny_model_config, other, tiny_data, tmp_path / "fresh.pt")
    resumed, _ = _train(tiny_model_config, other, tiny_data, ck)
    _assert_same_weights(fresh, resumed)


@pytest.mark.parametrize("changed", ["code_id", "test_id", "data_id"])
def test_checkpoint_of_other_code_or_data_is_not_resumed(
    tmp_path, caplog, tiny_data, tiny_model_config, changed
):
    """A finished checkpoint of other code (or another split) would otherwise be 'resumed'
    and its weights and test accuracies written again unchanged."""
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e-3)
    ck = tmp_path / "ck.pt"
    _train(tiny_model_config, tcfg, tiny_data, ck)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="manifold_smoothness.training"):
        _train(tiny_model_config, tcfg, tiny_data, ck, **{changed: "other"})
    messages = [r.getMessage() for r in caplog.records]
    assert any("ignoring" in m and changed in m for m in messages), messages
    assert any(m.startswith("epoch 1/2") for m in messages), "it did not train from scratch"
    assert not any("resuming" in m for m in messages)


def test_checkpoint_of_the_same_run_is_resumed(tmp_path, caplog, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e-3)
    ck = tmp_path / "ck.pt"
    first, rows = _train(tiny_model_config, tcfg, tiny_data, ck)
    with caplog.at_level(logging.INFO, logger="manifold_smoothness.training"):
        again, rows_again = _train(tiny_model_config, tcfg, tiny_data, ck)
    assert any("resuming" in r.getMessage() for r in caplog.records)
    _assert_same_weights(first, again)
    assert rows_again == rows


def test_exploding_loss_warns_with_layer_epoch_and_lr(
    tmp_path, caplog, tiny_data, tiny_model_config
):
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=10.0)  # finite losses of 1e3 to 1e6
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness.training"):
        _, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    exploded = [r for r in rows if r["train_loss"] > 100 * math.log(10)]
    assert exploded and len(warnings) == len(exploded)
    for row, message in zip(exploded, warnings, strict=True):
        assert f"loss of layer {row['layer']} is" in message
        assert "at epoch 1" in message and "lower the learning rate (lr=10)" in message


def test_sane_learning_rate_does_not_warn(
    tmp_path, caplog, tiny_data, tiny_model_config, tiny_train_config
):
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness.training"):
        _train(tiny_model_config, tiny_train_config, tiny_data, tmp_path / "ck.pt")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_layer_accuracies_are_the_readout_accuracy_of_every_layer(tiny_data, tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0).eval()
    x, y = tiny_data
    with torch.no_grad():
        hiddens = model(x)
    expected = [readout_accuracy(h, model.readout(l), y) for l, h in enumerate(hiddens)]
    assert layer_accuracies(model, x, y, chunk=100) == expected


def test_train_config_from_spec_reads_the_training_entry():
    spec = {"hidden": [8], "training": {"epochs": 3, "batch_size": 16, "lr": 0.01}}
    assert TrainConfig.from_spec(spec) == TrainConfig(epochs=3, batch_size=16, lr=0.01)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"hidden": [8]}, "no 'training'"),
        ({"training": {"epochs": 3, "batch_size": 16, "lr": 0.01, "momentum": 0.9}}, "momentum"),
        ({"training": {"epochs": 3, "lr": 0.01}}, "batch_size"),
    ],
)
def test_bad_training_spec_names_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_spec(spec)


def test_divergence_names_epoch_and_layer(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e30)
    with pytest.raises(DivergenceError, match=r"loss of layer \d+ is (nan|inf).* at epoch 1"):
        _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    assert not (tmp_path / "ck.pt").exists(), "an epoch that diverged was checkpointed"


def test_divergence_names_the_first_non_finite_batch_after_steps_without_a_check(
    tiny_data, tiny_model_config
):
    """Losses are checked every DIVERGENCE_CHECK_STEPS steps; the error still names the batch
    where the loss first became non-finite, not the batch of the check."""
    x, y = tiny_data[0].clone(), tiny_data[1]
    tcfg = TrainConfig(epochs=1, batch_size=2, lr=1.0e-3)
    bad_batch = DIVERGENCE_CHECK_STEPS + 7  # 1-based, in the second stretch between checks
    x[2 * (bad_batch - 1)] = math.inf  # its first sample
    model = LocalErrorMLP(tiny_model_config, seed=0)
    with pytest.raises(
        DivergenceError, match=rf"layer 1 is nan at epoch 3 \(batch {bad_batch}/128\)"
    ):
        train_epoch(model, make_optimizer(model, tcfg), (x, y), torch.arange(256), tcfg, epoch=3)


def test_epoch_reports_mean_loss_and_accuracy_of_the_steps_it_took(tiny_data, tiny_model_config):
    """Batches of 100, 100 and 56 samples: means over the 256 samples, the short batch weighed
    by its size, and the hits counted before each step."""
    x, y = tiny_data
    tcfg = TrainConfig(epochs=1, batch_size=100, lr=1.0e-3)
    model = LocalErrorMLP(tiny_model_config, seed=0)
    replay = LocalErrorMLP(tiny_model_config, seed=0)
    optimizer, replay_optimizer = make_optimizer(model, tcfg), make_optimizer(replay, tcfg)
    loss, accuracy = train_epoch(model, optimizer, (x, y), torch.arange(256), tcfg, epoch=1)
    loss_sum, hits = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.int64)
    for start in (0, 100, 200):
        xb, yb = x[start : start + 100], y[start : start + 100]
        logits = replay.logits(replay(xb))
        losses = torch.stack([torch.nn.functional.cross_entropy(z, yb) for z in logits])
        replay_optimizer.zero_grad()
        losses.sum().backward()
        replay_optimizer.step()
        loss_sum += losses.detach().double() * len(yb)
        hits += torch.stack([(z.argmax(1) == yb).sum() for z in logits])
    assert loss == pytest.approx((loss_sum / 256).tolist(), rel=1e-6)
    assert accuracy == [h / 256 for h in hits.tolist()]
    _assert_same_weights(model, replay)


KILLABLE = """
import sys, torch
from manifold_smoothness.model import ModelConfig
from manifold_smoothness.training import TrainConfig, train
g = torch.Generator().manual_seed(123)
y = torch.randint(0, 10, (2048,), generator=g)
x = torch.rand(2048, 784, generator=g)
model, _ = train(ModelConfig(hidden=(64, 64)), TrainConfig(epochs=int(sys.argv[2]), batch_size=32,
                 lr=1.0e-3), 0, (x, y), (x, y), sys.argv[1], data_id="d", test_id="t", code_id="c")
torch.save(model.state_dict(), sys.argv[1] + ".final")
"""


def _run(script, ck, epochs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script, str(ck), str(epochs)], env=env)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    """Kill a real training process after its first checkpoint; the rerun resumes from the
    checkpoint and ends bitwise equal to an uninterrupted run."""
    epochs = 12
    reference = tmp_path / "reference.pt"
    assert _run(KILLABLE, reference, epochs).wait(timeout=300) == 0

    ck = tmp_path / "ck.pt"
    proc = _run(KILLABLE, ck, epochs)
    deadline = time.monotonic() + 300
    while not ck.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted_at = load_torch(ck)["epoch"]
    assert interrupted_at < epochs, "the run finished before it was killed; the test proves nothing"
    assert not Path(str(ck) + ".final").exists()

    assert _run(KILLABLE, ck, epochs).wait(timeout=300) == 0
    assert load_torch(ck)["epoch"] == epochs
    final = torch.load(str(ck) + ".final", weights_only=True)
    expected = torch.load(str(reference) + ".final", weights_only=True)
    for key in expected:
        assert torch.equal(final[key], expected[key]), key


@pytest.mark.parametrize("content", [{"epoch": 3}, [1, 2, 3], "weights"])
def test_a_checkpoint_training_did_not_write_is_refused_by_name(
    tmp_path, tiny_data, tiny_model_config, tiny_train_config, content
):
    """Not resumed, not silently overwritten: the message names the file and the fix."""
    import torch

    checkpoint = tmp_path / "checkpoint.pt"
    torch.save(content, checkpoint)
    ids = {"data_id": "d", "test_id": "t", "code_id": "c"}
    with pytest.raises(CorruptFileError, match="checkpoint.pt is not a training checkpoint"):
        train(tiny_model_config, tiny_train_config, 0, tiny_data, tiny_data, checkpoint, **ids)
