"""Reading a batch of files into Arrow tables; runs in the main process or a pool worker."""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable
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
    cpu_seconds: float = 0.0


def read_batch(
    batch: list[tuple[int, str]],
    contributor: str,
    origins: dict[str, str] | None = None,
    on_file: Callable[[], None] | None = None,
) -> BatchResult:
    """Read each (index, path) and return the rows of all of them as tables tagged with the
    file index. Rows are converted to Arrow once per batch: a call per file costs ~3x more."""
    cpu_start = time.process_time()
    results: list[tuple[int, FileResult]] = []
    # The rows of a batch are hundreds of thousands of small dicts and lists held at once; the
    # cyclic collector would rescan them again and again (~20% of the run) to find no garbage:
    # readers build no cycles that outlive a file. Memory stays bounded by the batch size.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for index, path in batch:
            results.append((index, read_one(path, contributor, (origins or {}).get(path))))
            if on_file:
                on_file()
    finally:
        if collecting:
            gc.enable()
    try:
        tables = _convert(results)
    except Exception:  # noqa: BLE001 - some file's rows do not fit the schema: set it aside
        results = [(index, _fit_schema(result)) for index, result in results]
        tables = _convert(results)
    rejected = [row for _, result in results for row in result.accounting.rejected]
    tables["rejected_records"] = pa.Table.from_pylist(rejected, schema=TABLES["rejected_records"])
    files = [
        FileInfo(index, result.source_file, result.accounting_row(), _own_session(result))
        for index, result in results
    ]
    return BatchResult(files, tables, time.process_time() - cpu_start)


def _convert(results: list[tuple[int, FileResult]]) -> dict[str, pa.Table]:
    tables = {}
    for name in ROW_TABLES:
        rows = [row for _, result in results for row in getattr(result, name)]
        tags = [index for index, result in results for _ in getattr(result, name)]
        table = to_arrow(name, rows)
        tables[name] = table.append_column(FILE_COLUMN, pa.array(tags, pa.int32()))
    return tables


def to_arrow(name: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TABLES[name])


def _fit_schema(result: FileResult) -> FileResult:
    for name in ROW_TABLES:
        try:
            to_arrow(name, getattr(result, name))
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
