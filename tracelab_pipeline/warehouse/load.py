"""Load the public Parquet layer into DuckDB tables with exactly the public schema columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from tracelab_pipeline import schema
from tracelab_pipeline.warehouse.comments import comment_base_table

BASE_TABLES = ("steps", "tool_calls", "timing_events")
# The public accounting of every line read (counts and reasons, no path or raw line): what the
# report's data-quality section reads. Loaded like the base tables; no metric reads them.
ACCOUNTING_TABLES = ("ingest_accounting", "rejected_records")

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    schema.TS: "TIMESTAMPTZ",
    pa.map_(pa.string(), pa.int64()): "MAP(VARCHAR, BIGINT)",
}


def duckdb_type(field: pa.Field) -> str:
    try:
        return _DUCKDB_TYPES[field.type]
    except KeyError:
        raise TypeError(f"no DuckDB type for {field.name}: {field.type}") from None


def parquet_source(public_root: str | Path, table: str) -> str | None:
    """The read_parquet glob for a table, or None when the layer has no file for it.

    Accepts the partitioned layout `<root>/<table>/**/*.parquet` (public layer) and the flat
    `<root>/<table>.parquet` one (normalize output, generator truth).
    """
    root = Path(public_root)
    directory = root / table
    if directory.is_dir() and any(directory.rglob("*.parquet")):
        return str(directory / "**" / "*.parquet")
    flat = root / f"{table}.parquet"
    if flat.is_file():
        return str(flat)
    return None


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_base_table(con: duckdb.DuckDBPyConnection, public_root: str | Path, table: str) -> int:
    """(Re)create `table` from the Parquet files; columns and types follow schema.public_schema."""
    fields = list(schema.public_schema(table))
    source = parquet_source(public_root, table)
    if source is None:
        cols = ", ".join(f'"{f.name}" {duckdb_type(f)}' for f in fields)
        con.execute(f'CREATE OR REPLACE TABLE "{table}" ({cols})')
        comment_base_table(con, table)
        return 0
    reader = (
        f"read_parquet({_sql_literal(source)}, hive_partitioning = true, "
        "hive_types_autocast = false, union_by_name = true)"
    )
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
    # A column absent from every file (older writer) becomes a typed NULL instead of an error.
    select = ", ".join(
        f'CAST("{f.name}" AS {duckdb_type(f)}) AS "{f.name}"'
        if f.name in present
        else f'CAST(NULL AS {duckdb_type(f)}) AS "{f.name}"'
        for f in fields
    )
    con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT {select} FROM {reader}')
    comment_base_table(con, table)
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
