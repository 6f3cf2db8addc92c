import json

import numpy as np
import pyarrow as pa
import pytest

from manifold_smoothness.activations import (
    layer_column,
    read_labels,
    read_layer,
    read_metadata,
    record,
    write_activations,
)
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.storage import CorruptFileError, read_schema


@pytest.fixture
def written(tmp_path, tiny_data, tiny_model_config):
    model = LocalErrorMLP(tiny_model_config, seed=0)
    x, y = tiny_data
    hiddens, norms = record(model, x, y, "gaussian", 0.2, seed=0)
    path = tmp_path / "activations.parquet"
    meta = {"dataset": "mnist", "model": "tiny", "seed": 0, "attack": "gaussian", "strength": 0.2}
    sample = np.arange(len(y), dtype=np.int32) * 3
    write_activations(path, sample, y.numpy(), hiddens, meta, norms)
    return path, hiddens, y.numpy(), norms


def test_schema_is_fixed_size_lists_of_float32(written):
    path, hiddens, _, _ = written
    schema = read_schema(path)
    assert schema.field("sample").type == pa.int32()
    assert schema.field("label").type == pa.int8()
    for layer, h in enumerate(hiddens, start=1):
        assert schema.field(layer_column(layer)).type == pa.list_(pa.float32(), h.shape[1])


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
