import numpy as np
import pytest
import torch
from torch import nn

from manifold_smoothness.model import (
    LocalErrorMLP,
    ModelConfig,
    load_model,
    load_snapshots,
    local_cross_entropies,
    local_losses,
    readout_accuracy,
    save_model,
    save_snapshots,
)
from manifold_smoothness.storage import CorruptFileError


def test_each_local_loss_reaches_only_its_own_layer(tiny_data, tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0)
    x, y = tiny_data
    losses = local_losses(model, x, y)
    for l, loss in enumerate(losses):
        model.zero_grad(set_to_none=False)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        loss.backward(retain_graph=True)
        for k, layer in enumerate(model.layers):
            grads = [layer.weight.grad, layer.bias.grad]
            if k == l:
                assert all(g.abs().sum() > 0 for g in grads)
            else:
                assert all(torch.equal(g, torch.zeros_like(g)) for g in grads), (l, k)


@pytest.mark.parametrize("batch", [64, 37])
def test_stacked_cross_entropies_equal_per_layer_ones_with_bitwise_gradients(
    tiny_data, tiny_model_config, batch
):
    """The one-kernel loss of all layers trains exactly as separate per-layer losses would."""
    x, y = tiny_data[0][:batch], tiny_data[1][:batch]
    stacked, separate = (LocalErrorMLP(tiny_model_config, seed=0) for _ in range(2))
    losses = local_cross_entropies(torch.stack(stacked.logits(stacked(x))), y)
    reference = [nn.functional.cross_entropy(z, y) for z in separate.logits(separate(x))]
    torch.testing.assert_close(losses, torch.stack(reference))
    losses.sum().backward()
    sum(reference).backward()
    for a, b in zip(stacked.parameters(), separate.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)


def test_readouts_are_buffers_not_parameters(tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0)
    parameter_ids = {id(p) for p in model.parameters()}
    for l in range(model.n_layers):
        assert id(model.readout(l)) not in parameter_ids
        assert f"readout_{l}" in model.state_dict()
        assert model.readout(l).shape == (10, tiny_model_config.hidden[l])


def test_readout_scale_sets_std():
    config = ModelConfig(hidden=(4000,), readout_scale=2.0)
    for init in ("gaussian", "uniform"):
        model = LocalErrorMLP(ModelConfig(hidden=(4000,), readout_scale=2.0, readout_init=init), 0)
        assert model.readout(0).std().item() == pytest.approx(2.0 / 4000**0.5, rel=0.03)
    assert config.readout_init == "gaussian"


def test_same_seed_same_model_other_seed_other_model(tiny_model_config):
    a, b, c = (LocalErrorMLP(tiny_model_config, s) for s in (0, 0, 1))
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert not torch.equal(a.readout(0), c.readout(0))


def test_save_load_round_trip(tmp_path, tiny_model_config, tiny_data):
    model = LocalErrorMLP(tiny_model_config, seed=3).eval()
    save_model(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    x, _ = tiny_data
    assert loaded.config == tiny_model_config
    for a, b in zip(model(x), loaded(x), strict=True):
        assert torch.equal(a, b)


def test_truncated_model_file_names_itself(tmp_path, tiny_model_config):
    path = tmp_path / "model.pt"
    save_model(LocalErrorMLP(tiny_model_config, seed=0), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match="model.pt.*rerun snakemake"):
        load_model(path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden": ()}, "positive"),
        ({"hidden": (10, 0)}, "positive"),
        ({"hidden": (10,), "activation": "gelu"}, "gelu"),
        ({"hidden": (10,), "readout_init": "orthogonal"}, "orthogonal"),
    ],
)
def test_bad_model_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_model_config_from_spec_reads_architecture_and_ignores_training():
    spec = {
        "hidden": [20, 10],
        "activation": "tanh",
        "readout": {"init": "uniform", "scale": 2},
        "training": {"epochs": 1},
    }
    expected = ModelConfig(
        hidden=(20, 10), activation="tanh", readout_init="uniform", readout_scale=2.0
    )
    assert ModelConfig.from_spec(spec) == expected


def test_model_config_from_spec_defaults_and_missing_hidden():
    assert ModelConfig.from_spec({"hidden": [5]}) == ModelConfig(hidden=(5,))
    with pytest.raises(ValueError, match="no 'hidden'"):
        ModelConfig.from_spec({"activation": "relu"})


def _hidden_and_readout(config, data):
    model = LocalErrorMLP(config, seed=0).eval()
    x, y = data
    with torch.no_grad():
        h = model(x)[1]
    return h, model.readout(1), y


def test_readout_accuracy_equals_the_numpy_expression(tiny_data, tiny_model_config):
    h, readout, y = _hidden_and_readout(tiny_model_config, tiny_data)
    hn, bn, yn = h.numpy(), readout.numpy(), y.numpy()
    expected = float(np.mean((hn @ bn.T).argmax(axis=1) == yn))
    assert readout_accuracy(hn, bn, yn) == expected
    assert readout_accuracy(h, readout, y) == expected  # tensors: the same arithmetic


def test_readout_accuracy_rejects_mismatched_shapes(tiny_data, tiny_model_config):
    h, readout, y = _hidden_and_readout(tiny_model_config, tiny_data)
    with pytest.raises(ValueError, match="expected"):
        readout_accuracy(h, readout.T, y)
    with pytest.raises(ValueError, match="labels"):
        readout_accuracy(h, readout, y[:-1])


def test_forward_to_a_depth_gives_the_first_layers(tiny_data, tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0)
    x = tiny_data[0]
    full = model(x)
    assert model(x, depth=0) == []
    for got, want in zip(model(x, depth=2), full[:2], strict=True):
        assert torch.equal(got, want)
    assert torch.equal(model.layer_output(2, full[1]), full[2])


def _snapshot_bundle(tmp_path, config, name="snapshots.pt"):
    models = [LocalErrorMLP(config, seed=s) for s in (0, 1)]
    path = tmp_path / name
    save_snapshots(path, [0.0, 2.5], [m.state_dict() for m in models], config, {"seed": 7})
    return path, models


def test_snapshots_round_trip_in_order_with_metadata(tmp_path, tiny_model_config, tiny_data):
    path, models = _snapshot_bundle(tmp_path, tiny_model_config)
    loaded, meta = load_snapshots(path)
    assert meta == {"seed": "7"}
    assert [t for t, _ in loaded] == [0.0, 2.5]
    x = tiny_data[0]
    for (_, got), want in zip(loaded, models, strict=True):
        assert not got.training and got.config == tiny_model_config
        for a, b in zip(got(x), want(x), strict=True):
            assert torch.equal(a, b)
    torch.load(path, weights_only=True)  # plain types only


def test_snapshot_bytes_depend_on_the_contents_not_the_path(tmp_path, tiny_model_config):
    """A resumed run must be able to write the very bytes of an uninterrupted one."""
    a, _ = _snapshot_bundle(tmp_path, tiny_model_config, "a.pt")
    b, _ = _snapshot_bundle(tmp_path, tiny_model_config, "b.pt")
    assert a.read_bytes() == b.read_bytes()


def test_snapshot_bytes_are_the_same_for_weights_read_back_from_files(tmp_path, tiny_model_config):
    """In one process the state dicts share their buffer names (one string object), read from
    files they do not; pickle would write the two differently unless the bundle canonicalises."""
    model = LocalErrorMLP(tiny_model_config, seed=0)
    in_memory = [{k: v.clone() for k, v in model.state_dict().items()} for _ in range(2)]
    assert in_memory[0].keys() and any(
        a is b for a, b in zip(in_memory[0], in_memory[1], strict=True)
    )
    read_back = []
    for i, state in enumerate(in_memory):
        torch.save(state, tmp_path / f"{i}.pt")
        read_back.append(torch.load(tmp_path / f"{i}.pt", weights_only=True))
    for name, states in (("memory.pt", in_memory), ("files.pt", read_back)):
        save_snapshots(tmp_path / name, [0.0, 1.0], states, tiny_model_config, {})
    assert (tmp_path / "memory.pt").read_bytes() == (tmp_path / "files.pt").read_bytes()


def test_an_empty_snapshot_bundle_round_trips(tmp_path, tiny_model_config):
    save_snapshots(tmp_path / "s.pt", [], [], tiny_model_config, {})
    assert load_snapshots(tmp_path / "s.pt") == ([], {})


def test_snapshot_epochs_and_weights_must_pair_up(tmp_path, tiny_model_config):
    with pytest.raises(ValueError, match="2 snapshot epochs but 1 state dicts"):
        save_snapshots(tmp_path / "s.pt", [0, 1], [{}], tiny_model_config, {})


def test_a_damaged_snapshot_bundle_names_itself(tmp_path, tiny_model_config):
    path, _ = _snapshot_bundle(tmp_path, tiny_model_config)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match="snapshots.pt.*rerun snakemake"):
        load_snapshots(path)
    model_file = tmp_path / "model.pt"
    save_model(LocalErrorMLP(tiny_model_config, seed=0), model_file)
    with pytest.raises(CorruptFileError, match="model.pt is not a bundle of weight snapshots"):
        load_snapshots(model_file)
    torch.save({"epochs": [0.0], "state_dicts": [{}], "config": {"hidden": [4]}, "meta": {}}, path)
    with pytest.raises(CorruptFileError, match="does not hold a LocalErrorMLP"):
        load_snapshots(path)
