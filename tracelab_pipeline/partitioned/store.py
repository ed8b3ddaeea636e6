"""Layout of the private layer: `<private>/<table>/contributor=<c>/month=<YYYY-MM>/part.parquet`.

Each file is written to a temporary name and renamed into place, so a reader sees either the
old partition or the new one. A small manifest (`<private>/_inputs/...json`) remembers which
landed files (by digest) the partition was built from, so a sweep can tell stale partitions.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline.schema import TABLES, conform

TABLE_NAMES = ("steps", "tool_calls", "timing_events", "ingest_accounting", "rejected_records")
# LZ4 without statistics, for both layers: zstd sets up a compression context for every column
# chunk of these small files (5 tables per partition, ~1,500 files per paper-preset run), and
# every file is read again whole (no reader filters on min/max). Paper preset, CPU: private
# write 4.8 -> 3.1 s, read 2.4 -> 1.6 s, for 106 -> 142 MB; public write 30 % less, 68 -> 117
# MB (docs/privacy.md, fifth and sixth rounds). Files written with zstd before stay readable.
COMPRESSION = "lz4"
# Columns worth a Parquet dictionary: few distinct values per file. Ids and pseudonyms are
# mostly distinct, and a dictionary tried on them costs CPU to write and to read (and bytes).
DICTIONARY_COLUMNS = frozenset(
    (
        "contributor",
        "provider",
        "project",
        "cwd",
        "git_branch",
        "source_file",
        "model",
        "client_version",
        "stop_reason",
        "trigger",
        "first_input_event_type",
        "first_event_type",
        "tool_name",
        "command_signature",
        "internal_latency_source",
        "event_type",
        "source",
        "format",
        "reason",
    )
)


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """One file of either layer, written as COMPRESSION and DICTIONARY_COLUMNS say."""
    pq.write_table(
        table,
        path,
        compression=COMPRESSION,
        use_dictionary=[c for c in table.column_names if c in DICTIONARY_COLUMNS],
        write_statistics=False,
    )


def partition_dir(root: str | Path, table: str, contributor: str, month: str) -> Path:
    return Path(root) / table / f"contributor={contributor}" / f"month={month}"


def manifest_path(root: str | Path, contributor: str, month: str) -> Path:
    return Path(root) / "_inputs" / f"contributor={contributor}" / f"month={month}.json"


def write_partition(
    root: str | Path, contributor: str, month: str, tables: dict[str, pa.Table], inputs: dict
) -> dict[str, Path]:
    """Replace every table of one partition, then its manifest (written last: a crash midway
    leaves the old manifest, so the partition still counts as stale and gets rebuilt)."""
    written = {}
    for name in TABLE_NAMES:
        table = tables[name].select(TABLES[name].names).cast(TABLES[name])
        final = partition_dir(root, name, contributor, month) / "part.parquet"
        written[name] = _atomic(final, lambda tmp, t=table: write_parquet(t, tmp))
    data = json.dumps(inputs, sort_keys=True, indent=1).encode()
    _atomic(manifest_path(root, contributor, month), lambda tmp: tmp.write_bytes(data))
    return written


def read_partition(
    root: str | Path, contributor: str, month: str, columns: dict[str, tuple] | None = None
) -> dict[str, pa.Table]:
    """Every table of a partition, typed as schema.py says; with `columns` ({table: names}),
    only those tables and columns (a check that judges one column need not read them all)."""
    wanted = columns or {name: tuple(TABLES[name].names) for name in TABLE_NAMES}
    out = {}
    for name, names in wanted.items():
        path = partition_dir(root, name, contributor, month) / "part.parquet"
        if not path.exists():  # Arrow's error does not name the file
            raise FileNotFoundError(errno.ENOENT, "no private partition table", str(path))
        parquet = pq.ParquetFile(path)
        # A partition written before a nullable column was added lacks it (schema.conform).
        # (schema_arrow converts the Parquet schema anew on every access: once per file, not
        # once per column, or it cost as much as reading the data)
        available = set(parquet.schema_arrow.names)
        present = [c for c in names if c in available]
        # One thread per file: for these small files Arrow's thread pool doubles the CPU time.
        table = parquet.read(columns=present, use_threads=False).select(present)
        target = pa.schema([TABLES[name].field(c) for c in names])
        if len(present) < len(names):
            table = conform(table, target, str(path))
        out[name] = table if table.schema == target else table.cast(target)
    return out


def read_manifest(root: str | Path, contributor: str, month: str) -> dict | None:
    path = manifest_path(root, contributor, month)
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _atomic(final: Path, write) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final
