"""Merging the rows of many files: one copy of every step, session start over the root session.

The same step shows up in several files when a session was resumed, forked or replayed into a
sub-agent's file, or when one file was collected twice: with the same `step_id`, or, for Claude
Code, with the same API message id and input under another session (history a resumed log
copies under its new session id, a side question replaying its parent's messages; TraceLab
counts these twice, its bug B2). Exactly one copy is kept,
chosen only from the rows themselves and the file paths, so the result does not depend on the
order the files were given in.

The decisions need only a few columns of every step (`KEY_COLUMNS`): `plan_merge` makes them
from those, and `MergePlan.apply` then filters any slice of the tables, so a run can stream the
rest batch by batch. The keys themselves go to DuckDB, which spills them to disk past a memory
limit: a corpus of any number of steps is planned in bounded memory.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.normalize.worker import FILE_COLUMN, FileInfo
from tracelab_pipeline.schema import TABLES, TS

TIME_COLUMNS = ("input_ready_at", "first_output_at", "usage_at")
KEY_COLUMNS = (
    "step_id",
    "session_id",
    "round_id",
    "input_tokens_total",
    FILE_COLUMN,
    "contributor",
    "provider",
    "root_session_id",
    "session_started_at",
    "source_line",
    "step_index",
    *TIME_COLUMNS,
)
ROW = "_row"  # a step's position among all steps of the run, in file order
COPY = "_copy"  # what copies of one step share (_copy_keys)
MEMORY_LIMIT = "128MB"

# The plan is made one hash partition of the copy keys at a time (every copy of a step is in
# the same one), so each query holds at most about KEYS_PER_PART keys whatever the corpus size:
# at a tight memory limit, DuckDB 2.0's window operator failed with out-of-memory rather than
# spilling to disk (benchmarks/normalize.py --plan-steps measures the plan's peak memory).
KEYS_PER_PART = 1_000_000
_PART = f"hash({COPY}) % $parts = $part"

_THREADS = f"""
CREATE TEMP TABLE threads AS
SELECT {FILE_COLUMN}, session_id, count(*) AS steps FROM keys GROUP BY ALL
"""
_ENDS = """
CREATE TEMP TABLE session_ends AS
SELECT session_id, max(greatest(input_ready_at, first_output_at, usage_at)) AS ended
FROM keys GROUP BY ALL
"""


# Preference among copies of a step: the file whose own thread the step belongs to (replayed
# history sits in other threads' files), then a raw log over a TraceLab round export (which
# belongs to no thread and lacks fields), then a main thread over a sub-agent's (a side
# question replays its parent's calls in its own thread, then adds its answer), then the
# session that ended first (a resume copying history under its new session id continues a
# session that had ended), then the file holding more of that thread's steps (of one
# session: the longer version), then the smaller path. Within one file a repeated step_id
# keeps its first row. A dropped copy's tool calls and events go with it when its file or
# step_id differs from the kept one's. Copies are matched by step_id first (the same step in
# two files, whatever usage each kept), then what is left by _copy_keys: one pass per key,
# each split by a hash of its key.
def _dropped_sql(key: str) -> str:
    return f"""
INSERT INTO dropped
WITH part AS (
    SELECT k.{COPY}, k.step_id, k.session_id, k.root_session_id, k.{FILE_COLUMN}, k.{ROW}
    FROM keys k ANTI JOIN dropped USING ({ROW})
    WHERE hash(k.{key}) % $parts = $part
),
repeated AS (SELECT {key} FROM part GROUP BY {key} HAVING count(*) > 1),
ranked AS (
    SELECT c.{COPY}, c.step_id, c.{FILE_COLUMN}, c.{ROW},
        row_number() OVER copy_order AS copy_rank,
        first_value(c.{FILE_COLUMN}) OVER copy_order AS kept_file,
        first_value(c.step_id) OVER copy_order AS kept_step
    FROM part c SEMI JOIN repeated USING ({key})
    JOIN files f USING ({FILE_COLUMN})
    JOIN threads t USING ({FILE_COLUMN}, session_id)
    JOIN session_ends e USING (session_id)
    WINDOW copy_order AS (
        PARTITION BY c.{key}
        ORDER BY c.session_id IS DISTINCT FROM f.own_session_id, f.is_export,
            c.session_id IS DISTINCT FROM c.root_session_id, e.ended NULLS LAST, t.steps DESC,
            f.source_file, c.{ROW}
    )
)
SELECT {COPY}, step_id, {FILE_COLUMN}, {ROW},
    {FILE_COLUMN} <> kept_file OR step_id <> kept_step AS separable
FROM ranked WHERE copy_rank > 1
"""


# Every root session's start: the earliest session_started_at of its kept rows. Sub-agent
# threads come from their own files, so each reader only knows its file's first timestamp; the
# partition month must follow the root session's start for all of them. When no row of a root
# session has a start, its earliest step time is used (LEAST skips nulls).
#
# A reader's start is the first record of that root session in its file. When the file's first
# step of the root (by line) was dropped as a copy, that record was copied history: a resume
# that copies the earlier session's calls under its new session id starts its file with them,
# and no single file can tell them from its own. Such a file's rows then count by the time of
# their first kept (own) step instead: when its input was ready, i.e. the prompt that resumed
# the session. Per partition, then over the partitions' minima.
_COPIED_HEADS = f"""
CREATE TEMP TABLE copied_heads AS
SELECT {FILE_COLUMN}, contributor, provider, root_session_id
FROM (
    SELECT {FILE_COLUMN}, contributor, provider, root_session_id,
        first({ROW} ORDER BY source_line NULLS LAST, {ROW}) AS {ROW}
    FROM keys GROUP BY ALL
) SEMI JOIN dropped USING ({ROW})
"""
_PARTIAL_STARTS = f"""
INSERT INTO partial_starts
SELECT contributor || '\x1f' || provider || '\x1f' || root_session_id AS key,
    min(session_started_at) FILTER (WHERE h.{FILE_COLUMN} IS NULL) AS start,
    min(least(input_ready_at, first_output_at, usage_at)) AS time,
    min(least(input_ready_at, first_output_at, usage_at))
        FILTER (WHERE h.{FILE_COLUMN} IS NOT NULL) AS own_time
FROM (FROM keys WHERE {_PART}) k ANTI JOIN (FROM dropped WHERE {_PART}) USING ({ROW})
LEFT JOIN copied_heads h USING ({FILE_COLUMN}, contributor, provider, root_session_id)
GROUP BY key
"""
# A thread that lost copies is numbered again from 0 over its kept steps, in the order the rest
# of the pipeline reads a thread (O1: step_index, source_line, step_id): a resume that copied
# history under its new session id would otherwise start its own steps at the number of
# copies. Only rows whose number changes are stored; threads that lost nothing keep theirs.
_RENUMBERED = f"""
CREATE TEMP TABLE renumbered AS
WITH hit AS (
    SELECT DISTINCT k.contributor, k.provider, k.session_id
    FROM keys k SEMI JOIN dropped USING ({ROW})
),
kept AS (
    SELECT k.{ROW}, k.step_index AS old_index,
        row_number() OVER (
            PARTITION BY k.contributor, k.provider, k.session_id
            ORDER BY k.step_index, k.source_line NULLS LAST, k.step_id, k.{ROW}
        ) - 1 AS step_index
    FROM (keys k SEMI JOIN hit USING (contributor, provider, session_id))
    ANTI JOIN dropped USING ({ROW})
)
SELECT {ROW}, step_index FROM kept WHERE step_index <> old_index
"""
_STARTS = """
SELECT key, coalesce(least(min(start), min(own_time)), min(time)) AS start
FROM partial_starts GROUP BY key
"""


class MergePlan:
    """Which rows to keep and each root session's start. Close it (or use `with`) when done."""

    def __init__(self, con, starts: pa.Table, dropped_per_file: Counter):
        self.con = con
        self.starts = starts  # root-session key -> start: one row per session, not per step
        self.dropped_per_file = dropped_per_file

    def __enter__(self) -> MergePlan:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    def apply(self, name: str, table: pa.Table, offset: int = 0) -> pa.Table:
        """`table` (rows of table `name` with FILE_COLUMN) with the plan applied; for steps,
        `offset` is the position of its first row among all steps of the run."""
        if table.num_rows == 0:
            return table
        if name == "steps":
            if self.dropped_per_file:
                table = self._renumber(table, offset)
                table = table.filter(self._keep(offset, table.num_rows))
            return _set_session_start(table, self.starts)
        if not self.dropped_per_file:
            return table
        files = pc.min_max(table.column(FILE_COLUMN))
        # A repeat inside the kept file under the kept step_id cannot be told apart from the
        # kept step by its tool calls and events; they stay with the kept copy.
        drop = self.con.sql(
            f"SELECT DISTINCT {FILE_COLUMN}::VARCHAR || '\x1f' || step_id AS key FROM dropped"
            f" WHERE separable AND {FILE_COLUMN} BETWEEN ? AND ?",
            params=[files["min"].as_py(), files["max"].as_py()],
        ).to_arrow_table()
        if drop.num_rows == 0:
            return table
        return table.filter(pc.invert(pc.is_in(_row_keys(table), value_set=drop.column("key"))))

    def _renumber(self, steps: pa.Table, offset: int) -> pa.Table:
        """`steps` (before the filter) with their thread's new step_index where it changed."""
        new = self.con.execute(
            f"SELECT {ROW}, step_index FROM renumbered WHERE {ROW} >= ? AND {ROW} < ?",
            [offset, offset + steps.num_rows],
        ).fetchnumpy()
        if len(new[ROW]) == 0:
            return steps
        column = steps.schema.get_field_index("step_index")
        index = steps.column(column).to_numpy().copy()
        index[np.asarray(new[ROW], dtype=np.int64) - offset] = new["step_index"]
        return steps.set_column(column, steps.schema.field(column), pa.array(index, pa.int64()))

    def _keep(self, offset: int, length: int) -> np.ndarray:
        rows = self.con.execute(
            f"SELECT {ROW} FROM dropped WHERE {ROW} >= ? AND {ROW} < ?", [offset, offset + length]
        ).fetchnumpy()[ROW]
        keep = np.ones(length, dtype=bool)
        keep[np.asarray(rows, dtype=np.int64) - offset] = False
        return keep


def plan_merge(
    key_batches: Iterable[pa.Table], files: dict[int, FileInfo], work_dir: str | None = None
) -> MergePlan:
    """The plan for the steps in `key_batches`, tables holding at least KEY_COLUMNS (every step
    of the run, in file order). With `work_dir`, the keys are stored there and memory stays
    bounded; without, they are read where they are, in memory, and if no step_id repeats (a
    partition's usual case) the session starts are computed in Arrow: opening a database costs
    ~7-10 ms."""
    if work_dir is None:
        keys = _with_positions(key_batches)
        if all(
            pc.count_distinct(keys.column(c)).as_py() == keys.num_rows for c in ("step_id", COPY)
        ):
            return MergePlan(None, _session_starts(keys), Counter())
        con = _memory_database().cursor()
        con.register("keys", keys)
        rows = keys.num_rows
    else:
        con = _connect(work_dir)
    try:
        if work_dir is not None:
            rows = _store_keys(con, key_batches)
        if rows == 0:
            return MergePlan(con, _session_starts(_empty_keys()), Counter())
        infos = list(files.values())
        file_table = pa.table(
            {
                FILE_COLUMN: pa.array([f.index for f in infos], pa.int32()),
                "source_file": [f.source_file for f in infos],
                "own_session_id": pa.array([f.own_session_id for f in infos], pa.string()),
                "is_export": pa.array([f.is_export for f in infos], pa.bool_()),
            }
        )
        con.register("files", file_table)
        con.execute(_THREADS)
        con.execute(_ENDS)
        con.execute(
            f"CREATE TEMP TABLE dropped ({COPY} VARCHAR, step_id VARCHAR, {FILE_COLUMN} INTEGER,"
            f" {ROW} BIGINT, separable BOOLEAN)"
        )
        con.execute(
            "CREATE TEMP TABLE partial_starts"
            " (key VARCHAR, start TIMESTAMPTZ, time TIMESTAMPTZ, own_time TIMESTAMPTZ)"
        )
        parts = -(-rows // KEYS_PER_PART)
        for key in ("step_id", COPY):
            sql = _dropped_sql(key)
            for part in range(parts):
                con.execute(sql, {"parts": parts, "part": part})
        con.execute(_COPIED_HEADS)
        con.execute(_RENUMBERED)
        for part in range(parts):
            con.execute(_PARTIAL_STARTS, {"parts": parts, "part": part})
        counts = con.execute(f"SELECT {FILE_COLUMN}, count(*) FROM dropped GROUP BY ALL")
        dropped_per_file = Counter(dict(counts.fetchall()))
        starts = con.sql(_STARTS).to_arrow_table()
        starts = pa.table({"key": starts.column("key"), "start": starts.column("start").cast(TS)})
        return MergePlan(con, starts, dropped_per_file)
    except BaseException:
        con.close()
        raise


def _connect(work_dir: str):
    import duckdb

    config = {
        "memory_limit": MEMORY_LIMIT,
        "temp_directory": str(Path(work_dir) / "duckdb.tmp"),
        "preserve_insertion_order": False,
    }
    return duckdb.connect(str(Path(work_dir) / "keys.duckdb"), config=config)


@functools.cache
def _memory_database_of(pid: int):
    import duckdb

    # Opening a database costs ~7-10 ms, more than planning a partition's steps: one per
    # process (a forked child must not use its parent's), a connection (cursor) per plan.
    config = {"preserve_insertion_order": False, "temp_directory": "", "threads": 1}
    return duckdb.connect(":memory:", config=config)


def _memory_database():
    return _memory_database_of(os.getpid())


def _positioned(batches: Iterable[pa.Table]) -> Iterable[pa.Table]:
    """The key columns of each batch and each row's position among all of them."""
    offset = 0
    for batch in batches:
        positions = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
        keys = batch.select(list(KEY_COLUMNS))
        yield keys.append_column(ROW, positions).append_column(COPY, _copy_keys(keys))
        offset += batch.num_rows


def _with_positions(batches: Iterable[pa.Table]) -> pa.Table:
    parts = [part for part in _positioned(batches) if part.num_rows]
    return pa.concat_tables(parts) if parts else _empty_keys()


def _store_keys(con, batches: Iterable[pa.Table]) -> int:
    """Store the keys in table `keys`; returns how many rows."""
    rows = 0
    for part in _positioned(batches):  # `part` is read by the SQL below
        con.execute("CREATE TABLE IF NOT EXISTS keys AS FROM part LIMIT 0")
        con.execute("INSERT INTO keys FROM part")
        rows += part.num_rows
    return rows


def _empty_keys() -> pa.Table:
    schema = TABLES["steps"].append(pa.field(FILE_COLUMN, pa.int32()))
    keys = schema.empty_table().select(list(KEY_COLUMNS))
    return keys.append_column(ROW, pa.array([], pa.int64())).append_column(
        COPY, pa.array([], pa.string())
    )


def _session_starts(keys: pa.Table) -> pa.Table:
    """_STARTS for keys in which nothing is dropped, computed in Arrow."""
    times = [keys.column(c).cast(pa.int64()) for c in TIME_COLUMNS]
    # Element-wise min has no kernel for zoned timestamps: compared as epoch microseconds.
    step_time = pc.min_element_wise(*times, skip_nulls=True).cast(TS)
    helper = pa.table(
        {"key": _root_keys(keys), "start": keys.column("session_started_at"), "time": step_time}
    )
    grouped = helper.group_by("key").aggregate([("start", "min"), ("time", "min")])
    start = pc.coalesce(grouped.column("start_min"), grouped.column("time_min"))
    return pa.table({"key": grouped.column("key"), "start": start})


def _copy_keys(keys: pa.Table) -> pa.Array:
    """The step_id; for Claude Code the API message id and the input size: one API call, in
    whichever session's thread a log wrote it (a reused message id with another input is
    another call, kept)."""
    claude = pc.equal(keys.column("provider"), "claude")
    call = pc.binary_join_element_wise(
        "claude",
        keys.column("round_id"),
        pc.cast(keys.column("input_tokens_total"), pa.string()),
        "\x1f",
    )
    return pc.if_else(claude, call, keys.column("step_id"))


def _row_keys(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.cast(table.column(FILE_COLUMN), pa.string()), table.column("step_id"), "\x1f"
    )


def _root_keys(steps: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        steps.column("contributor"),
        steps.column("provider"),
        steps.column("root_session_id"),
        "\x1f",
    )


def _set_session_start(steps: pa.Table, starts: pa.Table) -> pa.Table:
    position = pc.index_in(_root_keys(steps), value_set=starts.column("key"))
    column = steps.schema.get_field_index("session_started_at")
    start = pc.take(starts.column("start"), position)
    return steps.set_column(column, steps.schema.field(column), start)
