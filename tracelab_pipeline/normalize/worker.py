"""Reading a batch of files into Arrow tables; runs in the main process or a pool worker."""

from __future__ import annotations

import contextlib
import os
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.common import gc_paused
from tracelab_pipeline.formats.jsonl import Accounting, feed_records, open_log
from tracelab_pipeline.formats.result import FileResult
from tracelab_pipeline.formats.rows import S_SESSION_ID, S_SOURCE_LINE
from tracelab_pipeline.normalize.columns import ColumnBuffer
from tracelab_pipeline.normalize.tables import CRASH_PREFIX
from tracelab_pipeline.schema import to_table

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
    is_export: bool = False


@dataclass
class BatchResult:
    files: list[FileInfo] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    pid: int = field(default_factory=os.getpid)  # the process that read the batch
    # Table name -> Arrow IPC file holding it, while the tables travel from a pool worker.
    spilled: dict[str, str] = field(default_factory=dict)

    def spill(self, directory: str) -> None:
        """Move the tables into Arrow IPC files in `directory` (a pool worker does this).

        The parent then maps the files instead of receiving the tables pickled through a pipe,
        which cost it (serially) about a tenth of the workers' time; writing a file is also
        cheaper for the worker than pickling. If the files cannot be written (a full or small
        /dev/shm, as in some containers), the tables stay here and travel pickled.
        """
        tag = uuid.uuid4().hex
        paths = {name: os.path.join(directory, f"{tag}.{name}.arrow") for name in self.tables}
        try:
            for name, table in self.tables.items():
                with pa.OSFile(paths[name], "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                    w.write_table(table)
        except OSError:
            for path in paths.values():
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return
        self.spilled = paths
        self.tables = {}

    def spilled_columns(self, name: str, columns) -> pa.Table:
        """Some columns of a spilled table, mapped from its file (the file stays)."""
        if name not in self.spilled:
            return self.tables[name].select(list(columns))
        with pa.memory_map(self.spilled[name]) as source:
            return pa.ipc.open_file(source).read_all().select(list(columns))

    def load(self) -> None:
        """Map spilled tables back (zero-copy) and delete their files; the mapping stays
        valid after the unlink, for as long as the tables live."""
        for name, path in self.spilled.items():
            with pa.memory_map(path) as source:
                self.tables[name] = pa.ipc.open_file(source).read_all()
            os.unlink(path)
        self.spilled = {}


def read_and_spill(batch: list[tuple[int, str]], read: Callable, directory: str) -> BatchResult:
    """Pool task: `read(batch)`, with the tables handed back through files in `directory`."""
    result = read(batch)
    start = time.process_time()
    result.spill(directory)
    result.cpu_seconds += time.process_time() - start  # part of what the pool costs
    return result


def read_batch(
    batch: list[tuple[int, str]],
    contributor: str,
    origins: dict[str, str] | None = None,
    on_file: Callable[[], None] | None = None,
) -> BatchResult:
    """Read each (index, path) and return the rows of all of them as tables tagged with the
    file index. Rows are converted to Arrow once per batch: a call per file costs ~3x more."""
    cpu_start = time.process_time()
    # A batch's column values (hundreds of thousands of objects) are held until the end; the
    # cyclic collector would rescan them again and again (~20% of the run) to find no garbage:
    # readers build no cycles that outlive a file. Memory stays bounded by the batch size.
    files: list[FileInfo] = []
    with gc_paused():
        try:
            tables = _read_columns(batch, contributor, origins or {}, files, on_file)
        except Exception:  # noqa: BLE001 - some file's rows do not fit the schema
            # Rare (a reader bug): read the batch again keeping every row, to find and set
            # aside the files at fault. Readers are deterministic, so the rows are the same.
            for _ in batch[len(files) :]:
                if on_file:
                    on_file()
            files, tables = _read_rows(batch, contributor, origins or {})
    return BatchResult(files, tables, time.process_time() - cpu_start)


def _read_columns(batch, contributor, origins, files: list[FileInfo], on_file) -> dict:
    """The fast way: each file's rows go into the batch's columns (columns.py) as soon as it is
    read, and are freed then; appends to `files` per file read; raises if any row does not fit
    the schema."""
    buffers = {name: ColumnBuffer(name, FILE_COLUMN) for name in ROW_TABLES}
    rejected = []
    for index, path in batch:
        result = read_one(path, contributor, origins.get(path))
        for name, buffer in buffers.items():
            buffer.add(result.rows[name], index)
        files.append(_file_info(index, result))
        rejected += result.accounting.rejected
        if on_file:
            on_file()
    tables = {name: buffer.table() for name, buffer in buffers.items()}
    tables["rejected_records"] = to_table("rejected_records", rejected)
    return tables


def _read_rows(batch, contributor, origins) -> tuple[list[FileInfo], dict]:
    """The slow way: every row of the batch kept, so a file whose rows do not fit the schema
    can be found and rejected whole (its reader is at fault) while the others are kept."""
    results = [(index, read_one(path, contributor, origins.get(path))) for index, path in batch]
    try:
        tables = _convert(results)
    except Exception:  # noqa: BLE001
        results = [(index, _fit_schema(result)) for index, result in results]
        tables = _convert(results)
    rejected = [row for _, result in results for row in result.accounting.rejected]
    tables["rejected_records"] = to_table("rejected_records", rejected)
    return [_file_info(index, result) for index, result in results], tables


def _file_info(index: int, result: FileResult) -> FileInfo:
    own = None if result.is_export else _own_session(result)
    return FileInfo(index, result.source_file, result.accounting_row(), own, result.is_export)


def _convert(results: list[tuple[int, FileResult]]) -> dict[str, pa.Table]:
    tables = {}
    for name in ROW_TABLES:
        rows = [row for _, result in results for row in getattr(result, name)]
        tags = [index for index, result in results for _ in result.rows[name]]
        table = to_table(name, rows)
        tables[name] = table.append_column(FILE_COLUMN, pa.array(tags, pa.int32()))
    return tables


def _fit_schema(result: FileResult) -> FileResult:
    for name in ROW_TABLES:
        try:
            to_table(name, getattr(result, name))
        except Exception as exc:  # noqa: BLE001
            return _crash(result.source_file, result.accounting, exc, f"{name} row: ")
    return result


def read_one(path: str, contributor: str, origin: str | None = None) -> FileResult:
    """read_log never raises by contract; if it does anyway, the file's lines are still
    accounted for and the run goes on."""
    try:
        return read_log(path, contributor, origin) if origin else read_log(path, contributor)
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the run
        return _crash(path, Accounting(path, contributor), exc)


def _crash(path: str, acc: Accounting, exc: Exception, what: str = "") -> FileResult:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    reason = (
        f"{CRASH_PREFIX}: {what}{type(exc).__name__}: {str(exc)[:200]} "
        f"({Path(where.filename).name}:{where.lineno})"
    )
    return crashed_file(path, acc.contributor, reason)


def crashed_file(path: str, contributor: str, reason: str) -> FileResult:
    """Reject every line of a file its reader crashed on, with the crash as the reason."""
    acc = Accounting(path, contributor)
    try:
        with open_log(path) as f:
            feed_records(f, acc, lambda line_number, _: acc.reject(line_number, reason, None))
    except (OSError, EOFError, ValueError) as exc:
        reason = f"{reason}; then cannot read: {exc}"
    return FileResult(path, None, acc, error=reason)


def _own_session(result: FileResult) -> str | None:
    steps = result.rows["steps"]
    if not steps:
        return None
    last = max(steps, key=lambda s: s[S_SOURCE_LINE] or 0)
    return last[S_SESSION_ID]
