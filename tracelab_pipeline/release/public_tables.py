"""The public layer, merged: every contributor-month partition of a table in one Arrow table,
in the public schema and a total order that does not depend on file discovery."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema

RELEASE_TABLES = ("steps", "tool_calls", "timing_events")

# Each key is unique within a contributor (step_id is), so the order is total.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "steps": ("contributor", "session_id", "step_index", "step_id"),
    "tool_calls": ("contributor", "step_id", "tool_index", "call_id"),
    "timing_events": ("contributor", "step_id", "event_index"),
}


def partition_files(public_root: str | Path, table: str) -> list[Path]:
    """`<public>/<table>/month=*/contributor=*/part.parquet`, sorted (temporary files of a
    publication in progress are hidden names and never match)."""
    return sorted(Path(public_root, table).glob("month=*/contributor=*/part.parquet"))


def months(public_root: str | Path) -> list[str]:
    """The months that have a public steps partition, sorted."""
    return sorted(
        {f.parent.parent.name.removeprefix("month=") for f in partition_files(public_root, "steps")}
    )


def read_public_table(public_root: str | Path, table: str) -> pa.Table:
    """Every partition of `table`, cast to schema.public_schema(table), sorted by SORT_KEYS."""
    target = schema.public_schema(table)
    parts = [
        _conform(pq.ParquetFile(f).read(use_threads=False), target)
        for f in partition_files(public_root, table)
    ]
    merged = pa.concat_tables(parts) if parts else target.empty_table()
    return merged.sort_by([(c, "ascending") for c in SORT_KEYS[table]]).combine_chunks()


def public_row_counts(public_root: str | Path) -> dict[str, int]:
    """Rows of each release table in the public layer, from the Parquet footers."""
    return {
        table: sum(pq.ParquetFile(f).metadata.num_rows for f in partition_files(public_root, table))
        for table in RELEASE_TABLES
    }


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Exactly the public columns, in order and typed; a column an older writer did not write
    becomes nulls (as in the warehouse), never an error."""
    columns = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target.remove_metadata()).cast(target)
