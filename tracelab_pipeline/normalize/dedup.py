"""Merging the rows of many files: one copy of every step, session start over the root session.

The same step (same `step_id`) shows up in several files when a session was resumed, forked or
replayed into a sub-agent's file, or when one file was collected twice. Exactly one copy is kept,
chosen only from the rows themselves and the file paths, so the result does not depend on the
order the files were given in.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.normalize.worker import FILE_COLUMN, FileInfo
from tracelab_pipeline.schema import TS


def drop_duplicate_steps(
    steps: pa.Table,
    others: dict[str, pa.Table],
    files: dict[int, FileInfo],
) -> tuple[pa.Table, dict[str, pa.Table], Counter]:
    """Keep one copy of each step_id; returns the filtered tables and drops per file index.

    Preference among copies: the file whose own thread the step belongs to (replayed history
    sits in other threads' files), then the file holding more of that thread's steps, then the
    smaller path. Within one file a repeated step_id keeps its first row.
    """
    dropped_per_file: Counter = Counter()
    if steps.num_rows == 0:
        return steps, others, dropped_per_file
    counts = pc.value_counts(steps.column("step_id"))
    repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if len(repeated) == 0:
        return steps, others, dropped_per_file

    # Only rows of repeated step_ids are looked at in Python.
    involved_mask = pc.is_in(steps.column("step_id"), value_set=repeated)
    involved_idx = pc.indices_nonzero(involved_mask).to_pylist()
    involved = steps.take(involved_idx).select(["step_id", "session_id", FILE_COLUMN]).to_pylist()
    thread_size = _thread_sizes(steps)

    copies: dict[str, list[tuple[tuple, int, int]]] = defaultdict(list)
    for row_index, row in zip(involved_idx, involved, strict=True):
        file_index = row[FILE_COLUMN]
        info = files[file_index]
        rank = (
            row["session_id"] != info.own_session_id,
            -thread_size[(file_index, row["session_id"])],
            info.source_file,
            row_index,
        )
        copies[row["step_id"]].append((rank, row_index, file_index))

    drop_rows: list[int] = []
    drop_keys: set[tuple[int, str]] = set()
    for step_id, candidates in copies.items():
        candidates.sort()
        kept_file = candidates[0][2]
        for _, row_index, file_index in candidates[1:]:
            drop_rows.append(row_index)
            dropped_per_file[file_index] += 1
            # A repeat inside the kept file shares its step_id with the kept step, so its
            # tool calls and events cannot be told apart; they stay with the kept copy.
            if file_index != kept_file:
                drop_keys.add((file_index, step_id))

    keep = pc.invert(_mark(steps.num_rows, drop_rows))
    steps = steps.filter(keep)
    if drop_keys:
        others = {name: _drop_keys(table, drop_keys) for name, table in others.items()}
    return steps, others, dropped_per_file


def _thread_sizes(steps: pa.Table) -> dict[tuple[int, str], int]:
    grouped = steps.group_by([FILE_COLUMN, "session_id"]).aggregate([("step_id", "count")])
    return {
        (f, s): n
        for f, s, n in zip(
            grouped.column(FILE_COLUMN).to_pylist(),
            grouped.column("session_id").to_pylist(),
            grouped.column("step_id_count").to_pylist(),
            strict=True,
        )
    }


def _mark(length: int, indices: list[int]) -> pa.Array:
    mask = [False] * length
    for i in indices:
        mask[i] = True
    return pa.array(mask, pa.bool_())


def _row_keys(table: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.cast(table.column(FILE_COLUMN), pa.string()), table.column("step_id"), "\x1f"
    )


def _drop_keys(table: pa.Table, drop_keys: set[tuple[int, str]]) -> pa.Table:
    if table.num_rows == 0:
        return table
    value_set = pa.array([f"{f}\x1f{s}" for f, s in sorted(drop_keys)], pa.string())
    return table.filter(pc.invert(pc.is_in(_row_keys(table), value_set=value_set)))


def set_session_start(steps: pa.Table) -> pa.Table:
    """Every thread's session_started_at becomes the earliest one of its root session.

    Sub-agent threads come from their own files, so each reader only knows its file's first
    timestamp; the partition month must follow the root session's start for all of them. When
    no row of a root session has a start, the earliest step time of that root session is used.
    """
    if steps.num_rows == 0:
        return steps
    key = pc.binary_join_element_wise(
        steps.column("contributor"),
        steps.column("provider"),
        steps.column("root_session_id"),
        "\x1f",
    )
    # Element-wise min has no kernel for zoned timestamps: compare as epoch microseconds.
    times = [
        steps.column(c).cast(pa.int64()) for c in ("input_ready_at", "first_output_at", "usage_at")
    ]
    step_time = pc.min_element_wise(*times, skip_nulls=True).cast(TS)
    helper = pa.table(
        {"key": key, "start": steps.column("session_started_at"), "step_time": step_time}
    )
    grouped = helper.group_by("key").aggregate([("start", "min"), ("step_time", "min")])
    position = pc.index_in(key, value_set=grouped.column("key"))
    start = pc.coalesce(
        pc.take(grouped.column("start_min"), position),
        pc.take(grouped.column("step_time_min"), position),
    )
    column = steps.schema.get_field_index("session_started_at")
    return steps.set_column(column, steps.schema.field(column), start)
