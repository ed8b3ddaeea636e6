"""Rows as the readers build them: one list of values per row, in the table's schema column order.

A list row costs less to make than a dict (a copy of a template plus stores by position) and
turns into Arrow columns with one `zip(*rows)` per file, where dict rows needed a lookup per
column per row first. The positions below are checked against schema.py when this module is
imported, so a schema change cannot silently shift a column.
"""

from __future__ import annotations

from tracelab_pipeline.schema import TABLES

ROW_TABLES = ("steps", "tool_calls", "timing_events")


def _positions(table: str, *names: str) -> range:
    if tuple(names) != tuple(TABLES[table].names):
        raise ImportError(f"formats/rows.py: the {table} columns do not match schema.py")
    return range(len(names))


(
    S_STEP_ID,
    S_CONTRIBUTOR,
    S_PROVIDER,
    S_SESSION_ID,
    S_ROOT_SESSION_ID,
    S_PARENT_SESSION_ID,
    S_AGENT_ID,
    S_IS_SIDECHAIN,
    S_PROJECT,
    S_CWD,
    S_GIT_BRANCH,
    S_SOURCE_FILE,
    S_SOURCE_LINE,
    S_SESSION_STARTED_AT,
    S_STEP_INDEX,
    S_ROUND_ID,
    S_REQUEST_ID,
    S_TURN_ID,
    S_MODEL,
    S_CLIENT_VERSION,
    S_STOP_REASON,
    S_INPUT_TOKENS_TOTAL,
    S_REPORTED_INPUT_TOKENS,
    S_PREFIX_TOKENS,
    S_APPEND_TOKENS,
    S_OUTPUT_TOKENS,
    S_REASONING_TOKENS,
    S_UNCACHED_INPUT_TOKENS,
    S_CACHE_WRITE_TOKENS,
    S_CACHE_WRITE_5M_TOKENS,
    S_CACHE_WRITE_1H_TOKENS,
    S_TRIGGER,
    S_FIRST_INPUT_EVENT_TYPE,
    S_FIRST_EVENT_TYPE,
    S_CURRENT_INPUT_EVENT_COUNT,
    S_CURRENT_USER_MESSAGE_COUNT,
    S_CURRENT_TOOL_RESULT_COUNT,
    S_CURRENT_USER_MESSAGE_CHARS,
    S_CURRENT_TOOL_RESULT_CHARS,
    S_CURRENT_INPUT_CHARS,
    S_AFTER_COMPACTION,
    S_INPUT_READY_AT,
    S_FIRST_OUTPUT_AT,
    S_LAST_OUTPUT_AT,
    S_USAGE_AT,
    S_TOOL_CALL_COUNT,
) = _positions(
    "steps",
    "step_id",
    "contributor",
    "provider",
    "session_id",
    "root_session_id",
    "parent_session_id",
    "agent_id",
    "is_sidechain",
    "project",
    "cwd",
    "git_branch",
    "source_file",
    "source_line",
    "session_started_at",
    "step_index",
    "round_id",
    "request_id",
    "turn_id",
    "model",
    "client_version",
    "stop_reason",
    "input_tokens_total",
    "reported_input_tokens",
    "prefix_tokens",
    "append_tokens",
    "output_tokens",
    "reasoning_tokens",
    "uncached_input_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "trigger",
    "first_input_event_type",
    "first_event_type",
    "current_input_event_count",
    "current_user_message_count",
    "current_tool_result_count",
    "current_user_message_chars",
    "current_tool_result_chars",
    "current_input_chars",
    "after_compaction",
    "input_ready_at",
    "first_output_at",
    "last_output_at",
    "usage_at",
    "tool_call_count",
)

(
    T_STEP_ID,
    T_CONTRIBUTOR,
    T_SESSION_ID,
    T_TOOL_INDEX,
    T_TOOL_NAME,
    T_CALL_ID,
    T_EMITTED_AT,
    T_RESULT_AT,
    T_WALL_LATENCY_MS,
    T_INTERNAL_LATENCY_MS,
    T_IS_ERROR,
    T_INPUT_CHARS,
    T_RESULT_CHARS,
    T_INPUT_JSON,
    T_COMMAND_SIGNATURE,
) = _positions(
    "tool_calls",
    "step_id",
    "contributor",
    "session_id",
    "tool_index",
    "tool_name",
    "call_id",
    "emitted_at",
    "result_at",
    "wall_latency_ms",
    "internal_latency_ms",
    "is_error",
    "input_chars",
    "result_chars",
    "input_json",
    "command_signature",
)

(
    E_STEP_ID,
    E_CONTRIBUTOR,
    E_EVENT_INDEX,
    E_EVENT_TYPE,
    E_TIMESTAMP,
    E_SOURCE,
    E_TOOL_CALL_ID,
    E_TOOL_INDEX,
    E_TOOL_NAME,
    E_IS_ERROR,
    E_CONTENT_CHARS,
    E_RESULT_CHARS,
) = _positions(
    "timing_events",
    "step_id",
    "contributor",
    "event_index",
    "event_type",
    "timestamp",
    "source",
    "tool_call_id",
    "tool_index",
    "tool_name",
    "is_error",
    "content_chars",
    "result_chars",
)

_NAMES = {name: tuple(TABLES[name].names) for name in ROW_TABLES}


def blank(table: str, contributor: str) -> list:
    """A row of `table` with only the contributor set: the template readers copy per row."""
    row = [None] * len(_NAMES[table])
    row[_NAMES[table].index("contributor")] = contributor
    return row


def as_dicts(table: str, rows: list[list]) -> list[dict]:
    """The rows as dicts keyed by column name (the reader API, for callers that want names)."""
    names = _NAMES[table]
    return [dict(zip(names, row, strict=True)) for row in rows]


def from_dicts(table: str, rows: list[dict]) -> list[list]:
    """Dict rows (a missing key is a null) as list rows."""
    names = _NAMES[table]
    return [[row.get(name) for name in names] for row in rows]
