"""normalize's row -> Arrow conversion gives exactly what Table.from_pylist gives of the same
rows as dicts (the readers' list rows and their dict view, FileResult.steps etc., agree)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.rows import from_dicts
from tracelab_pipeline.normalize.columns import ColumnBuffer
from tracelab_pipeline.schema import TABLES

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
ROW_TABLES = ("steps", "tool_calls", "timing_events")


def converted(name: str, files: list[list[dict]]) -> pa.Table:
    buffer = ColumnBuffer(name, "_file")
    for index, rows in enumerate(files):
        buffer.add(from_dicts(name, rows), index)
    return buffer.table()


def expected(name: str, files: list[list[dict]]) -> pa.Table:
    rows = [row for rows in files for row in rows]
    tags = [index for index, rows in enumerate(files) for _ in rows]
    table = pa.Table.from_pylist(rows, schema=TABLES[name])
    return table.append_column("_file", pa.array(tags, pa.int32()))


@pytest.mark.parametrize("name", ROW_TABLES)
def test_fixture_rows_convert_like_from_pylist(name):
    results = [read_log(p, "t") for p in sorted(FIXTURES.glob("*/*.jsonl"))]
    files = [getattr(result, name) for result in results]
    assert sum(map(len, files)) > 0
    buffer = ColumnBuffer(name, "_file")
    for index, result in enumerate(results):
        buffer.add(result.rows[name], index)
    assert buffer.table().equals(expected(name, files), check_metadata=True)


def test_a_row_of_the_wrong_length_raises():
    rows = read_log(FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl", "t").rows
    buffer = ColumnBuffer("steps", "_file")
    with pytest.raises(ValueError):
        buffer.add([*rows["steps"], rows["steps"][0][:-1]], 0)


def test_odd_timestamps_missing_keys_and_extra_keys_convert_like_from_pylist():
    template = read_log(FIXTURES / "claude" / "tracelab__claude-example-segment.jsonl", "t")
    template = template.timing_events[0]
    plus_two = timezone(timedelta(hours=2))
    odd = [
        {**template, "timestamp": datetime(2025, 3, 1, 12, 0, 0, 999_999, tzinfo=plus_two)},
        {**template, "timestamp": datetime(1, 1, 1, tzinfo=UTC)},
        {**template, "timestamp": datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)},
        {**template, "timestamp": None, "not_a_column": 1},
        {k: v for k, v in template.items() if k not in ("timestamp", "tool_name")},
    ]
    naive = [{**template, "timestamp": datetime(2025, 3, 1, 12, 0, 0)}]
    for files in ([odd], [naive], [odd, naive]):
        table = converted("timing_events", files)
        assert table.equals(expected("timing_events", files), check_metadata=True)


def test_a_value_of_the_wrong_type_raises_like_from_pylist():
    rows = read_log(FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl", "t").steps
    rows[1] = {**rows[1], "model": {"not": "a string"}}
    with pytest.raises(pa.ArrowTypeError):
        pa.Table.from_pylist(rows, schema=TABLES["steps"])
    with pytest.raises(pa.ArrowTypeError):
        converted("steps", [rows])
