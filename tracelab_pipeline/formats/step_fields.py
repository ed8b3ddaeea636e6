"""Step fields derived from a step's ordered timing events (tracelab-ingest §2.5, §7).

Shared by the readers that build steps from event lists, so every format derives the
current-input summary, the trigger and the output window the same way.
"""

from __future__ import annotations

from datetime import datetime

TRIGGER_BY_FIRST_INPUT = {"user_message": "user", "tool_result": "tool"}
_OUTPUT_TYPES = frozenset(("reasoning", "text", "tool_call"))


def event_summary(events: list[dict], step_id: str | None = None) -> dict:
    """The step columns that follow from its events (dicts with event_type, timestamp, ...).

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
            event["step_id"] = step_id
            event["event_index"] = index
        kind = event["event_type"]
        if kind == "user_message":
            users += 1
            chars = event.get("content_chars")
            if type(chars) is int:
                user_chars += chars
        elif kind == "tool_result":
            tools += 1
            chars = event.get("result_chars")
            if type(chars) is int:
                tool_chars += chars
        elif kind in _OUTPUT_TYPES:
            ts = event.get("timestamp")
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
        ts = event.get("timestamp")
        if ts is not None:
            input_times.append(ts)

    input_ready = None
    if first_output is not None:
        for ts in input_times:
            if ts <= first_output and (input_ready is None or ts > input_ready):
                input_ready = ts
    return {
        "trigger": TRIGGER_BY_FIRST_INPUT.get(first_input, "none"),
        "first_input_event_type": first_input,
        "first_event_type": events[0]["event_type"] if events else None,
        "current_input_event_count": users + tools,
        "current_user_message_count": users,
        "current_tool_result_count": tools,
        "current_user_message_chars": user_chars,
        "current_tool_result_chars": tool_chars,
        "current_input_chars": user_chars + tool_chars,
        "input_ready_at": input_ready,
        "first_output_at": first_output,
        "last_output_at": last_output,
    }


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
