"""The normalized tables of one run, and how they are stored."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracelab_pipeline.schema import TABLES

TABLE_NAMES = ("steps", "tool_calls", "timing_events", "ingest_accounting", "rejected_records")


@dataclass
class NormalizedTables:
    """Rows of every normalized table (pyarrow, schemas from tracelab_pipeline.schema)."""

    steps: pa.Table
    tool_calls: pa.Table
    timing_events: pa.Table
    ingest_accounting: pa.Table
    rejected_records: pa.Table
    # How the run went (e.g. reader CPU seconds summed over processes); not stored.
    stats: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def empty(cls) -> NormalizedTables:
        return cls(**{name: TABLES[name].empty_table() for name in TABLE_NAMES})

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    def write_parquet(self, out_dir: str | Path) -> dict[str, Path]:
        """Write `<out_dir>/<table>.parquet` per table; each file appears whole or not at all."""
        with ParquetSink(out_dir) as sink:
            for name, table in self.tables().items():
                sink.write(name, table)
        return sink.written

    @classmethod
    def read_parquet(cls, in_dir: str | Path) -> NormalizedTables:
        src = Path(in_dir)
        loaded = {}
        for name in TABLE_NAMES:
            table = pq.read_table(src / f"{name}.parquet")
            loaded[name] = table.select(TABLES[name].names).cast(TABLES[name])
        return cls(**loaded)

    def summary(self, first_rejected: int = 5) -> dict:
        """Counts a person wants to see after a run (plain Python values)."""
        rows = {name: getattr(self, name).num_rows for name in TABLE_NAMES[:3]}
        return summarize(
            self.ingest_accounting, self.rejected_records.slice(0, first_rejected), rows
        )


def summarize(accounting: pa.Table, first_rejected: pa.Table, rows: dict[str, int]) -> dict:
    """The summary of a run from its accounting, its first rejected records and row counts."""
    acc = accounting.to_pylist()
    by_reason: Counter = Counter()
    ignored: Counter = Counter()
    flagged: Counter = Counter()
    for row in acc:
        by_reason.update(dict(row["rejected_by_reason"]))
        ignored.update(dict(row["ignored_by_type"]))
        flagged.update(dict(row.get("flagged_by_reason") or ()))
    rejected = first_rejected.select(["source_file", "line_number", "reason"]).to_pylist()
    return {
        "files": len(acc),
        "files_by_provider": dict(Counter(_provider(row) for row in acc)),
        "lines_read": sum(row["lines_read"] for row in acc),
        "records_used": sum(row["records_used"] for row in acc),
        "records_ignored": sum(row["records_ignored"] for row in acc),
        "records_rejected": sum(row["records_rejected"] for row in acc),
        "steps": rows["steps"],
        "tool_calls": rows["tool_calls"],
        "timing_events": rows["timing_events"],
        "duplicate_steps": sum(row["duplicate_steps"] for row in acc),
        "ignored_by_type": dict(ignored.most_common()),
        "rejected_by_reason": dict(by_reason.most_common()),
        "flagged_by_reason": dict(flagged.most_common()),
        "first_rejected": [
            f"{r['source_file']}:{r['line_number']}: {r['reason']}" for r in rejected
        ],
        "file_errors": {row["source_file"]: row["error"] for row in acc if row["error"]},
        "unreadable_files": {row["source_file"]: row["error"] for row in acc if is_unreadable(row)},
    }


def _provider(row: dict) -> str:
    # No single provider but steps: a TraceLab round file holding both providers' sessions.
    return row["provider"] or ("mixed" if row["steps"] else "unknown")


class ParquetSink:
    """`<out_dir>/<table>.parquet` for every table, written a slice at a time.

    Each file is written under a temporary name and appears whole, and only when the block
    ends without an error; a table never written is stored empty.
    """

    def __init__(self, out_dir: str | Path):
        self.out = Path(out_dir)
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.written: dict[str, Path] = {}

    def _tmp(self, name: str) -> Path:
        return self.out / f".{name}.parquet.{os.getpid()}.tmp"

    def __enter__(self) -> ParquetSink:
        self.out.mkdir(parents=True, exist_ok=True)
        return self

    def write_rows(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.write(name, table)

    def write(self, name: str, table: pa.Table) -> None:
        writer = self.writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(self._tmp(name), TABLES[name], compression="zstd")
            self.writers[name] = writer
        if table.num_rows:
            writer.write_table(table)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for name in TABLE_NAMES:
                    self.write(name, TABLES[name].empty_table())
            for writer in self.writers.values():
                writer.close()
            if exc_type is None:
                for name in TABLE_NAMES:
                    self.written[name] = final = self.out / f"{name}.parquet"
                    os.replace(self._tmp(name), final)
        finally:
            for name in TABLE_NAMES:
                self._tmp(name).unlink(missing_ok=True)


def is_unreadable(accounting_row: dict) -> bool:
    """The file could not be read at all (missing, unreadable, or the reader crashed on it).

    A file that was read but held only rejected lines (e.g. not a log at all) does not count:
    its lines are accounted for as rejected records.
    """
    error = accounting_row["error"]
    if not error:
        return False
    return accounting_row["lines_read"] == 0 or error.startswith(CRASH_PREFIX)


CRASH_PREFIX = "reader crashed"
