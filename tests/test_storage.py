"""Stored tables: atomic, checksummed parquet whose damage is an error that names the file."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from manifold_smoothness.storage import (
    REBUILD_HINT,
    CorruptFileError,
    read_schema,
    read_table,
    table_metadata,
    write_table,
)

HEADER_BYTES = 48  # covers a page header (type, sizes, CRC, value count, statistics) and more
BODY_STRIDE = 37  # every 37th byte of the page bodies, all 8 bits of each


def activations() -> pa.Table:
    """4000 ReLU-like float32 values (half zeros, so zstd compresses them, as it does real ones)."""
    rng = np.random.default_rng(0)
    values = np.maximum(rng.standard_normal(4000), 0).round(3).astype(np.float32)
    return pa.table({"h1": pa.array(values)})


@pytest.fixture(params=[False, True], ids=["zstd", "scratch-lz4"])
def stored(tmp_path: Path, request) -> tuple[Path, pa.Table]:
    """A checksummed file as the results (zstd) and as the activations (scratch: lz4) are."""
    path = tmp_path / "activations.parquet"
    table = activations()
    write_table(table, path, metadata={"layer": "1"}, scratch=request.param)
    codec = pq.ParquetFile(path).metadata.row_group(0).column(0).compression
    assert codec == ("LZ4" if request.param else "ZSTD")
    return path, table


def page_positions(path: Path) -> list[int]:
    """Byte positions to flip: every byte of each page's start, a stride through the rest of the
    pages, nothing of the footer (its damage is a Thrift error, not the subject here)."""
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    starts = sorted(
        o for o in (column.dictionary_page_offset, column.data_page_offset) if o is not None
    )
    end = starts[0] + column.total_compressed_size
    headers = {p for s in starts for p in range(s, min(s + HEADER_BYTES, end))}
    return sorted(headers | set(range(starts[0], end, BODY_STRIDE)))


def test_round_trip_keeps_values_and_metadata(stored):
    path, table = stored
    read = read_table(path)
    assert read.equals(table)
    assert table_metadata(read) == {"layer": "1"}


def test_read_schema_of_a_checksummed_file(stored):
    path, _ = stored
    schema = read_schema(path)
    assert schema.names == ["h1"]
    assert table_metadata(schema) == {"layer": "1"}


def test_read_table_selects_columns(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(pa.table({"a": [1, 2], "b": [3.0, 4.0]}), path)
    assert read_table(path, columns=["b"]).column_names == ["b"]


def test_missing_column_names_the_file_and_its_columns(stored):
    path, _ = stored
    with pytest.raises(KeyError, match=r"has no column\(s\) \['h9'\]; it has \['h1'\]"):
        read_table(path, columns=["h9"])


def test_missing_file_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.parquet does not exist; run snakemake"):
        read_table(tmp_path / "missing.parquet")


def test_truncated_file_names_itself_and_the_fix(stored):
    path, _ = stored
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match="activations.parquet is not a readable"):
        read_table(path)


def test_file_without_page_checksums_still_reads(tmp_path):
    """Results written before checksums were introduced stay readable (unverified)."""
    path = tmp_path / "old.parquet"
    pq.write_table(activations(), path, compression="zstd")
    assert read_table(path).equals(activations())


def test_no_bit_flip_in_the_pages_reads_back_as_different_data(stored):
    path, table = stored
    clean = path.read_bytes()
    positions = page_positions(path)
    detected, unchanged, silent = 0, 0, []
    for pos in positions:
        for bit in range(8):
            damaged = bytearray(clean)
            damaged[pos] ^= 1 << bit
            path.write_bytes(damaged)
            try:
                read = read_table(path)
            except CorruptFileError as err:
                assert str(path) in str(err) and REBUILD_HINT in str(err)
                detected += 1
                continue
            if read.equals(table):
                unchanged += 1  # e.g. a page's min/max statistics, which reading does not use
            else:
                silent.append((pos, bit))
    assert silent == []
    # Header bytes, over-represented here, hold most unchanged reads; the bodies are all caught.
    assert detected / (detected + unchanged) > 0.9
