import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from manifold_smoothness.checkpoints import snapshot_path
from manifold_smoothness.data import stratified_subset
from manifold_smoothness.model import LocalErrorMLP, ModelConfig, load_snapshots, readout_accuracy
from manifold_smoothness.storage import CorruptFileError, load_torch
from manifold_smoothness.training import (
    DIVERGENCE_CHECK_STEPS,
    DivergenceError,
    TrainConfig,
    backprop_step,
    layer_accuracies,
    make_optimizer,
    shuffle_labels,
    train,
    train_epoch,
    training_phase,
    training_set,
    training_table,
)
from manifold_smoothness.vocabulary import LEARNING_RULES

IDS = {"data_id": "tiny-train", "test_id": "tiny-test", "code_id": "code-a"}


def _train(cfg, tcfg, data, checkpoint, seed=0, **kwargs):
    return train(cfg, tcfg, seed, data, data, checkpoint, **{**IDS, **kwargs})


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
    with caplog.at_level(logging.INFO, logger="manifold_smoothness"):
        _train(tiny_model_config, tcfg, tiny_data, ck, **{changed: "other"})
    messages = [r.getMessage() for r in caplog.records]
    assert any("ignoring" in m and changed in m for m in messages), messages
    assert any(m.startswith("epoch 1/2") for m in messages), "it did not train from scratch"
    assert not any("resuming" in m for m in messages)


def test_checkpoint_of_the_same_run_is_resumed(tmp_path, caplog, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e-3)
    ck = tmp_path / "ck.pt"
    first, rows = _train(tiny_model_config, tcfg, tiny_data, ck)
    with caplog.at_level(logging.INFO, logger="manifold_smoothness"):
        again, rows_again = _train(tiny_model_config, tcfg, tiny_data, ck)
    assert any("resuming" in r.getMessage() for r in caplog.records)
    _assert_same_weights(first, again)
    assert rows_again == rows


def test_exploding_loss_warns_with_layer_epoch_and_lr(
    tmp_path, caplog, tiny_data, tiny_model_config
):
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=10.0)  # finite losses of 1e3 to 1e6
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
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
    with caplog.at_level(logging.WARNING, logger="manifold_smoothness"):
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


def _kill_after_first_checkpoint(script: str, ck: Path, n: int) -> dict:
    """Start a real training process, SIGKILL it once its first checkpoint exists; the
    checkpoint it left."""
    proc = _run(script, ck, n)
    deadline = time.monotonic() + 300
    while not ck.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return load_torch(ck)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    """Kill a real training process after its first checkpoint; the rerun resumes from the
    checkpoint and ends bitwise equal to an uninterrupted run."""
    epochs = 12
    reference = tmp_path / "reference.pt"
    assert _run(KILLABLE, reference, epochs).wait(timeout=300) == 0

    ck = tmp_path / "ck.pt"
    interrupted_at = _kill_after_first_checkpoint(KILLABLE, ck, epochs)["epoch"]
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


def _state(model):
    return {key: value.clone() for key, value in model.state_dict().items()}


def _same(a, b, prefix):
    """Whether the state dicts a and b agree bitwise in every entry whose name starts with
    prefix (e.g. 'layers.0.')."""
    keys = [key for key in a if key.startswith(prefix)]
    assert keys, prefix
    return all(torch.equal(a[key], b[key]) for key in keys)


def test_training_table_has_the_training_layer_column(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=1, batch_size=128, lr=1.0e-3)
    _, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    table = training_table(rows)
    assert str(table.schema.field("training_layer").type) == "int32"
    assert table.column("training_layer").to_pylist() == [0, 0, 0]


def test_greedy_trains_one_layer_at_a_time_and_freezes_the_others(
    tmp_path, tiny_data, tiny_model_config
):
    """One epoch per layer, 4 steps per epoch: snapshots at the ends of phases 1 and 2 and in
    the middle of phase 2 show which layers moved when."""
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=3.0e-3, rule="greedy", snapshots=(0, 1, 1.5, 2))
    initial = LocalErrorMLP(tiny_model_config, seed=0).state_dict()
    model, rows = _train(
        tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", snapshot_out=tmp_path / "s.pt"
    )
    snaps, _ = load_snapshots(tmp_path / "s.pt")
    s0, s1, s15, s2 = (m.state_dict() for _, m in snaps)
    final = model.state_dict()
    assert _same(s0, initial, "")
    # phase 1: layer 1 learns, layers 2 and 3 stay initial
    assert not _same(s1, initial, "layers.0.")
    assert _same(s1, initial, "layers.1.") and _same(s1, initial, "layers.2.")
    # phase 2: layer 1 frozen at its end of phase 1, layer 2 learns, layer 3 initial
    for during in (s15, s2):
        assert _same(during, s1, "layers.0.") and _same(during, initial, "layers.2.")
    assert not _same(s15, s1, "layers.1.") and not _same(s2, s15, "layers.1.")
    # phase 3: only layer 3 moves
    assert _same(final, s2, "layers.0.") and _same(final, s2, "layers.1.")
    assert not _same(final, s2, "layers.2.")
    assert _same(final, initial, "readout_")

    assert [r["epoch"] for r in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert [r["training_layer"] for r in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    for row in rows:  # layers above the one in training are not run: NaN
        above = row["layer"] > row["training_layer"]
        assert math.isnan(row["train_loss"]) == above, row
        assert math.isnan(row["train_accuracy"]) == above, row
        assert 0 <= row["test_accuracy"] <= 1


def test_during_a_greedy_phase_the_frozen_layers_get_no_gradient(tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=3.0e-3, rule="greedy")
    model = LocalErrorMLP(tiny_model_config, seed=0)
    initial = _state(model)
    order = torch.arange(256)
    optimizer, _, step = training_phase(model, tcfg, 0)
    train_epoch(model, optimizer, tiny_data, order, tcfg, 1, step=step)
    end_of_phase_1 = _state(model)
    optimizer, _, step = training_phase(model, tcfg, 1)
    checked = []

    def check(k):
        first, second, third = model.layers
        assert first.weight.grad is None and first.bias.grad is None
        assert third.weight.grad is None and third.bias.grad is None
        assert second.weight.grad.abs().sum() > 0
        now = model.state_dict()
        assert _same(now, end_of_phase_1, "layers.0.") and _same(now, initial, "layers.2.")
        checked.append(k)

    train_epoch(model, optimizer, tiny_data, order, tcfg, 2, step=step, after_step=check)
    assert checked == [1, 2, 3, 4]
    assert not _same(model.state_dict(), end_of_phase_1, "layers.1.")


def test_backprop_gradients_reach_the_first_layer(tiny_data, tiny_model_config):
    """One step's gradient is that of the last readout's cross-entropy through all layers."""
    x, y = tiny_data[0][:64], tiny_data[1][:64]
    model, reference = (LocalErrorMLP(tiny_model_config, seed=0) for _ in range(2))
    backprop_step(model, make_optimizer(model, TrainConfig(1, 64, 1.0e-3)), x, y)
    last = reference.logits(reference(x, detach=False))[-1]
    expected = torch.autograd.grad(
        torch.nn.functional.cross_entropy(last, y), [*reference.parameters()]
    )
    assert model.layers[0].weight.grad.abs().sum() > 0
    for got, want in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(got.grad, want)


def test_backprop_training_changes_every_layer_and_no_readout(
    tmp_path, tiny_data, tiny_model_config
):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=3.0e-3, rule="backprop")
    before = LocalErrorMLP(tiny_model_config, seed=0)
    after, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    for l in range(before.n_layers):
        assert torch.equal(before.readout(l), after.readout(l))
        assert not torch.equal(before.layers[l].weight, after.layers[l].weight)
    assert len(rows) == 2 * 3 and {r["training_layer"] for r in rows} == {0}
    assert all(math.isfinite(r["train_loss"]) and 0 <= r["train_accuracy"] <= 1 for r in rows)


def test_snapshots_are_the_weights_after_their_steps(tmp_path, tiny_data, tiny_model_config):
    """Snapshot 0 is the untrained network; snapshot 0.5 the weights after round(0.5 * 4) = 2
    steps of epoch 1, replayed here; the last one is not the final model."""
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=3.0e-3, snapshots=[1.75, 0, 0.5])
    model, _ = _train(
        tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", snapshot_out=tmp_path / "s.pt"
    )
    snaps, meta = load_snapshots(tmp_path / "s.pt")
    assert [t for t, _ in snaps] == [0.0, 0.5, 1.75]
    assert all(not m.training for _, m in snaps)
    assert meta["steps_per_epoch"] == "4" and meta["snapshot_steps"] == "[0, 2, 7]"
    _assert_same_weights(snaps[0][1], LocalErrorMLP(tiny_model_config, seed=0))

    replay = LocalErrorMLP(tiny_model_config, seed=0)
    order = torch.randperm(256, generator=torch.Generator().manual_seed(0))
    kept = {}
    train_epoch(
        replay,
        make_optimizer(replay, tcfg),
        tiny_data,
        order,
        tcfg,
        1,
        after_step=lambda k: kept.setdefault(k, _state(replay)),
    )
    assert _same(snaps[1][1].state_dict(), kept[2], "")
    assert not _same(snaps[1][1].state_dict(), kept[1], "")
    assert not _same(snaps[-1][1].state_dict(), model.state_dict(), "layers.")
    for t in (0.0, 0.5, 1.75):
        assert snapshot_path(tmp_path / "ck.pt", t).name == f"ck.snapshot-{t}.pt"
        assert not snapshot_path(tmp_path / "ck.pt", t).exists()  # bundled, then removed
    assert load_torch(tmp_path / "ck.pt")["snapshots"] == [0.0, 0.5, 1.75]


def test_a_finished_run_asked_for_its_bundle_again_trains_again(
    tmp_path, caplog, tiny_data, tiny_model_config
):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=3.0e-3, snapshots=[0, 0.5])
    kwargs = {"snapshot_out": tmp_path / "s.pt"}
    _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", **kwargs)
    first = (tmp_path / "s.pt").read_bytes()
    (tmp_path / "s.pt").unlink()
    with caplog.at_level("INFO"):
        _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", **kwargs)
    assert "removed once bundled; training from scratch" in caplog.text
    assert (tmp_path / "s.pt").read_bytes() == first


def test_snapshots_need_a_bundle_path(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=1.0e-3, snapshots=[0])
    with pytest.raises(ValueError, match=r"snapshots \[0.0\] need snapshot_out"):
        _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")


def test_without_snapshots_the_bundle_is_empty(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=1, batch_size=128, lr=1.0e-3, rule="backprop")
    _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", snapshot_out=tmp_path / "s.pt")
    snaps, meta = load_snapshots(tmp_path / "s.pt")
    assert snaps == [] and meta["rule"] == "backprop" and meta["snapshot_steps"] == "[]"


def test_two_snapshots_on_one_step_are_refused(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=2, batch_size=64, lr=1.0e-3, snapshots=[0.5, 0.6])
    with pytest.raises(
        ValueError, match=r"snapshots 0.5 and 0.6 both fall on step 2 at 4 steps per epoch"
    ):
        _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", snapshot_out="s.pt")
    assert not (tmp_path / "ck.pt").exists()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"snapshots": [0, 2]}, r"snapshots \[2.0\] are not before the end of training \(2 "),
        ({"snapshots": [-0.5]}, r"snapshots \[-0.5\] are not points of training"),
        ({"snapshots": [float("nan")]}, "not points of training"),
        ({"snapshots": 1}, "must be a list"),
        # greedy: 3 layers x 2 epochs, checked by snapshot_steps at 4 steps per epoch
        ({"rule": "greedy", "snapshots": [5.9]}, "5.9 falls on step 24, the end of training"),
        ({"rule": "greedy", "snapshots": [6]}, r"end of training \(6 epochs of greedy"),
        ({"rule": "hebbian"}, r"rule 'hebbian' unknown; use one of \('local', 'greedy'"),
        ({"train_subset": 0}, "train_subset must be positive"),
        ({"train_subset": 2.5}, "train_subset must be an integer"),
        ({"label_noise": 1.0}, r"label_noise must be in \[0, 1\), got 1.0"),
        ({"label_noise": -0.1}, "label_noise"),
    ],
)
def test_bad_new_training_settings_name_the_problem(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(epochs=2, batch_size=64, lr=1.0e-3, **settings).snapshot_steps(3, 4)


def test_greedy_snapshots_run_over_all_phases(tmp_path, tiny_data, tiny_model_config):
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=1.0e-3, rule="greedy", snapshots=[2.5])
    assert tcfg.total_epochs(3) == 3 and TrainConfig(2, 64, 1.0e-3).total_epochs(3) == 2
    assert tcfg.snapshot_steps(3, 4) == (10,)
    with pytest.raises(ValueError, match=r"not before the end of training \(2 epochs of greedy"):
        _train(ModelConfig(hidden=(8, 8)), tcfg, tiny_data, tmp_path / "ck.pt", snapshot_out="s")


def test_train_subset_trains_on_exactly_the_stratified_subset(
    tmp_path, tiny_data, tiny_model_config
):
    """One step per epoch over 100 images: epoch 1's training accuracy is the untrained
    network's on the stratified subset of the seed, with denominator 100."""
    x, y = tiny_data
    tcfg = TrainConfig(epochs=1, batch_size=100, lr=1.0e-3, train_subset=100)
    model, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt", seed=3)
    keep = torch.from_numpy(stratified_subset(y.numpy(), 100, 3))
    untrained = LocalErrorMLP(tiny_model_config, seed=3)
    with torch.no_grad():
        logits = untrained.logits(untrained(x[keep]))
    expected = [(z.argmax(1) == y[keep]).sum().item() / 100 for z in logits]
    assert [r["train_accuracy"] for r in rows] == expected
    # the test set stays whole: all 256 images
    assert [r["test_accuracy"] for r in rows] == layer_accuracies(model, x, y)


def test_training_set_is_a_deterministic_stratified_subset(tiny_data):
    x, y = tiny_data
    tcfg = TrainConfig(epochs=1, batch_size=64, lr=1.0e-3, train_subset=120)
    xs, ys = training_set(tiny_data, tcfg, seed=5)
    keep = torch.from_numpy(stratified_subset(y.numpy(), 120, 5))
    assert torch.equal(xs, x[keep]) and torch.equal(ys, y[keep])
    again = training_set(tiny_data, tcfg, seed=5)
    assert torch.equal(again[0], xs) and torch.equal(again[1], ys)
    assert not torch.equal(training_set(tiny_data, tcfg, seed=6)[0], xs)
    too_many = TrainConfig(epochs=1, batch_size=64, lr=1.0e-3, train_subset=300)
    with pytest.raises(ValueError, match="train_subset 300 exceeds the 256 images"):
        training_set(tiny_data, too_many, seed=5)


def test_label_noise_shuffles_the_requested_fraction_of_labels(tiny_data):
    """With distinct labels every moved label shows; a permutation of 77 leaves few in place."""
    distinct = torch.arange(256)
    noisy = shuffle_labels(distinct, 0.3, seed=0)
    moved = int((noisy != distinct).sum())
    assert 70 <= moved <= round(0.3 * 256)
    assert torch.equal(noisy.sort().values, distinct)  # permuted among themselves
    assert torch.equal(shuffle_labels(distinct, 0.3, seed=0), noisy)
    assert not torch.equal(shuffle_labels(distinct, 0.3, seed=1), noisy)
    assert torch.equal(shuffle_labels(distinct, 0.0, seed=0), distinct)
    y = tiny_data[1]
    _, noisy_y = training_set(tiny_data, TrainConfig(1, 64, 1.0e-3, label_noise=0.3), seed=0)
    assert torch.equal(noisy_y.bincount(minlength=10), y.bincount(minlength=10))
    assert 0 < int((noisy_y != y).sum()) <= 77


def test_training_accuracy_is_on_the_noisy_labels(tmp_path, tiny_data, tiny_model_config):
    x, y = tiny_data
    tcfg = TrainConfig(epochs=1, batch_size=256, lr=1.0e-3, label_noise=0.5)
    _, rows = _train(tiny_model_config, tcfg, tiny_data, tmp_path / "ck.pt")
    noisy = shuffle_labels(y, 0.5, seed=0)
    untrained = LocalErrorMLP(tiny_model_config, seed=0)
    with torch.no_grad():
        logits = untrained.logits(untrained(x))
    on_noisy = [(z.argmax(1) == noisy).sum().item() / 256 for z in logits]
    on_clean = [(z.argmax(1) == y).sum().item() / 256 for z in logits]
    assert on_noisy != on_clean  # else this test could not tell them apart
    assert [r["train_accuracy"] for r in rows] == on_noisy


@pytest.mark.parametrize(
    "changed",
    [{"rule": "greedy"}, {"snapshots": (0.5,)}, {"train_subset": 200}, {"label_noise": 0.1}],
)
def test_checkpoint_of_other_rule_snapshots_or_data_controls_is_not_resumed(
    tmp_path, caplog, tiny_data, tiny_model_config, changed
):
    tcfg = TrainConfig(epochs=1, batch_size=128, lr=1.0e-3)
    ck = tmp_path / "ck.pt"
    _train(tiny_model_config, tcfg, tiny_data, ck)
    other = TrainConfig(epochs=1, batch_size=128, lr=1.0e-3, **changed)
    with caplog.at_level(logging.INFO, logger="manifold_smoothness"):
        _train(tiny_model_config, other, tiny_data, ck, snapshot_out=tmp_path / "s.pt")
    messages = [r.getMessage() for r in caplog.records]
    assert any("ignoring" in m and "training" in m for m in messages), messages
    assert not any("resuming" in m for m in messages)


def test_train_config_from_spec_reads_rule_snapshots_and_data_controls():
    training = {"epochs": 3, "batch_size": 16, "lr": 0.01, "rule": "greedy"}
    training |= {"snapshots": [2, 0, 0.5], "train_subset": 500, "label_noise": 0.2}
    config = TrainConfig.from_spec({"hidden": [8], "training": training})
    assert config.rule == "greedy" and config.snapshots == (0.0, 0.5, 2.0)
    assert all(type(t) is float for t in config.snapshots)
    assert (config.train_subset, config.label_noise) == (500, 0.2)
    default = TrainConfig.from_spec({"training": {"epochs": 3, "batch_size": 16, "lr": 0.01}})
    assert (default.rule, default.snapshots, default.train_subset, default.label_noise) == (
        "local",
        (),
        None,
        0.0,
    )
    with pytest.raises(
        ValueError, match=rf"rule 'sgd' unknown; use one of {re.escape(str(tuple(LEARNING_RULES)))}"
    ):
        TrainConfig.from_spec({"training": {**training, "rule": "sgd"}})


KILLABLE_SNAPSHOTS = """
import sys, torch
from manifold_smoothness.model import ModelConfig
from manifold_smoothness.training import TrainConfig, train
g = torch.Generator().manual_seed(123)
y = torch.randint(0, 10, (2048,), generator=g)
x = torch.rand(2048, 784, generator=g)
tcfg = TrainConfig(epochs=1, batch_size=32, lr=1.0e-3, rule="greedy",
                   snapshots=(0, 0.5, 1, 3.25, 6.75, 9.5))
model, _ = train(ModelConfig(hidden=(64,) * int(sys.argv[2])), tcfg, 0, (x, y), (x, y),
                 sys.argv[1], data_id="d", test_id="t", code_id="c",
                 snapshot_out=sys.argv[1] + ".snapshots")
torch.save(model.state_dict(), sys.argv[1] + ".final")
"""


def test_killed_greedy_run_resumes_to_identical_snapshots_and_weights(tmp_path):
    """Greedy with one epoch per layer: every checkpoint lies on a phase boundary, so the
    resumed run starts a new layer's phase; its snapshot bundle is bitwise the uninterrupted
    run's."""
    n_layers = 10  # = epochs
    reference = tmp_path / "reference.pt"
    assert _run(KILLABLE_SNAPSHOTS, reference, n_layers).wait(timeout=300) == 0

    ck = tmp_path / "ck.pt"
    interrupted = _kill_after_first_checkpoint(KILLABLE_SNAPSHOTS, ck, n_layers)
    assert interrupted["epoch"] < n_layers, "the run finished before it was killed"
    assert interrupted["snapshots"] and interrupted["snapshots"] != [0, 0.5, 1, 3.25, 6.75, 9.5]
    assert not Path(str(ck) + ".snapshots").exists()

    assert _run(KILLABLE_SNAPSHOTS, ck, n_layers).wait(timeout=300) == 0
    bundle = Path(str(ck) + ".snapshots").read_bytes()
    assert bundle == Path(str(reference) + ".snapshots").read_bytes()
    final = torch.load(str(ck) + ".final", weights_only=True)
    expected = torch.load(str(reference) + ".final", weights_only=True)
    for key in expected:
        assert torch.equal(final[key], expected[key]), key
