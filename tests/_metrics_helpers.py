"""Shared by the metrics/warehouse/report tests: build a public-like warehouse from rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.warehouse import build_warehouse

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
TRACELAB_SEGMENTS = (
    REAL / "claude" / "tracelab__claude-example-segment.jsonl",
    REAL / "codex" / "tracelab__codex-example-segment.jsonl",
)


def public_table(name: str, table: pa.Table) -> pa.Table:
    return table.select(schema.public_schema(name).names)


def write_public(tables: dict[str, pa.Table], root: Path, partition: str = "p=0") -> Path:
    """Write tables as the public layer does: `<root>/<table>/<partition>/part.parquet`."""
    for name, table in tables.items():
        out = root / name / partition
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(public_table(name, table), out / "part.parquet")
    return root


def read_rows(paths, contributor: str = "contributor-a") -> dict[str, pa.Table]:
    rows: dict[str, list[dict]] = {"steps": [], "tool_calls": [], "timing_events": []}
    for path in paths:
        result = read_log(path, contributor)
        assert result.error is None, result.error
        for name in rows:
            rows[name] += getattr(result, name)
    return {name: schema.to_table(name, r) for name, r in rows.items()}


def tracelab_example_warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """The 19-step TraceLab example (tracelab-metrics §8) loaded as a warehouse."""
    root = write_public(read_rows(TRACELAB_SEGMENTS), tmp_path / "public")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_warehouse(con, root)
    return con
