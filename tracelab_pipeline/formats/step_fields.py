"""Step fields derived from a step's ordered timing events (tracelab-ingest §2.5, §7).

Shared by the readers that build steps from event lists, so every format derives the
current-input summary, the trigger and the output window the same way.
"""

from __future__ import annotations

from datetime import datetime

from tracelab_pipeline.formats.rows import (
    E_CONTENT_CHARS,
    E_EVENT_INDEX,
    E_EVENT_TYPE,
    E_RESULT_CHARS,
    E_STEP_ID,
    E_TIMESTAMP,
    S_CURRENT_INPUT_CHARS,
    S_CURRENT_INPUT_EVENT_COUNT,
    S_CURRENT_TOOL_RESULT_CHARS,
    S_CURRENT_TOOL_RESULT_COUNT,
    S_CURRENT_USER_MESSAGE_CHARS,
    S_CURRENT_USER_MESSAGE_COUNT,
    S_FIRST_EVENT_TYPE,
    S_FIRST_INPUT_EVENT_TYPE,
    S_FIRST_OUTPUT_AT,
    S_INPUT_READY_AT,
    S_LAST_OUTPUT_AT,
    S_TRIGGER,
    from_dicts,
)
from tracelab_pipeline.schema import OUTPUT_EVENT_TYPES, TABLES

TRIGGER_BY_FIRST_INPUT = {"user_message": "user", "tool_result": "tool"}
_OUTPUT_TYPES = frozenset(OUTPUT_EVENT_TYPES)
_STEP_NAMES = TABLES["steps"].names
# The step columns summarize_into sets, as (name, position).
_SUMMARY_COLUMNS = [
    (_STEP_NAMES[i], i)
    for i in (
        S_TRIGGER,
        S_FIRST_INPUT_EVENT_TYPE,
        S_FIRST_EVENT_TYPE,
        S_CURRENT_INPUT_EVENT_COUNT,
        S_CURRENT_USER_MESSAGE_COUNT,
        S_CURRENT_TOOL_RESULT_COUNT,
        S_CURRENT_USER_MESSAGE_CHARS,
        S_CURRENT_TOOL_RESULT_CHARS,
        S_CURRENT_INPUT_CHARS,
        S_INPUT_READY_AT,
        S_FIRST_OUTPUT_AT,
        S_LAST_OUTPUT_AT,
    )
]


def event_summary(events: list[dict]) -> dict:
    """The step columns that follow from its events, for events given as dicts (event_type,
    timestamp, content_chars, result_chars); see `summarize_into`."""
    row = [None] * len(_STEP_NAMES)
    summarize_into(row, from_dicts("timing_events", events))
    return {name: row[i] for name, i in _SUMMARY_COLUMNS}


def summarize_into(step: list, events: list[list], step_id: str | None = None) -> None:
    """Set the step row's columns that follow from its events (list rows, formats/rows.py).

    Chars are summed only over int values, as TraceLab does. `input_ready_at` is the latest
    input event at or before the first output; it is null when the step has no output event.
    With `step_id`, each event row also gets its step_id and event_index in the same pass.
    """
    users = tools = user_chars = tool_chars = 0
    first_input = None
    input_times: list[datetime] = []
    first_output = last_output = None
    for index, event in enumerate(events):
        if step_id is not None:
            event[E_STEP_ID] = step_id
            event[E_EVENT_INDEX] = index
        kind = event[E_EVENT_TYPE]
        if kind == "user_message":
            users += 1
            chars = event[E_CONTENT_CHARS]
            if type(chars) is int:
                user_chars += chars
        elif kind == "tool_result":
            tools += 1
            chars = event[E_RESULT_CHARS]
            if type(chars) is int:
                tool_chars += chars
        elif kind in _OUTPUT_TYPES:
            ts = event[E_TIMESTAMP]
            if ts is not None:
                if first_output is None or ts < first_output:
                    first_output = ts
                if last_output is None or ts > last_output:
                    last_output = ts
            continue
        else:
            continue
        if first_input is None:
            first_input = kind
        ts = event[E_TIMESTAMP]
        if ts is not None:
            input_times.append(ts)

    input_ready = None
    if first_output is not None:
        for ts in input_times:
            if ts <= first_output and (input_ready is None or ts > input_ready):
                input_ready = ts
    step[S_TRIGGER] = TRIGGER_BY_FIRST_INPUT.get(first_input, "none")
    step[S_FIRST_INPUT_EVENT_TYPE] = first_input
    step[S_FIRST_EVENT_TYPE] = events[0][E_EVENT_TYPE] if events else None
    step[S_CURRENT_INPUT_EVENT_COUNT] = users + tools
    step[S_CURRENT_USER_MESSAGE_COUNT] = users
    step[S_CURRENT_TOOL_RESULT_COUNT] = tools
    step[S_CURRENT_USER_MESSAGE_CHARS] = user_chars
    step[S_CURRENT_TOOL_RESULT_CHARS] = tool_chars
    step[S_CURRENT_INPUT_CHARS] = user_chars + tool_chars
    step[S_INPUT_READY_AT] = input_ready
    step[S_FIRST_OUTPUT_AT] = first_output
    step[S_LAST_OUTPUT_AT] = last_output


def timing_event_row(step_id: str, contributor: str, index: int, event: dict) -> dict:
    """One timing_events row (schema.TIMING_EVENTS) from an event dict."""
    get = event.get
    return {
        "step_id": step_id,
        "contributor": contributor,
        "event_index": index,
        "event_type": event["event_type"],
        "timestamp": get("timestamp"),
        "source": event["source"],
        "tool_call_id": get("tool_call_id"),
        "tool_index": get("tool_index"),
        "tool_name": get("tool_name"),
        "is_error": get("is_error"),
        "content_chars": get("content_chars"),
        "result_chars": get("result_chars"),
    }
