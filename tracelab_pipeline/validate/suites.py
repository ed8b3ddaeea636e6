"""Great Expectations suites for the private and public layers, written as code.

This module only *describes* the expectations (plain data derived from schema.py); runner.py
turns them into GX objects, so importing it costs nothing.

Each table's suite has three parts, each validated on its own frame of the same data
(runner.py):
- "schema": the column set and every column's type (`ExpectTableColumnTypesToMatch`, our one
  GX expectation, see runner._custom_expectations), on a frame whose dtypes are the Arrow
  types themselves (`pd.ArrowDtype`, zero-copy): int64 stays int64 even where it holds nulls,
  so a double or string column where schema.py says int64 fails, naming the column;
- "keys": expectations that read a string column (non-null ids, uniqueness, value sets);
- "numbers": the others (ranges, sums, windows).
The value parts see only the columns they read (runner._frame): GX copies its frame's rows
for most expectations, and a frame without the strings makes those copies cheap.
Pseudonym format is `presidio_rescan_clean`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pyarrow as pa

from tracelab_pipeline import schema

VALIDATED_TABLES = ("steps", "tool_calls", "timing_events")
LAYERS = ("private", "public")

# Derived column that carries prefix + append, so GX can compare it with input_tokens_total.
PREFIX_PLUS_APPEND = "__prefix_plus_append"

NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "steps": (
        "input_tokens_total",
        "prefix_tokens",
        "append_tokens",
        "output_tokens",
        "reasoning_tokens",
        "uncached_input_tokens",
        "cache_write_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "step_index",
        "current_input_event_count",
        "current_user_message_count",
        "current_tool_result_count",
        "current_user_message_chars",
        "current_tool_result_chars",
        "current_input_chars",
        "tool_call_count",
        "microcompact_tokens_saved",
    ),
    "tool_calls": (
        "tool_index",
        "wall_latency_ms",
        "internal_latency_ms",
        "input_chars",
        "result_chars",
    ),
    "timing_events": ("event_index", "tool_index", "content_chars", "result_chars"),
}

# Keys that must never be null (other non-nullable fields are guaranteed by the Parquet schema;
# every GX expectation costs ~8 ms of fixed overhead, so the suite checks what can go wrong).
KEYS: dict[str, tuple[str, ...]] = {
    "steps": ("step_id", "contributor", "provider", "session_id", "root_session_id", "round_id"),
    "tool_calls": ("step_id", "contributor", "session_id", "call_id", "tool_index"),
    "timing_events": ("step_id", "contributor", "event_index", "event_type"),
}

UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {
    "steps": (("step_id",),),
    "tool_calls": (("step_id", "tool_index"), ("step_id", "call_id")),
    "timing_events": (("step_id", "event_index"),),
}


@dataclass(frozen=True)
class Expectation:
    """One expectation, GX-agnostic: the GX class name, its keyword arguments, and the part
    of the suite (the frame) it is validated on: one of PARTS."""

    kind: str
    kwargs: dict = field(hash=False)
    part: str = "numbers"

    def reads(self) -> list[str]:
        """Columns whose values it reads (the column-set one reads only names)."""
        if self.part == "schema":
            return []
        kw = self.kwargs
        single = [c for c in (kw.get("column"), kw.get("column_A"), kw.get("column_B")) if c]
        return single + list(kw.get("column_list") or ())


PARTS = ("schema", "keys", "numbers")


def dtype_name(type_: pa.DataType) -> str:
    """The pandas dtype name of an Arrow type on the schema frame (e.g. 'int64[pyarrow]')."""
    import pandas as pd

    return str(pd.ArrowDtype(type_))


def table_schema(table: str, layer: str) -> pa.Schema:
    return schema.TABLES[table] if layer == "private" else schema.public_schema(table)


def expectations(table: str, layer: str) -> list[Expectation]:
    """The suite for one table of one layer. Window bounds are run-time parameters."""
    target = table_schema(table, layer)
    out = [
        Expectation(
            "ExpectTableColumnsToMatchSet",
            {"column_set": target.names, "exact_match": True},
            "schema",
        )
    ]
    types = {f.name: dtype_name(f.type) for f in target}
    out.append(Expectation("ExpectTableColumnTypesToMatch", {"column_types": types}, "schema"))
    for column in KEYS.get(table, ()):
        out.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": column}))
    for columns in UNIQUE.get(table, ()):
        if len(columns) == 1:
            out.append(Expectation("ExpectColumnValuesToBeUnique", {"column": columns[0]}))
        else:
            out.append(
                Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": list(columns)})
            )
    for column in NON_NEGATIVE.get(table, ()):
        out.append(Expectation("ExpectColumnValuesToBeBetween", {"column": column, "min_value": 0}))
    for column, allowed in schema.VALUE_SETS.get(table, {}).items():
        out.append(
            Expectation(
                "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(allowed)}
            )
        )
    if table == "steps":
        out.append(
            Expectation(
                "ExpectColumnPairValuesToBeEqual",
                {"column_A": "input_tokens_total", "column_B": PREFIX_PLUS_APPEND},
            )
        )
    for f in target:
        if not pa.types.is_timestamp(f.type):
            continue
        # Not before the partition's month, nor after what the readers accept (a day past the
        # time of validation): a conversation stays in the month it began however long it is
        # continued (a resumed Claude Code session, a Codex `resume` months later), and a
        # partition failing here is blocked.
        out.append(
            Expectation(
                "ExpectColumnValuesToBeBetween",
                {
                    "column": f.name,
                    "min_value": {"$PARAMETER": "month_start"},
                    "max_value": {"$PARAMETER": "late_end"},
                    "strict_max": True,
                },
            )
        )
    strings = {f.name for f in target if pa.types.is_string(f.type)}
    return [
        e if e.part == "schema" or not strings & set(e.reads()) else replace(e, part="keys")
        for e in out
    ]


def read_columns(table: str, layer: str, part: str, batched: bool = False) -> set[str]:
    """Columns whose values the expectations of one part read (batched: of the suite over
    several partitions, whose extra columns are included)."""
    described = (
        [e for _, e in batched_expectations(table, layer)]
        if batched
        else expectations(table, layer)
    )
    return {c for e in described if e.part == part for c in e.reads()}


# Columns added to the concatenation of several partitions (one GX pass per run, see runner.py):
# the partition each row came from, and its window bounds, so per-partition meaning holds per row.
PARTITION_COLUMN = "__partition"
WINDOW_COLUMNS = {
    "month_start": "__month_start",
    "late_end": "__late_end",
}


def batched_expectations(table: str, layer: str) -> list[tuple[int, Expectation]]:
    """The suite over many partitions concatenated: (index of the per-partition expectation, ...).

    Passing it implies every partition passes its own suite: uniqueness is compound with the
    partition column, the month window is compared per row with that row's partition bounds
    (one between-expectation becomes a lower and an upper pair comparison), the rest are row-wise.
    It may be stricter (never weaker); on any failure the runner re-validates per partition, so
    reported failures and counts are always the per-partition suite's.
    """
    out: list[tuple[int, Expectation]] = []
    for i, e in enumerate(expectations(table, layer)):
        kw = e.kwargs
        if e.part == "schema":
            # The concatenation has one schema (concat_tables refuses others): checked once.
            out.append((i, e))
        elif e.kind == "ExpectColumnValuesToBeUnique":
            columns = [PARTITION_COLUMN, kw["column"]]
            out.append(
                (
                    i,
                    Expectation(
                        "ExpectCompoundColumnsToBeUnique", {"column_list": columns}, e.part
                    ),
                )
            )
        elif e.kind == "ExpectCompoundColumnsToBeUnique":
            columns = [PARTITION_COLUMN, *kw["column_list"]]
            out.append((i, Expectation(e.kind, {"column_list": columns}, e.part)))
        elif e.kind == "ExpectColumnValuesToBeBetween" and isinstance(kw.get("min_value"), dict):
            lower = WINDOW_COLUMNS[kw["min_value"]["$PARAMETER"]]
            upper = WINDOW_COLUMNS[kw["max_value"]["$PARAMETER"]]
            pair = "ExpectColumnPairValuesAToBeGreaterThanB"
            skip = {"ignore_row_if": "either_value_is_missing"}
            out.append(
                (
                    i,
                    Expectation(
                        pair,
                        {"column_A": kw["column"], "column_B": lower, "or_equal": True, **skip},
                        e.part,
                    ),
                )
            )
            out.append(
                (
                    i,
                    Expectation(
                        pair,
                        {
                            "column_A": upper,
                            "column_B": kw["column"],
                            "or_equal": not kw["strict_max"],
                            **skip,
                        },
                        e.part,
                    ),
                )
            )
        else:
            out.append((i, e))
    return out
