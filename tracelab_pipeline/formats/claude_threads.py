"""State of the agent threads found in one Claude Code file, and how they become schema rows.

A thread is the main chain, one inline sidechain, or the single sub-agent of a sub-agent file.
Each thread has its own queue of pending input events and its own step numbering, so a
sidechain never feeds (or is fed by) the main chain (tracelab-ingest §11.2 B1, which we fix).
Within a thread, steps follow tracelab-ingest §3.2/§5.1/§2.5 so the numbers equal TraceLab's.
"""

from __future__ import annotations

import json

import orjson

from tracelab_pipeline.formats.rows import (
    E_CONTENT_CHARS,
    E_EVENT_INDEX,
    E_EVENT_TYPE,
    E_RESULT_CHARS,
    E_STEP_ID,
    E_TIMESTAMP,
    T_SESSION_ID,
    T_STEP_ID,
    T_TOOL_INDEX,
)

USER_MESSAGE = "user_message"
TOOL_RESULT = "tool_result"
REASONING = "reasoning"
TEXT = "text"
TOOL_CALL = "tool_call"

_OUTPUT_TYPES = frozenset((REASONING, TEXT, TOOL_CALL))


def json_text(value) -> str:
    """Compact JSON (no ASCII escaping), the form TraceLab measures non-string content in."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        # orjson refuses lone surrogates and >64-bit ints that the stdlib parser lets through.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def chars(value) -> int:
    """Code-point size of a content value (tracelab-ingest §2.2); no str is built for ASCII."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    try:
        data = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return len(json_text(value))
    # Most tool payloads are ASCII: then the byte length is the code-point length.
    return len(data) if data.isascii() else len(data.decode("utf-8"))


class Step:
    """One API response (one message.id) under construction."""

    __slots__ = (
        "message_id",
        "line",
        "request_id",
        "model",
        "cwd",
        "git_branch",
        "version",
        "events",
        "tools",
        "tools_by_id",
        "score",
        "usage",
        "stop_reason",
        "after_compaction",
        "iterations",
        "microcompactions",
        "tokens_saved",
    )

    def __init__(self, message_id: str, line: int, events: list, after_compaction: bool):
        self.message_id = message_id
        self.line = line
        self.request_id = None
        self.model = None
        self.cwd = None
        self.git_branch = None
        self.version = None
        self.events = events
        self.tools: list[dict] = []
        self.tools_by_id: dict[str, dict] = {}
        # The fullest usage snapshot so far and its score (ClaudeFileReader._assistant).
        self.score = None
        self.usage = None  # (uncached, cache_write, cache_read, output, write_5m, write_1h)
        self.stop_reason = None
        self.after_compaction = after_compaction
        self.iterations = None  # what the kept usage's `iterations` says (claude_code.py)
        # microcompact_boundary records since the previous step, and the tokens they report
        # cleared (None when one of them did not say); set by Thread.new_step.
        self.microcompactions = 0
        self.tokens_saved = None


class Thread:
    """One agent thread: its pending inputs and its steps in order of first appearance."""

    __slots__ = (
        "key",
        "root",
        "pending",
        "steps",
        "by_message",
        "after_compaction",
        "microcompactions",
        "tokens_saved",
    )

    def __init__(self, key: str | None, root: str | None):
        self.key = key  # sidechain key (agentId or first record uuid); None for a main chain
        self.root = root  # sessionId of the main chain it belongs to, when the records say
        self.pending: list[dict] = []
        self.steps: list[Step] = []
        self.by_message: dict[str, Step] = {}
        self.after_compaction = False
        self.microcompactions = 0
        self.tokens_saved: int | None = 0

    def microcompacted(self, tokens_saved: int | None) -> None:
        """A microcompact_boundary: old tool results cleared before the next step."""
        self.microcompactions += 1
        if self.tokens_saved is not None:
            self.tokens_saved = None if tokens_saved is None else self.tokens_saved + tokens_saved

    def new_step(self, message_id: str, line: int) -> Step:
        """The step of a response not seen before in this thread (see `by_message`)."""
        # A new response consumes every input queued since the previous one.
        step = Step(message_id, line, self.pending, self.after_compaction)
        self.pending = []
        self.after_compaction = False
        if self.microcompactions:
            step.microcompactions = self.microcompactions
            step.tokens_saved = self.tokens_saved
            self.microcompactions = 0
            self.tokens_saved = 0
        self.by_message[message_id] = step
        self.steps.append(step)
        return step


def step_rows(
    step: Step,
    index: int,
    identity: dict,
    contributor: str,
    steps_out: list,
    tools_out: list,
    events_out: list,
) -> None:
    """Finish one step: number its events and tools, summarize its inputs, emit the rows."""
    session_id = identity["session_id"]
    step_id = f"claude:{session_id}:{step.message_id}"

    user_n = tool_n = user_chars = tool_chars = 0
    first_input = None
    first_out = last_out = None
    for i, ev in enumerate(step.events):
        ev[E_STEP_ID] = step_id
        ev[E_EVENT_INDEX] = i
        kind = ev[E_EVENT_TYPE]
        if kind == USER_MESSAGE:
            user_n += 1
            user_chars += ev[E_CONTENT_CHARS] or 0
            first_input = first_input or kind
        elif kind == TOOL_RESULT:
            tool_n += 1
            tool_chars += ev[E_RESULT_CHARS] or 0
            first_input = first_input or kind
        else:
            ts = ev[E_TIMESTAMP]
            if ts is not None:
                if first_out is None or ts < first_out:
                    first_out = ts
                if last_out is None or ts > last_out:
                    last_out = ts
    events_out += step.events

    # Latest input at or before the first output: when the model could start on this step.
    input_ready = None
    if first_out is not None:
        for ev in step.events:
            ts = ev[E_TIMESTAMP]
            if (
                ts is not None
                and ev[E_EVENT_TYPE] not in _OUTPUT_TYPES
                and ts <= first_out
                and (input_ready is None or ts > input_ready)
            ):
                input_ready = ts

    for i, tool in enumerate(step.tools):
        tool[T_STEP_ID] = step_id
        tool[T_SESSION_ID] = session_id
        tool[T_TOOL_INDEX] = i
    tools_out += step.tools

    u, w, r, o, w5, w1 = step.usage or (0, 0, 0, 0, None, None)
    trigger = (
        "user" if first_input == USER_MESSAGE else "tool" if first_input == TOOL_RESULT else "none"
    )
    # A list literal in steps column order (formats/rows.py); Claude has no turn_id,
    # reported_input_tokens, reasoning_tokens or usage_at.
    steps_out.append(
        [
            step_id,
            contributor,
            "claude",  # provider
            session_id,
            identity["root_session_id"],
            identity["parent_session_id"],
            identity["agent_id"],
            identity["is_sidechain"],
            identity["project"],
            step.cwd,
            step.git_branch,
            identity["source_file"],
            step.line,  # source_line
            identity["session_started_at"],
            index,  # step_index
            step.message_id,  # round_id
            step.request_id,
            None,  # turn_id
            step.model,
            step.version,  # client_version
            step.stop_reason,
            u + w + r,  # input_tokens_total
            None,  # reported_input_tokens
            r,  # prefix_tokens
            u + w,  # append_tokens
            o,  # output_tokens
            None,  # reasoning_tokens
            u,  # uncached_input_tokens
            w,  # cache_write_tokens
            w5,  # cache_write_5m_tokens
            w1,  # cache_write_1h_tokens
            trigger,
            first_input,  # first_input_event_type
            step.events[0][E_EVENT_TYPE] if step.events else None,  # first_event_type
            user_n + tool_n,  # current_input_event_count
            user_n,  # current_user_message_count
            tool_n,  # current_tool_result_count
            user_chars,  # current_user_message_chars
            tool_chars,  # current_tool_result_chars
            user_chars + tool_chars,  # current_input_chars
            step.after_compaction,
            input_ready,  # input_ready_at
            first_out,  # first_output_at
            last_out,  # last_output_at
            None,  # usage_at
            len(step.tools),  # tool_call_count
            step.microcompactions > 0,  # after_microcompaction
            step.tokens_saved,  # microcompact_tokens_saved
        ]
    )
