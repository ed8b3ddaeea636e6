"""normalize_files: many raw log files -> one set of normalized tables (normalize_streamed:
the same tables streamed to Parquet files or TraceLab round JSONL)."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import pyarrow as pa

from tracelab_pipeline.normalize.dedup import KEY_COLUMNS, plan_merge
from tracelab_pipeline.normalize.tables import (
    CRASH_PREFIX,
    NormalizedTables,
    ParquetSink,
    summarize,
)
from tracelab_pipeline.normalize.worker import (
    FILE_COLUMN,
    ROW_TABLES,
    BatchResult,
    FileInfo,
    crashed_file,
    read_and_spill,
    read_batch,
)
from tracelab_pipeline.schema import TABLES, to_table

# A pool task reads files until about this many bytes, so small files do not each pay a round trip
# and big ones still spread over the workers.
BATCH_BYTES = 16 * 2**20
BATCH_FILES = 64
# Workers fork from a server that already imported these (read_log imports its readers lazily,
# and pyarrow's from_pylist pulls in pandas: ~0.7 s of CPU per fresh process otherwise).
PRELOAD = [
    "pandas",
    "tracelab_pipeline.normalize.worker",
    "tracelab_pipeline.formats.claude_code",
    "tracelab_pipeline.formats.codex",
    "tracelab_pipeline.formats.tracelab_rounds",
]


def normalize_files(
    paths: Iterable[str | Path],
    contributor: str = "local",
    *,
    workers: int = 1,
    progress: bool = False,
    file_sha256: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
) -> NormalizedTables:
    """Read every file and merge the rows into deduplicated tables.

    Files are processed in sorted path order and merged the same way, so the result does not
    depend on the order of `paths`. `file_sha256` (source path -> hash), when the caller already
    knows the hashes (the landing layer does), fills `ingest_accounting.file_sha256`; it is not
    computed here, to spare a second pass over every byte. `origins` (source path -> the path
    the client wrote it under) matters for renamed copies such as landed objects: a Claude
    sub-agent transcript is recognized by its `<session>/subagents/agent-<id>.jsonl` path.
    """
    ordered = sorted({str(p) for p in paths})
    indexed = list(enumerate(ordered))
    start = time.perf_counter()
    known = {str(k): str(v) for k, v in (origins or {}).items()}
    read = partial(read_batch, contributor=contributor, origins=known)
    results = list(_read_all(indexed, contributor, max(1, workers), progress, read))
    read_done = time.perf_counter()
    tables = _merge(ordered, results, file_sha256 or {})
    tables.stats = {
        "read_seconds": read_done - start,
        "read_cpu_seconds": sum(r.cpu_seconds for r in results),
        "read_cpu_seconds_by_process": _cpu_by_process(results),
        "merge_seconds": time.perf_counter() - read_done,
        "workers": workers,
    }
    return tables


def normalize_to_parquet(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    contributor: str = "local",
    *,
    workers: int = 1,
    progress: bool = False,
) -> dict:
    """`normalize_files`, written to `<out_dir>/<table>.parquet` without holding the corpus
    (normalize_streamed). Returns `NormalizedTables.summary()`'s dict."""
    out = Path(out_dir)
    return normalize_streamed(
        paths, ParquetSink(out), out, contributor, workers=workers, progress=progress
    )


def normalize_streamed(
    paths: Iterable[str | Path],
    sink,
    work_dir: str | Path,
    contributor: str = "local",
    *,
    workers: int = 1,
    progress: bool = False,
) -> dict:
    """`normalize_files`, handed to `sink` a batch at a time instead of held in memory.

    `sink` is a context manager with `write_rows({table: rows})` for the step, tool-call and
    event rows of a batch of files (a step's tool calls and events are in its batch) and
    `write(table, rows)` for the rejected records and the accounting: tables.ParquetSink, or
    formats.tracelab_rounds.RoundsSink. Each batch's tables wait on disk (a temporary
    directory in `work_dir`), and the key columns of the steps (dedup.KEY_COLUMNS) go to a
    DuckDB database there, which spills past its memory limit; once every file is read, the
    batches are filtered and written one at a time. Memory is that of the largest batch, not
    of the corpus. The sink gets exactly the rows `normalize_files` returns, in the same order.
    Returns `NormalizedTables.summary()`'s dict.
    """
    ordered = sorted({str(p) for p in paths})
    read = partial(read_batch, contributor=contributor, origins={})
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".normalize-", dir=work) as spill:
        results = []
        for result in _read_all(
            list(enumerate(ordered)), contributor, workers, progress, read, spill
        ):
            if not result.spilled:  # read in this process; if the disk is full, kept in memory
                result.spill(spill)
            results.append(result)
        files = _file_infos(results)
        results.sort(key=_first_file)
        keys = (r.spilled_columns("steps", KEY_COLUMNS) for r in results)
        kept: dict[str, Counter] = {name: Counter() for name in ROW_TABLES}
        first_rejected = []
        with plan_merge(keys, files, spill) as plan, sink:
            offset = 0
            for result in results:
                result.load()
                rows = {}
                for name in ROW_TABLES:
                    table = plan.apply(name, result.tables[name], offset)
                    kept[name].update(_count_per_file(table))
                    rows[name] = _untag(table)
                sink.write_rows(rows)
                offset += result.tables["steps"].num_rows
                rejected = result.tables["rejected_records"]
                if sum(t.num_rows for t in first_rejected) < 5:
                    first_rejected.append(rejected.slice(0, 5))
                sink.write("rejected_records", rejected)
                result.tables = {}
            accounting = _accounting(ordered, files, kept, plan.dropped_per_file, {})
            sink.write("ingest_accounting", accounting)
    counts = {name: sum(per_file.values()) for name, per_file in kept.items()}
    return summarize(accounting, _concat(first_rejected, "rejected_records").slice(0, 5), counts)


def _read_all(
    indexed: list[tuple[int, str]],
    contributor: str,
    workers: int,
    progress: bool,
    read,
    spill: str | None = None,
) -> Iterator[BatchResult]:
    """Read every batch, yielding results as they finish. With `spill` (a directory), pool
    workers leave their tables there (BatchResult.spilled) for the caller to load."""
    bar = _progress_bar(len(indexed), progress)
    try:
        if workers <= 1 or len(indexed) <= 1:
            for batch in _batches(indexed, BATCH_BYTES):
                yield read(batch, on_file=lambda: bar.update(1))
        else:
            yield from _read_in_pool(indexed, contributor, workers, bar, read, spill)
    finally:
        bar.close()


def _read_in_pool(
    indexed, contributor, workers, bar, read: Callable, spill_to: str | None = None
) -> Iterator[BatchResult]:
    """Batches go to a process pool. If a worker dies, every unfinished batch is retried file
    by file; a file that breaks a pool again is retried alone, and if it kills even a pool of
    its own, it is recorded as crashed. If a fresh worker cannot even run an empty task, the
    environment is at fault, not the files: the rest is read in this process."""
    sizes = {path: _size(path) for _, path in indexed}
    # Enough batches that every worker stays busy to the end; the largest go first, so a big
    # batch does not start last and leave the other workers idle.
    target = min(BATCH_BYTES, max(1, sum(sizes.values()) // (workers * 8)))
    pending = sorted(_batches(indexed, target, sizes), key=lambda b: -sum(sizes[p] for _, p in b))
    suspects: list[list[tuple[int, str]]] = []
    # Workers hand their tables back as Arrow files in shared memory (BatchResult.spill) when
    # there is room for all of them; whatever a dead worker left behind goes with the directory.
    spill_dir = nullcontext(spill_to) if spill_to else _spill_dir(sum(sizes.values()))
    load = spill_to is None
    with spill_dir as spill:
        while pending:
            broken = yield from _run_pool(pending, workers, bar, read, spill, load)
            if broken and not _pool_runs():
                # Not the files: no worker can run anything here. Losing the pool must not
                # lose the files, so they are read in this process instead.
                warnings.warn(POOL_FAILED, RuntimeWarning, stacklevel=2)
                for batch in broken + suspects:
                    yield read(batch, on_file=lambda: bar.update(1))
                return
            pending = [[item] for batch in broken if len(batch) > 1 for item in batch]
            suspects += [batch for batch in broken if len(batch) == 1]
        for batch in suspects:
            if (yield from _run_pool([batch], 1, bar, read, spill, load)):
                index, path = batch[0]
                yield _crashed_batch(index, path, contributor)
                bar.update(1)


SHM = "/dev/shm"


def _spill_dir(input_bytes: int):
    """A temporary directory in shared memory, or a context giving None (tables then travel
    pickled) when there is none or it is too small: the parent keeps every batch's tables
    mapped until the merge, and a full /dev/shm would break other programs. Tables take less
    than the input; twice the input plus 256 MiB must be free."""
    try:
        stat = os.statvfs(SHM)
        free = stat.f_bavail * stat.f_frsize
    except OSError:
        return nullcontext(None)
    if not os.access(SHM, os.W_OK) or free < 2 * input_bytes + 2**28:
        return nullcontext(None)
    return tempfile.TemporaryDirectory(prefix="tracelab-normalize-", dir=SHM)


POOL_FAILED = (
    "normalize: worker processes cannot run here, reading in this process instead (a script "
    "that calls normalize_files with workers > 1 needs an `if __name__ == '__main__':` guard: "
    "each worker imports the script again)"
)


def _pool_runs() -> bool:
    """Whether a fresh worker can run an empty task: if not, the files are not to blame."""
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=_context()) as pool:
            return pool.submit(os.getpid).result() > 0
    except BrokenProcessPool:
        return False


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _run_pool(batches, workers, bar, read, spill, load=True) -> Generator[BatchResult, None, list]:
    """Yield the result of every batch that finished; return the batches lost to a dead worker."""
    broken = []
    ctx = _context()
    with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=ctx) as pool:

        def submit(batch):
            if spill is None:
                return pool.submit(read, batch)
            return pool.submit(read_and_spill, batch, read, spill)

        futures = {submit(batch): batch for batch in batches}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                batch = futures.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(batch)
                    continue
                if load:
                    result.load()
                bar.update(len(batch))
                yield result
    return broken


def _crashed_batch(index: int, path: str, contributor: str) -> BatchResult:
    result = crashed_file(path, contributor, f"{CRASH_PREFIX}: the worker process died")
    row = result.accounting_row()
    tables = {name: _tagged_schema(name).empty_table() for name in ROW_TABLES}
    tables["rejected_records"] = to_table("rejected_records", result.accounting.rejected)
    return BatchResult([FileInfo(index, path, row)], tables)


def _batches(
    indexed: list[tuple[int, str]], target: int, sizes: dict[str, int] | None = None
) -> list[list[tuple[int, str]]]:
    """Consecutive files, about `target` bytes (at most BATCH_FILES files) per batch."""
    batches, current, current_bytes = [], [], 0
    for item in indexed:
        current.append(item)
        current_bytes += sizes[item[1]] if sizes else _size(item[1])
        if current_bytes >= target or len(current) >= BATCH_FILES:
            batches.append(current)
            current, current_bytes = [], 0
    if current:
        batches.append(current)
    return batches


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _merge(
    ordered: list[str], results: list[BatchResult], file_sha256: Mapping[str, str]
) -> NormalizedTables:
    files = _file_infos(results)
    results.sort(key=_first_file)

    def gather(name: str) -> pa.Table:
        return _concat([r.tables[name] for r in results], name)

    steps = gather("steps")
    with plan_merge([steps], files) as plan:
        tables = {name: plan.apply(name, gather(name)) for name in ROW_TABLES}
    kept = {name: _count_per_file(tables[name]) for name in ("steps", "tool_calls")}
    return NormalizedTables(
        steps=_untag(tables["steps"]),
        tool_calls=_untag(tables["tool_calls"]),
        timing_events=_untag(tables["timing_events"]),
        ingest_accounting=_accounting(ordered, files, kept, plan.dropped_per_file, file_sha256),
        rejected_records=gather("rejected_records"),
    )


def _file_infos(results: list[BatchResult]) -> dict[int, FileInfo]:
    return {info.index: info for result in results for info in result.files}


def _first_file(result: BatchResult) -> int:
    # Batches finish in any order; rows are put back in file order.
    return min((f.index for f in result.files), default=-1)


def _concat(parts: list[pa.Table], name: str) -> pa.Table:
    parts = [part for part in parts if part.num_rows]
    if parts:
        return pa.concat_tables(parts)
    schema = _tagged_schema(name) if name in ROW_TABLES else TABLES[name]
    return schema.empty_table()


def _accounting(
    ordered: list[str],
    files: dict[int, FileInfo],
    kept: dict[str, Counter],
    dropped: Counter,
    file_sha256: Mapping[str, str],
) -> pa.Table:
    rows = []
    for index in range(len(ordered)):
        row = dict(files[index].accounting)
        row["steps"] = kept["steps"][index]
        row["duplicate_steps"] = dropped[index]
        row["tool_calls"] = kept["tool_calls"][index]
        row["file_sha256"] = row.get("file_sha256") or file_sha256.get(row["source_file"])
        rows.append(row)
    return to_table("ingest_accounting", rows)


def _cpu_by_process(results: list[BatchResult]) -> dict[int, float]:
    cpu: Counter = Counter()
    for result in results:
        cpu[result.pid] += result.cpu_seconds
    return dict(cpu)


def _tagged_schema(name: str) -> pa.Schema:
    return TABLES[name].append(pa.field(FILE_COLUMN, pa.int32(), nullable=False))


def _untag(table: pa.Table) -> pa.Table:
    return table.drop_columns([FILE_COLUMN])


def _count_per_file(table: pa.Table) -> Counter:
    if table.num_rows == 0:
        return Counter()
    counts = table.column(FILE_COLUMN).value_counts()
    values, numbers = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
    return Counter(dict(zip(values, numbers, strict=True)))


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    # disable=None: shown on a terminal, silent in logs and tests.
    return tqdm(total=total, unit="file", desc="normalize", disable=None if enabled else True)
