import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from manifold_smoothness.activations import (
    layer_column,
    read_labels,
    read_layer,
    read_metadata,
    record,
    record_grid,
    write_activations,
)
from manifold_smoothness.attacks import AttackSpec, perturb
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.storage import CorruptFileError, read_schema


@pytest.fixture
def written(tmp_path, tiny_data, tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0)
    x, y = tiny_data
    hiddens, norms, _ = record(model, x, y, AttackSpec("gaussian"), 0.2, seed=0)
    path = tmp_path / "activations.parquet"
    meta = {"dataset": "mnist", "model": "tiny", "seed": 0, "attack": "gaussian", "strength": 0.2}
    sample = np.arange(len(y), dtype=np.int32) * 3
    write_activations(path, sample, y.numpy(), hiddens, meta, norms)
    return path, hiddens, y.numpy(), norms


def test_schema_is_one_fixed_size_binary_of_float32_per_sample_and_layer(written):
    path, hiddens, _, _ = written
    schema = read_schema(path)
    assert schema.field("sample").type == pa.int32()
    assert schema.field("label").type == pa.int8()
    for layer, h in enumerate(hiddens, start=1):
        field = schema.field(layer_column(layer))
        assert field.type == pa.binary(4 * h.shape[1]) and not field.nullable
        assert field.metadata == {b"dtype": b"<f4", b"width": str(h.shape[1]).encode()}
    # any parquet reader gets the floats back from the bytes of a value
    row = pq.read_table(path, columns=[layer_column(2)]).column(0)[3].as_py()
    np.testing.assert_array_equal(np.frombuffer(row, "<f4"), hiddens[1][3])


def test_read_layer_reads_the_earlier_fixed_size_list_encoding(written, tmp_path):
    path, hiddens, _, _ = written
    table = pq.read_table(path)
    for layer, h in enumerate(hiddens, start=1):
        as_list = pa.FixedSizeListArray.from_arrays(pa.array(h.reshape(-1)), h.shape[1])
        table = table.set_column(layer + 1, layer_column(layer), as_list)
    old = tmp_path / "old.parquet"
    pq.write_table(table, old)
    for layer, h in enumerate(hiddens, start=1):
        np.testing.assert_array_equal(read_layer(old, layer), h)


@pytest.mark.parametrize(
    "kind, meta",
    [(pa.binary(8), {"dtype": "<f8"}), (pa.binary(6), {"dtype": "<f4"}), (pa.binary(8), None)],
)
def test_a_layer_column_of_other_bytes_is_refused(tmp_path, kind, meta):
    path = tmp_path / "activations.parquet"
    field = pa.field(layer_column(1), kind, metadata=meta)
    values = pa.array([b"\0" * kind.byte_width] * 3, kind)
    pq.write_table(pa.Table.from_arrays([values], schema=pa.schema([field])), path)
    with pytest.raises(CorruptFileError, match="not the float32 activations.*rerun snakemake"):
        read_layer(path, 1)


def test_read_layer_returns_the_recorded_activations(written):
    path, hiddens, labels, _ = written
    for layer, h in enumerate(hiddens, start=1):
        got = read_layer(path, layer)
        assert got.shape == h.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, h)
    np.testing.assert_array_equal(read_labels(path), labels)


def test_read_layer_does_not_copy(written):
    path, _, _, _ = written
    got = read_layer(path, 1)
    assert not got.flags.writeable  # a view of the Arrow buffer, not a numpy copy
    assert not got.flags.owndata


def test_metadata_records_condition_perturbation_and_versions(written):
    path, _, _, norms = written
    meta = read_metadata(path)
    assert meta["attack"] == "gaussian" and float(meta["strength"]) == 0.2
    assert json.loads(meta["perturbation"]) == norms
    assert "torch" in json.loads(meta["versions"])


def test_unknown_layer_and_truncated_file_give_clear_errors(written):
    path, hiddens, _, _ = written
    with pytest.raises(KeyError, match="layer_9"):
        read_layer(path, 9)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match="activations.parquet.*rerun snakemake"):
        read_layer(path, 1)


PGD_LAYER = AttackSpec("pgd", "layer", steps=3, step_size=2.5)


@pytest.fixture
def model(tiny_model_config):
    return LocalErrorMLP(tiny_model_config, seed=0)


def test_realised_perturbation_is_recorded(model, tiny_data):
    x, y = tiny_data
    _, norms, _ = record(model, x, y, AttackSpec("gaussian"), 0.5, seed=0)
    nominal_l2 = 0.5 * 784**0.5
    assert 0 < norms[0]["perturbation_l2"] < nominal_l2  # clipping shrinks it
    assert norms[0]["perturbation_linf"] <= 1.0


def test_record_returns_the_inputs_that_made_the_activations(model, tiny_data):
    x, y = tiny_data
    hiddens, _, inputs = record(model, x, y, AttackSpec("random_sign"), 0.1, seed=0)
    assert all(a is inputs[0] for a in inputs)  # every layer saw the same inputs
    assert inputs[0].shape == (len(x), 784) and inputs[0].dtype == np.float32
    expected = perturb(model, x, y, AttackSpec("random_sign"), 0.1, seed=0).numpy()
    np.testing.assert_array_equal(inputs[0], expected)
    with torch.no_grad():
        again = model(torch.from_numpy(inputs[0]))
    for h, h_again in zip(hiddens, again, strict=True):
        np.testing.assert_array_equal(h, h_again.numpy())


@pytest.mark.parametrize("spec", [AttackSpec("fgsm", "layer"), AttackSpec("pgd", "layer", 3, 2.5)])
def test_layer_target_attacks_each_layer_through_its_readout(model, tiny_data, spec):
    x, y = tiny_data
    output_spec = AttackSpec(spec.method, "output", spec.steps, spec.step_size)
    per_layer, norms, inputs = record(model, x, y, spec, 0.1, seed=0)
    output, _, output_inputs = record(model, x, y, output_spec, 0.1, seed=0)
    last = model.n_layers - 1
    np.testing.assert_array_equal(per_layer[last], output[last])
    np.testing.assert_array_equal(inputs[last], output_inputs[last])
    assert not np.array_equal(per_layer[0], output[0])
    assert len(norms) == len(inputs) == model.n_layers
    for a in range(model.n_layers):
        for b in range(a + 1, model.n_layers):
            assert not np.array_equal(inputs[a], inputs[b])
    layer_0 = perturb(model, x, y, spec, 0.1, seed=0, layer=0).numpy()
    np.testing.assert_array_equal(inputs[0], layer_0)


def test_layer_target_at_strength_zero_is_the_shared_clean_input(model, tiny_data):
    x, y = tiny_data
    _, _, inputs = record(model, x, y, AttackSpec("pgd", "layer", 3, 2.5), 0.0, seed=0)
    assert all(a is inputs[0] for a in inputs)
    np.testing.assert_array_equal(inputs[0], x.numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_record_follows_the_model_to_the_gpu(model, tiny_data):
    x, y = tiny_data
    gpu_model = model.to("cuda")
    hiddens, _, inputs = record(gpu_model, x.cuda(), y.cuda(), PGD_LAYER, 0.1, seed=0)
    assert [h.shape for h in hiddens] == [(len(x), w) for w in model.config.hidden]
    assert inputs[0].shape == (len(x), 784) and inputs[0].dtype == np.float32


def test_a_recorded_grid_equals_its_strengths_recorded_one_by_one(model, tiny_data):
    x, y = tiny_data
    spec = AttackSpec("fgsm", "layer")
    strengths = [0.0, 0.05, 0.1]
    grid = list(record_grid(model, x, y, spec, strengths, seed=0))
    for strength, (hiddens, norms, inputs) in zip(strengths, grid, strict=True):
        alone_hiddens, alone_norms, alone_inputs = record(model, x, y, spec, strength, seed=0)
        assert norms == alone_norms
        for ours, theirs in zip(hiddens + inputs, alone_hiddens + alone_inputs, strict=True):
            np.testing.assert_array_equal(ours, theirs)
