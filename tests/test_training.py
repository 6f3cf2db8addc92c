import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from manifold_smoothness.storage import load_torch
from manifold_smoothness.training import DivergenceError, TrainConfig, train


def _train(cfg, tcfg, data, checkpoint, seed=0):
    return train(cfg, tcfg, seed, data, data, checkpoint)


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
    from manifold_smoothness.model import LocalErrorMLP

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


def test_divergence_names_epoch_and_layer(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e30)
    with pytest.raises(DivergenceError, match=r"loss of layer \d+ is (nan|inf).* at epoch 1"):
        _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")


KILLABLE = """
import sys, torch
from manifold_smoothness.model import ModelConfig
from manifold_smoothness.training import TrainConfig, train
g = torch.Generator().manual_seed(123)
y = torch.randint(0, 10, (2048,), generator=g)
x = torch.rand(2048, 784, generator=g)
model, _ = train(ModelConfig(hidden=(64, 64)), TrainConfig(epochs=int(sys.argv[2]), batch_size=32,
                 lr=1.0e-3), 0, (x, y), (x, y), sys.argv[1])
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
