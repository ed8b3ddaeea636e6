"""The public layer, read one contributor-month partition at a time: the three release tables
of a partition in the public schema and a total order, partitions in a fixed order. A thread
(a session's main chain or a sub-agent) never spans two partitions, so a partition holds
everything the release derives from a thread."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.public_store import PART_FILE, public_partition_dir

RELEASE_TABLES = ("steps", "tool_calls", "timing_events")

# Each key is unique within a contributor (step_id is), so the order within a partition is total.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "steps": ("contributor", "session_id", "step_index", "step_id"),
    "tool_calls": ("contributor", "step_id", "tool_index", "call_id"),
    "timing_events": ("contributor", "step_id", "event_index"),
}


def partition_files(public_root: str | Path, table: str) -> list[Path]:
    """`<public>/<table>/month=*/contributor=*/part.parquet`, sorted (temporary files of a
    publication in progress are hidden names and never match)."""
    return sorted(Path(public_root, table).glob(f"month=*/contributor=*/{PART_FILE}"))


def partitions(public_root: str | Path) -> list[tuple[str, str]]:
    """(contributor pseudonym, month) of every partition of any release table, sorted: the
    release's row order is this order, then SORT_KEYS within a partition."""
    return sorted(
        {
            (
                f.parent.name.removeprefix("contributor="),
                f.parent.parent.name.removeprefix("month="),
            )
            for table in RELEASE_TABLES
            for f in partition_files(public_root, table)
        }
    )


def months(public_root: str | Path) -> list[str]:
    """The months that have a public steps partition, sorted."""
    return sorted(
        {f.parent.parent.name.removeprefix("month=") for f in partition_files(public_root, "steps")}
    )


def read_partition(
    public_root: str | Path, contributor: str, month: str, digests: dict[str, str] | None = None
) -> dict[str, pa.Table]:
    """The release tables of one partition; `digests` receives the SHA-256 of each file read."""
    return {
        t: read_partition_table(public_root, t, contributor, month, digests) for t in RELEASE_TABLES
    }


def read_partition_table(
    public_root: str | Path,
    table: str,
    contributor: str,
    month: str,
    digests: dict[str, str] | None = None,
) -> pa.Table:
    """One partition of `table`, conformed to schema.public_schema(table) (schema.conform: a
    nullable column an older writer did not write becomes nulls), sorted by SORT_KEYS;
    empty when the partition has no file for this table. The file is read once: its digest
    (into `digests[table]`) is that of the very bytes parsed, even if anonymize replaces the
    file meanwhile."""
    target = schema.public_schema(table)
    path = public_partition_dir(public_root, table, month, contributor) / PART_FILE
    if not path.is_file():
        return target.empty_table()
    data = path.read_bytes()
    if digests is not None:
        digests[table] = hashlib.sha256(data).hexdigest()
    part = schema.conform(
        pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False), target, str(path)
    )
    return part.sort_by([(c, "ascending") for c in SORT_KEYS[table]])


def public_row_counts(public_root: str | Path) -> dict[str, int]:
    """Rows of each release table in the public layer, from the Parquet footers."""
    return {
        table: sum(pq.ParquetFile(f).metadata.num_rows for f in partition_files(public_root, table))
        for table in RELEASE_TABLES
    }
