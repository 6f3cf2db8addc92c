"""Stages run without Snakemake (a plain namespace as the job) and refuse readable but wrong
files: another seed's result, a table of the wrong shape, a damaged JSON file."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest
import yaml

from manifold_smoothness.stages import ProvenanceError, check_provenance, run
from manifold_smoothness.stages.plot_figure import read_training
from manifold_smoothness.stages.record_config import record_config
from manifold_smoothness.storage import CorruptFileError, write_table


def job(tmp_path, **parts) -> SimpleNamespace:
    defaults = {
        "input": SimpleNamespace(),
        "output": SimpleNamespace(),
        "params": SimpleNamespace(),
        "wildcards": {},
        "threads": 1,
        "log": [str(tmp_path / "job.log")],
        "rule": "test_rule",
    }
    return SimpleNamespace(**{**defaults, **parts})


def test_a_stage_runs_from_a_plain_namespace_and_logs_to_the_job_log(tmp_path):
    out = tmp_path / "config.yaml"
    config = {"seeds": [0, 1], "device": "cpu"}
    run(
        job(
            tmp_path, output=SimpleNamespace(config=str(out)), params=SimpleNamespace(config=config)
        ),
        record_config,
    )
    assert yaml.safe_load(out.read_text()) == config
    assert "rule test_rule" in (tmp_path / "job.log").read_text()


def test_a_failing_stage_logs_its_traceback_and_raises(tmp_path):
    def broken(_job):
        raise ValueError("bad value 42")

    with pytest.raises(ValueError, match="bad value 42"):
        run(job(tmp_path), broken)
    assert "bad value 42" in (tmp_path / "job.log").read_text()


def test_metadata_that_contradicts_the_path_is_refused():
    meta = {"dataset": "mnist", "model": "m", "seed": "1", "strength": "0.1"}
    check_provenance("x.parquet", meta, {"seed": 1, "strength": "0.10"})
    with pytest.raises(ProvenanceError, match="holds seed '1', but its path says '0'"):
        check_provenance("x.parquet", meta, {"seed": "0"})
    with pytest.raises(ProvenanceError, match="no 'attack' in its metadata"):
        check_provenance("x.parquet", meta, {"attack": "clean"})


def training_table(**columns) -> pa.Table:
    base = {
        "epoch": pa.array([1], pa.int32()),
        "training_layer": pa.array([0], pa.int32()),
        "layer": pa.array([1], pa.int32()),
        "train_loss": pa.array([0.5]),
        "train_accuracy": pa.array([0.9]),
        "test_accuracy": pa.array([0.9]),
    }
    return pa.table({**base, **columns})


def test_a_training_log_of_another_seed_or_shape_is_refused(tmp_path):
    path = tmp_path / "training.parquet"
    meta = {"dataset": "mnist", "model": "m", "seed": "0"}
    write_table(training_table(), path, metadata=meta)
    assert len(read_training(path, meta)) == 1
    with pytest.raises(ProvenanceError, match="seed"):
        read_training(path, {**meta, "seed": 2})
    write_table(training_table(test_accuracy=pa.array(["high"])), path, metadata=meta)
    with pytest.raises(CorruptFileError, match="not those training writes"):
        read_training(path, meta)


def test_epochs_and_strengths_are_compared_as_numbers():
    check_provenance("f", {"epoch": "0.5", "strength": "0.10"}, {"epoch": 0.5, "strength": "0.1"})
    check_provenance("f", {"epoch": "final"}, {"epoch": "final"})
    with pytest.raises(ProvenanceError, match="epoch"):
        check_provenance("f", {"epoch": "final"}, {"epoch": "0.5"})
