"""Reading a batch of files into Arrow tables; runs in the main process or a pool worker."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.jsonl import Accounting, iter_records, open_log
from tracelab_pipeline.formats.result import FileResult
from tracelab_pipeline.normalize.tables import CRASH_PREFIX
from tracelab_pipeline.schema import TABLES

# Hidden column naming the input file a row came from, so duplicates can be dropped per file.
FILE_COLUMN = "_file"
ROW_TABLES = ("steps", "tool_calls", "timing_events")


@dataclass
class FileInfo:
    """What the merge step needs to know about one file besides its rows."""

    index: int
    source_file: str
    accounting: dict
    # The thread the file was being written for: the thread of its last step. Replayed or
    # copied history (resumes, forks, sub-agent replays) precedes a file's own steps.
    own_session_id: str | None = None


@dataclass
class BatchResult:
    files: list[FileInfo] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)


def read_batch(batch: list[tuple[int, str]], contributor: str) -> BatchResult:
    """Read each (index, path) and return its rows as tables tagged with the file index."""
    parts: dict[str, list[pa.Table]] = {name: [] for name in (*ROW_TABLES, "rejected_records")}
    files = []
    for index, path in batch:
        result, tables_of_file = read_one(path, contributor)
        for name, table in tables_of_file.items():
            tag = pa.array([index] * table.num_rows, pa.int32())
            parts[name].append(table.append_column(FILE_COLUMN, tag))
        if result.accounting.rejected:
            parts["rejected_records"].append(
                pa.Table.from_pylist(result.accounting.rejected, schema=TABLES["rejected_records"])
            )
        files.append(
            FileInfo(index, result.source_file, result.accounting_row(), _own_session(result))
        )
    tables = {}
    for name, tables_of_files in parts.items():
        schema = TABLES[name]
        if name in ROW_TABLES:
            schema = schema.append(pa.field(FILE_COLUMN, pa.int32(), nullable=False))
        tables[name] = (
            pa.concat_tables(tables_of_files) if tables_of_files else schema.empty_table()
        )
    return BatchResult(files, tables)


def read_one(path: str, contributor: str) -> tuple[FileResult, dict[str, pa.Table]]:
    """Read one file into typed tables.

    read_log never raises by contract, and its rows should fit the schema; if either fails
    anyway, the file's lines are still accounted for and the run goes on.
    """
    try:
        result = read_log(path, contributor)
        tables = {
            name: pa.Table.from_pylist(getattr(result, name), schema=TABLES[name])
            for name in ROW_TABLES
            if getattr(result, name)
        }
        return result, tables
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        reason = (
            f"{CRASH_PREFIX}: {type(exc).__name__}: {str(exc)[:200]} "
            f"({Path(where.filename).name}:{where.lineno})"
        )
        return crashed_file(path, contributor, reason), {}


def crashed_file(path: str, contributor: str, reason: str) -> FileResult:
    """Reject every line of a file its reader crashed on, with the crash as the reason."""
    acc = Accounting(path, contributor)
    try:
        with open_log(path) as f:
            for line_number, _ in iter_records(f, acc):
                acc.reject(line_number, reason, None)
    except (OSError, EOFError, ValueError) as exc:
        reason = f"{reason}; then cannot read: {exc}"
    return FileResult(path, None, acc, error=reason)


def _own_session(result: FileResult) -> str | None:
    if not result.steps:
        return None
    last = max(result.steps, key=lambda s: s.get("source_line") or 0)
    return last.get("session_id")
