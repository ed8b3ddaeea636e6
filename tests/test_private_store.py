"""The private layer read back: partitions written before an additive schema change."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tracelab_pipeline import schema
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.partitioned.store import partition_dir, read_partition, write_partition

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
# added by schema 1.1, nullable
NEW_IN_1_1 = ["after_microcompaction", "microcompact_tokens_saved"]


@pytest.fixture
def private(tmp_path):
    result = read_log(REAL / "claude" / "ccviewer__5c0375b4.jsonl", "alice")
    tables = {
        "steps": schema.to_table("steps", result.steps),
        "tool_calls": schema.to_table("tool_calls", result.tool_calls),
        "timing_events": schema.to_table("timing_events", result.timing_events),
        "ingest_accounting": schema.INGEST_ACCOUNTING.empty_table(),
        "rejected_records": schema.REJECTED_RECORDS.empty_table(),
    }
    write_partition(tmp_path, "alice", "2025-09", tables, {})
    return tmp_path, tables


def _rewrite_steps_without(root: Path, columns: list[str]) -> Path:
    path = partition_dir(root, "steps", "alice", "2025-09") / "part.parquet"
    pq.write_table(pq.read_table(path).drop_columns(columns), path)
    return path


def test_a_partition_older_than_a_nullable_column_reads_it_as_nulls(private):
    root, tables = private
    _rewrite_steps_without(root, NEW_IN_1_1)
    steps = read_partition(root, "alice", "2025-09")["steps"]
    assert steps.schema == schema.STEPS
    assert steps.num_rows == tables["steps"].num_rows > 0
    for column in NEW_IN_1_1:
        assert steps.column(column).null_count == steps.num_rows
    kept = [c for c in schema.STEPS.names if c not in NEW_IN_1_1]
    assert steps.select(kept).equals(tables["steps"].select(kept))
    # a subset of columns, as the checks read them
    some = read_partition(root, "alice", "2025-09", {"steps": ("step_id", NEW_IN_1_1[1])})
    assert some["steps"].column(NEW_IN_1_1[1]).null_count == steps.num_rows


def test_a_partition_without_a_required_column_is_an_error_naming_it(private):
    root, _ = private
    path = _rewrite_steps_without(root, ["output_tokens", *NEW_IN_1_1])
    with pytest.raises(schema.MissingColumnError) as error:
        read_partition(root, "alice", "2025-09")
    assert str(path) in str(error.value) and "no column output_tokens," in str(error.value)


def test_partitions_are_lz4_and_those_written_with_zstd_before_still_read_the_same(private):
    root, tables = private
    path = partition_dir(root, "steps", "alice", "2025-09") / "part.parquet"
    column = pq.ParquetFile(path).metadata.row_group(0).column
    names = pq.ParquetFile(path).schema_arrow.names
    assert {column(i).compression for i in range(len(names))} == {"LZ4"}
    dictionary = {n for i, n in enumerate(names) if "RLE_DICTIONARY" in column(i).encodings}
    assert "cwd" in dictionary and "step_id" not in dictionary
    new = read_partition(root, "alice", "2025-09")
    pq.write_table(pq.read_table(path), path, compression="zstd")  # as before LZ4
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert read_partition(root, "alice", "2025-09")["steps"].equals(new["steps"])
    assert new["steps"].equals(tables["steps"].cast(schema.STEPS))
