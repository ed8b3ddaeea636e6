"""Rows as the readers build them: one list of values per row, in the table's schema column order.

A list row costs less to make than a dict (a copy of a template plus stores by position) and
turns into Arrow columns with one `zip(*rows)` per file, where dict rows needed a lookup per
column per row first. The positions below are looked up in schema.py by column name, so a
schema change cannot silently shift a column (a renamed one fails at import).
"""

from __future__ import annotations

from tracelab_pipeline.schema import TABLES

ROW_TABLES = ("steps", "tool_calls", "timing_events")


def _positions(table: str) -> dict[str, int]:
    return {name: i for i, name in enumerate(TABLES[table].names)}


_STEPS = _positions("steps")
S_STEP_ID = _STEPS["step_id"]
S_CONTRIBUTOR = _STEPS["contributor"]
S_PROVIDER = _STEPS["provider"]
S_SESSION_ID = _STEPS["session_id"]
S_ROOT_SESSION_ID = _STEPS["root_session_id"]
S_PARENT_SESSION_ID = _STEPS["parent_session_id"]
S_AGENT_ID = _STEPS["agent_id"]
S_IS_SIDECHAIN = _STEPS["is_sidechain"]
S_PROJECT = _STEPS["project"]
S_CWD = _STEPS["cwd"]
S_GIT_BRANCH = _STEPS["git_branch"]
S_SOURCE_FILE = _STEPS["source_file"]
S_SOURCE_LINE = _STEPS["source_line"]
S_SESSION_STARTED_AT = _STEPS["session_started_at"]
S_STEP_INDEX = _STEPS["step_index"]
S_ROUND_ID = _STEPS["round_id"]
S_REQUEST_ID = _STEPS["request_id"]
S_TURN_ID = _STEPS["turn_id"]
S_MODEL = _STEPS["model"]
S_CLIENT_VERSION = _STEPS["client_version"]
S_STOP_REASON = _STEPS["stop_reason"]
S_INPUT_TOKENS_TOTAL = _STEPS["input_tokens_total"]
S_REPORTED_INPUT_TOKENS = _STEPS["reported_input_tokens"]
S_PREFIX_TOKENS = _STEPS["prefix_tokens"]
S_APPEND_TOKENS = _STEPS["append_tokens"]
S_OUTPUT_TOKENS = _STEPS["output_tokens"]
S_REASONING_TOKENS = _STEPS["reasoning_tokens"]
S_UNCACHED_INPUT_TOKENS = _STEPS["uncached_input_tokens"]
S_CACHE_WRITE_TOKENS = _STEPS["cache_write_tokens"]
S_CACHE_WRITE_5M_TOKENS = _STEPS["cache_write_5m_tokens"]
S_CACHE_WRITE_1H_TOKENS = _STEPS["cache_write_1h_tokens"]
S_TRIGGER = _STEPS["trigger"]
S_FIRST_INPUT_EVENT_TYPE = _STEPS["first_input_event_type"]
S_FIRST_EVENT_TYPE = _STEPS["first_event_type"]
S_CURRENT_INPUT_EVENT_COUNT = _STEPS["current_input_event_count"]
S_CURRENT_USER_MESSAGE_COUNT = _STEPS["current_user_message_count"]
S_CURRENT_TOOL_RESULT_COUNT = _STEPS["current_tool_result_count"]
S_CURRENT_USER_MESSAGE_CHARS = _STEPS["current_user_message_chars"]
S_CURRENT_TOOL_RESULT_CHARS = _STEPS["current_tool_result_chars"]
S_CURRENT_INPUT_CHARS = _STEPS["current_input_chars"]
S_AFTER_COMPACTION = _STEPS["after_compaction"]
S_INPUT_READY_AT = _STEPS["input_ready_at"]
S_FIRST_OUTPUT_AT = _STEPS["first_output_at"]
S_LAST_OUTPUT_AT = _STEPS["last_output_at"]
S_USAGE_AT = _STEPS["usage_at"]
S_TOOL_CALL_COUNT = _STEPS["tool_call_count"]
S_AFTER_MICROCOMPACTION = _STEPS["after_microcompaction"]
S_MICROCOMPACT_TOKENS_SAVED = _STEPS["microcompact_tokens_saved"]

_TOOL_CALLS = _positions("tool_calls")
T_STEP_ID = _TOOL_CALLS["step_id"]
T_CONTRIBUTOR = _TOOL_CALLS["contributor"]
T_SESSION_ID = _TOOL_CALLS["session_id"]
T_TOOL_INDEX = _TOOL_CALLS["tool_index"]
T_TOOL_NAME = _TOOL_CALLS["tool_name"]
T_CALL_ID = _TOOL_CALLS["call_id"]
T_EMITTED_AT = _TOOL_CALLS["emitted_at"]
T_RESULT_AT = _TOOL_CALLS["result_at"]
T_WALL_LATENCY_MS = _TOOL_CALLS["wall_latency_ms"]
T_INTERNAL_LATENCY_MS = _TOOL_CALLS["internal_latency_ms"]
T_IS_ERROR = _TOOL_CALLS["is_error"]
T_INPUT_CHARS = _TOOL_CALLS["input_chars"]
T_RESULT_CHARS = _TOOL_CALLS["result_chars"]
T_INPUT_JSON = _TOOL_CALLS["input_json"]
T_COMMAND_SIGNATURE = _TOOL_CALLS["command_signature"]
T_INTERNAL_LATENCY_SOURCE = _TOOL_CALLS["internal_latency_source"]

_EVENTS = _positions("timing_events")
E_STEP_ID = _EVENTS["step_id"]
E_CONTRIBUTOR = _EVENTS["contributor"]
E_EVENT_INDEX = _EVENTS["event_index"]
E_EVENT_TYPE = _EVENTS["event_type"]
E_TIMESTAMP = _EVENTS["timestamp"]
E_SOURCE = _EVENTS["source"]
E_TOOL_CALL_ID = _EVENTS["tool_call_id"]
E_TOOL_INDEX = _EVENTS["tool_index"]
E_TOOL_NAME = _EVENTS["tool_name"]
E_IS_ERROR = _EVENTS["is_error"]
E_CONTENT_CHARS = _EVENTS["content_chars"]
E_RESULT_CHARS = _EVENTS["result_chars"]

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
