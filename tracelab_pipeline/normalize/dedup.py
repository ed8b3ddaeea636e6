"""Merging the rows of many files: one copy of every step, session start over the root session.

The same step (same `step_id`) shows up in several files when a session was resumed, forked or
replayed into a sub-agent's file, or when one file was collected twice. Exactly one copy is kept,
chosen only from the rows themselves and the file paths, so the result does not depend on the
order the files were given in.

The decisions need only a few columns of every step (`KEY_COLUMNS`): `plan_merge` makes them
from those, and `MergePlan.apply` then filters any slice of the tables, so a run can hold just
the key columns of the whole corpus and stream the rest batch by batch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.normalize.worker import FILE_COLUMN, FileInfo
from tracelab_pipeline.schema import TS

_TIMES = ("input_ready_at", "first_output_at", "usage_at")
KEY_COLUMNS = (
    "step_id",
    "session_id",
    FILE_COLUMN,
    "contributor",
    "provider",
    "root_session_id",
    "session_started_at",
    *_TIMES,
)


@dataclass
class MergePlan:
    """Which rows to keep and each root session's start, for the steps in file order."""

    keep: pa.Array | None  # bool per step row (all rows of the run, in file order); None: all
    drop_keys: pa.Array | None  # "<file>\x1f<step_id>" of dropped copies, for the other tables
    starts: pa.Table  # root-session key -> session start
    dropped_per_file: Counter = field(default_factory=Counter)

    def apply(self, name: str, table: pa.Table, offset: int = 0) -> pa.Table:
        """`table` (rows of table `name` with FILE_COLUMN) with the plan applied; for steps,
        `offset` is the position of its first row among all steps of the run."""
        if name == "steps":
            if self.keep is not None:
                table = table.filter(self.keep.slice(offset, table.num_rows))
            return _set_session_start(table, self.starts)
        if self.drop_keys is None or table.num_rows == 0:
            return table
        return table.filter(pc.invert(pc.is_in(_row_keys(table), value_set=self.drop_keys)))


def plan_merge(keys: pa.Table, files: dict[int, FileInfo]) -> MergePlan:
    """The plan for steps whose KEY_COLUMNS are `keys` (every step of the run, in file order)."""
    keep, drop_keys, dropped = _duplicates(keys, files)
    kept = keys if keep is None else keys.filter(keep)
    return MergePlan(keep, drop_keys, _session_starts(kept), dropped)


def _duplicates(steps: pa.Table, files: dict[int, FileInfo]):
    """Keep one copy of each step_id.

    Preference among copies: the file whose own thread the step belongs to (replayed history
    sits in other threads' files), then the file holding more of that thread's steps, then the
    smaller path. Within one file a repeated step_id keeps its first row.
    """
    dropped_per_file: Counter = Counter()
    if steps.num_rows == 0:
        return None, None, dropped_per_file
    counts = pc.value_counts(steps.column("step_id"))
    repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if len(repeated) == 0:
        return None, None, dropped_per_file

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
    keys = pa.array([f"{f}\x1f{s}" for f, s in sorted(drop_keys)], pa.string())
    return keep, keys if len(keys) else None, dropped_per_file


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


def _root_keys(steps: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        steps.column("contributor"),
        steps.column("provider"),
        steps.column("root_session_id"),
        "\x1f",
    )


def _session_starts(steps: pa.Table) -> pa.Table:
    """Every root session's start: the earliest session_started_at of its rows.

    Sub-agent threads come from their own files, so each reader only knows its file's first
    timestamp; the partition month must follow the root session's start for all of them. When
    no row of a root session has a start, the earliest step time of that root session is used.
    """
    if steps.num_rows == 0:
        return pa.table({"key": pa.array([], pa.string()), "start": pa.array([], TS)})
    # Element-wise min has no kernel for zoned timestamps: compare as epoch microseconds.
    times = [steps.column(c).cast(pa.int64()) for c in _TIMES]
    step_time = pc.min_element_wise(*times, skip_nulls=True).cast(TS)
    helper = pa.table(
        {"key": _root_keys(steps), "start": steps.column("session_started_at"), "time": step_time}
    )
    grouped = helper.group_by("key").aggregate([("start", "min"), ("time", "min")])
    start = pc.coalesce(grouped.column("start_min"), grouped.column("time_min"))
    return pa.table({"key": grouped.column("key"), "start": start})


def _set_session_start(steps: pa.Table, starts: pa.Table) -> pa.Table:
    if steps.num_rows == 0:
        return steps
    position = pc.index_in(_root_keys(steps), value_set=starts.column("key"))
    column = steps.schema.get_field_index("session_started_at")
    start = pc.take(starts.column("start"), position)
    return steps.set_column(column, steps.schema.field(column), start)
