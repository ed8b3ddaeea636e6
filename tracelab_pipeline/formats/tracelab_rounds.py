"""The TraceLab round JSONL (their released dataset format, tracelab-ingest §6) <-> our rows.

One line per step ("round") with its timing events and tools nested. Reading imports a TraceLab
release; writing exports our tables in their field order. Every field both formats have survives
a round trip; collector-only fields (`home`, `user`, `store`) and the legacy `tools[].latency_ms`
are not kept and are counted as flags. The format has no field for a thread's parent
(tracelab-ingest §6.1): a Claude sub-agent's comes back from its thread key
(`<parent>/subagents/agent-<id>`, as TraceLab keys them), a Codex sub-agent's rounds name only
its own thread and the link is lost, as it is for both in the release, whose thread keys are
pseudonyms (docs/normalize.md). Timestamps are written as ISO-8601 UTC with `Z`, in
milliseconds when the value has whole milliseconds (as the raw logs write them), else in
microseconds.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.formats.common import EARLIEST, content_chars, latest_plausible, parse_ts
from tracelab_pipeline.formats.jsonl import Accounting, feed_records, open_log
from tracelab_pipeline.formats.result import FileResult
from tracelab_pipeline.formats.step_fields import (
    TRIGGER_BY_FIRST_INPUT,
    event_summary,
    timing_event_row,
)
from tracelab_pipeline.schema import EVENT_TYPES, PROVIDERS

MAX_COUNT = 10**12  # tokens or indices beyond this are corruption
_INT64 = 2**63 - 1

SUMMARY_FIELDS = (
    "current_input_event_count",
    "current_user_message_count",
    "current_tool_result_count",
    "current_user_message_chars",
    "current_tool_result_chars",
    "current_input_chars",
)
# Attributes after event_type/timestamp/source, per event type, in TraceLab's order (§6.3).
EVENT_ATTRIBUTES = {
    "user_message": ("content_chars",),
    "tool_result": ("tool_call_id", "result_chars", "is_error"),
    "reasoning": ("content_chars",),
    "text": ("content_chars",),
    "tool_call": ("tool_call_id", "tool_name", "tool_index"),
    "usage_report": (),
}
_ALL_ATTRIBUTES = (
    "tool_call_id",
    "tool_name",
    "tool_index",
    "content_chars",
    "result_chars",
    "is_error",
)
_ATTRIBUTE_TYPES = {
    "tool_call_id": (str,),
    "tool_name": (str,),
    "tool_index": (int,),
    "content_chars": (int,),
    "result_chars": (int,),
    "is_error": (bool,),
}
COLLECTOR_FIELDS = ("home", "user", "store")


# ---------------------------------------------------------------------------------------------
# Writing


def format_ts_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A timestamp column as the round format writes times: ISO-8601 UTC with Z, milliseconds
    when whole, microseconds otherwise. In Arrow: making and formatting a Python datetime per
    value was a third of the cost of the rounds."""
    text = pc.strftime(values.cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%dT%H:%M:%S")
    # Six fractional digits ("...:59.328000"); milliseconds when they end in 000.
    millis = pc.utf8_slice_codeunits(text, 0, len("2026-03-21T10:05:59.328"))
    return pc.binary_join_element_wise(pc.if_else(pc.ends_with(text, "000"), millis, text), "Z", "")


def write_tracelab_rounds(
    steps: pa.Table, tool_calls: pa.Table, timing_events: pa.Table, out_path: str | Path
) -> int:
    """Write our tables as TraceLab round JSONL (gzip if the name ends in .gz); returns rows.

    Columns missing from the tables (e.g. private ones in the public layer) are left out of
    the rows. The file is written to a temporary name and renamed, so readers never see half.
    """
    with RoundsSink(out_path) as sink:
        sink.write_rows({"steps": steps, "tool_calls": tool_calls, "timing_events": timing_events})
    return sink.rounds


class RoundsSink:
    """TraceLab round JSONL written a slice of the tables at a time (a normalize sink, like
    normalize.tables.ParquetSink); the file appears whole, and only if the block ends without
    an error. Each slice must hold the tool calls and events of its steps."""

    def __init__(self, out_path: str | Path):
        self.out = Path(out_path)
        self.tmp = self.out.with_name(self.out.name + ".tmp")
        self.rounds = 0

    def __enter__(self) -> RoundsSink:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if self.out.name.endswith(".gz") else open
        self.file = opener(self.tmp, "wb")
        return self

    def write_rows(self, tables: dict[str, pa.Table]) -> None:
        rounds = iter_rounds(tables["steps"], tables["tool_calls"], tables["timing_events"])
        for round_row in rounds:
            self.file.write(orjson.dumps(round_row) + b"\n")
            self.rounds += 1

    def write(self, name: str, table: pa.Table) -> None:
        """Tables other than the steps' (accounting, rejected records) have no rounds."""

    def __exit__(self, exc_type, exc, tb) -> None:
        self.file.close()
        if exc_type is None:
            os.replace(self.tmp, self.out)
        else:
            self.tmp.unlink(missing_ok=True)


def iter_rounds(steps: pa.Table, tool_calls: pa.Table, timing_events: pa.Table) -> Iterator[dict]:
    """TraceLab round dicts, one per step, in the steps table's order."""
    tools_by_step = _group(tool_calls, "tool_index")
    events_by_step = _group(timing_events, "event_index")
    has = set(steps.column_names)
    tool_has_input = "input_json" in set(tool_calls.column_names)
    for step in steps.to_pylist():
        step_id = step["step_id"]
        yield to_round(
            step,
            tools_by_step.get(step_id, []),
            events_by_step.get(step_id, []),
            has,
            tool_has_input,
        )


def _group(table: pa.Table, order_key: str) -> dict[str, list[dict]]:
    """Rows by step_id, in `order_key` order, timestamps as round-format strings."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, format_ts_array(table.column(i)))
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in table.to_pylist():
        grouped[row["step_id"]].append(row)
    for rows in grouped.values():
        rows.sort(key=lambda r: r[order_key])
    return grouped


def to_round(
    step: dict, tools: list[dict], events: list[dict], has: set[str], tool_has_input: bool
) -> dict:
    """One step (with its tool calls and timing events) as a TraceLab round dict."""
    provider = step["provider"]
    claude = provider == "claude"
    session_id = f"{provider}:{step['session_id']}"
    row: dict = {"provider": provider}
    if claude and "project" in has:
        row["project"] = step.get("project")
    row["session_id"] = session_id
    if "source_file" in has:
        row["session_file"] = step.get("source_file")
    row["round_index"] = step["step_index"]
    row["round_id"] = step["round_id"]
    if not claude:
        row["turn_id"] = step.get("turn_id")
        if "cwd" in has:
            row["cwd"] = step.get("cwd")
    row["model"] = step.get("model")
    reported = step.get("reported_input_tokens")
    row["input_tokens_total"] = reported if reported is not None else step["input_tokens_total"]
    row["prefix_tokens"] = step["prefix_tokens"]
    row["newly_append_tokens"] = step["append_tokens"]
    if claude:
        row["claude_uncached_input_tokens"] = step.get("uncached_input_tokens")
        row["claude_cache_creation_input_tokens"] = step.get("cache_write_tokens")
        row["claude_cache_read_input_tokens"] = step["prefix_tokens"]
    else:
        row["claude_uncached_input_tokens"] = None
        row["claude_cache_creation_input_tokens"] = None
        row["claude_cache_read_input_tokens"] = None
    row["output_tokens"] = step["output_tokens"]
    row["reasoning_output_tokens"] = None if claude else (step.get("reasoning_tokens") or 0)
    row["timing_events"] = [_event_to_round(e) for e in events]
    row["tools"] = [_tool_to_round(t, claude, tool_has_input) for t in tools]
    for name in SUMMARY_FIELDS:
        row[name] = step[name]
    row["first_input_event_type"] = step.get("first_input_event_type")
    row["trace_key"] = f"{provider}:{session_id}:{step['round_id']}"
    return row


def _event_to_round(event: dict) -> dict:
    out = {
        "event_type": event["event_type"],
        "timestamp": event["timestamp"],
        "source": event["source"],
    }
    for name in EVENT_ATTRIBUTES.get(event["event_type"], _ALL_ATTRIBUTES):
        value = event.get(name)
        if value is not None:
            out[name] = value
    return out


def _tool_to_round(tool: dict, claude: bool, has_input: bool) -> dict:
    out = {
        "tool_index": tool["tool_index"],
        "tool_name": tool.get("tool_name"),
        "tool_call_id": tool["call_id"],
        "emitted_at": tool.get("emitted_at"),
    }
    if not claude:
        out["result_at"] = tool.get("result_at")
    if has_input:
        raw = tool.get("input_json")
        out["input"] = _claude_input(raw) if claude else raw
    out["input_chars"] = tool["input_chars"]
    out["result_chars"] = tool.get("result_chars")
    out["tool_wall_latency_ms"] = tool.get("wall_latency_ms")
    out["tool_internal_latency_ms"] = tool.get("internal_latency_ms")
    out["is_error"] = tool.get("is_error")
    if claude:
        out["result_at"] = tool.get("result_at")
    return out


def _claude_input(raw: str | None):
    """Claude tool inputs are objects in the round format; we keep their compact JSON."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


# ---------------------------------------------------------------------------------------------
# Reading


class _Bad(Exception):
    """A round line that cannot become rows; the message is the rejection reason."""


def read_tracelab_rounds(path: str | Path, contributor: str = "local") -> FileResult:
    """Read a TraceLab round JSONL (plain or gzip) into our rows. Never raises for bad content."""
    source = str(path)
    acc = Accounting(source, contributor)
    result = FileResult(source, None, acc)
    result.is_export = True
    providers: set[str] = set()
    steps: list[dict] = []
    tool_calls: list[dict] = []
    timing_events: list[dict] = []

    def take(line_number: int, record: dict) -> None:
        flags: list[str] = []
        try:
            step, tools, events = round_to_rows(record, contributor, source, flags)
        except _Bad as bad:
            acc.reject(line_number, str(bad), orjson.dumps(record))
            return
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            # A shape nobody anticipated: lose the line, not the file.
            reason = f"unreadable round ({type(exc).__name__}: {exc})"
            acc.reject(line_number, reason, orjson.dumps(record))
            return
        for flag in flags:
            acc.flag(flag)
        if step["source_file"] == source:
            step["source_line"] = line_number
        providers.add(step["provider"])
        steps.append(step)
        tool_calls.extend(tools)
        timing_events.extend(events)
        acc.use()

    try:
        with open_log(path) as stream:
            feed_records(stream, acc, take)
    except (OSError, EOFError, zlib.error) as exc:
        result.error = acc.stopped(exc)
        if result.error is not None:
            return result
    if len(providers) == 1:
        result.provider = providers.pop()
    _set_session_start(steps, timing_events)
    result.add_dicts("steps", steps)
    result.add_dicts("tool_calls", tool_calls)
    result.add_dicts("timing_events", timing_events)
    return result


def round_to_rows(
    record: dict, contributor: str, source_file: str, flags: list[str]
) -> tuple[dict, list[dict], list[dict]]:
    """One round dict -> (step row, tool_call rows, timing_event rows). Raises _Bad.

    Anomalies in a row that is still kept are appended to `flags`.
    """
    provider = record.get("provider")
    if provider not in PROVIDERS:
        raise _Bad("provider is not claude or codex")
    claude = provider == "claude"
    raw_sid = _require(record, "session_id", str)
    round_id = _require(record, "round_id", str)
    prefix = f"{provider}:"
    if raw_sid.startswith(prefix):
        session_id = raw_sid[len(prefix) :]
    else:
        session_id = raw_sid
        flags.append("session_id without provider prefix")
    round_index = _count(record, "round_index")
    total = _count(record, "input_tokens_total")
    cached = _count(record, "prefix_tokens")
    append = _count(record, "newly_append_tokens")
    output = _count(record, "output_tokens")
    uncached = _count(record, "claude_uncached_input_tokens", optional=True)
    cache_write = _count(record, "claude_cache_creation_input_tokens", optional=True)
    cache_read = _count(record, "claude_cache_read_input_tokens", optional=True)
    reasoning = _count(record, "reasoning_output_tokens", optional=True)
    if claude and cache_read is not None and cache_read != cached:
        flags.append("claude_cache_read_input_tokens differs from prefix_tokens")
    reported = None
    if total != cached + append:
        reported = total
        flags.append("input_tokens_total differs from prefix + newly_append")

    step_id = f"{provider}:{session_id}:{round_id}"
    raw_events = _require(record, "timing_events", list)
    raw_tools = _require(record, "tools", list)
    events = [_event_from_round(e) for e in raw_events]
    tools = [_tool_from_round(t, step_id, contributor, session_id) for t in raw_tools]
    if any(t.pop("_legacy_latency") for t in tools):
        flags.append("legacy tools[].latency_ms not kept")

    summary = event_summary(events)
    for name in SUMMARY_FIELDS:
        value = record.get(name)
        if type(value) is int:
            value = _count(record, name)  # a negative or absurd count rejects the record
            if value != summary[name]:
                flags.append(f"{name} disagrees with timing_events")
            summary[name] = value
    if "first_input_event_type" in record:
        first = record["first_input_event_type"]
        if first is not None and first not in ("user_message", "tool_result"):
            raise _Bad("first_input_event_type is not user_message, tool_result or null")
        summary["first_input_event_type"] = first
        summary["trigger"] = TRIGGER_BY_FIRST_INPUT.get(first, "none")
    trace_key = record.get("trace_key")
    if trace_key is not None and trace_key != f"{provider}:{raw_sid}:{round_id}":
        flags.append("trace_key differs from provider:session_id:round_id")
    if any(name in record for name in COLLECTOR_FIELDS):
        flags.append("collector fields (home/user/store) not kept")

    session_file = record.get("session_file")
    root, parent, agent_id = _lineage(session_id, claude)
    usage_times = [e["timestamp"] for e in events if e["event_type"] == "usage_report"]
    step = {
        "step_id": step_id,
        "contributor": contributor,
        "provider": provider,
        "session_id": session_id,
        "root_session_id": root,
        "parent_session_id": parent,
        "agent_id": agent_id,
        "is_sidechain": agent_id is not None,
        "project": _optional(record, "project", str),
        "cwd": _optional(record, "cwd", str),
        "git_branch": None,
        "source_file": session_file if type(session_file) is str and session_file else source_file,
        "source_line": None,
        "session_started_at": None,
        "step_index": round_index,
        "round_id": round_id,
        "request_id": None,
        "turn_id": _optional(record, "turn_id", str),
        "model": _optional(record, "model", str),
        "client_version": None,
        "stop_reason": None,
        "input_tokens_total": cached + append,
        "reported_input_tokens": reported,
        "prefix_tokens": cached,
        "append_tokens": append,
        "output_tokens": output,
        "reasoning_tokens": None if claude else (reasoning or 0),
        "uncached_input_tokens": uncached if claude else None,
        "cache_write_tokens": cache_write if claude else None,
        "cache_write_5m_tokens": None,
        "cache_write_1h_tokens": None,
        "after_compaction": False,
        "usage_at": usage_times[-1] if usage_times else None,
        "tool_call_count": len(tools),
    }
    step.update(summary)
    event_rows = [timing_event_row(step_id, contributor, i, e) for i, e in enumerate(events)]
    return step, tools, event_rows


def _require(record: dict, name: str, kind: type):
    value = record.get(name)
    if type(value) is not kind:
        raise _Bad(f"{name} missing or not a {kind.__name__}")
    return value


def _optional(record: dict, name: str, kind: type):
    value = record.get(name)
    if value is not None and type(value) is not kind:
        raise _Bad(f"{name} is not a {kind.__name__} or null")
    return value


def _count(record: dict, name: str, optional: bool = False) -> int | None:
    value = record.get(name)
    if value is None and optional:
        return None
    if type(value) is not int:
        raise _Bad(f"{name} missing or not an integer")
    if value < 0:
        raise _Bad(f"negative {name}")
    if value > MAX_COUNT:
        raise _Bad(f"absurd {name} (> 1e12)")
    return value


def _ts(value, what: str) -> datetime | None:
    if value is None:
        return None
    if type(value) is not str:
        raise _Bad(f"{what} is not a string")
    ts = parse_ts(value)
    if ts is None:
        raise _Bad(f"{what} is not an ISO-8601 timestamp")
    if ts < EARLIEST:
        raise _Bad(f"{what} before 2023-01-01")
    if ts > latest_plausible():
        raise _Bad(f"{what} in the future")
    return ts


def _event_from_round(raw) -> dict:
    if type(raw) is not dict:
        raise _Bad("timing event is not an object")
    kind = raw.get("event_type")
    if kind not in EVENT_TYPES:
        raise _Bad("timing event with an unknown event_type")
    source = raw.get("source")
    if type(source) is not str:
        raise _Bad("timing event without a string source")
    event = {
        "event_type": kind,
        "timestamp": _ts(raw.get("timestamp"), "timing event timestamp"),
        "source": source,
    }
    for name in _ALL_ATTRIBUTES:
        value = raw.get(name)
        if value is None:
            continue
        if type(value) not in _ATTRIBUTE_TYPES[name]:
            raise _Bad(f"timing event {name} has the wrong type")
        if type(value) is int and abs(value) > _INT64:
            raise _Bad(f"timing event {name} out of range")
        event[name] = value
    return event


def _tool_from_round(raw, step_id: str, contributor: str, session_id: str) -> dict:
    if type(raw) is not dict:
        raise _Bad("tool is not an object")
    call_id = raw.get("tool_call_id")
    if type(call_id) is not str:
        raise _Bad("tool without a string tool_call_id")
    index = raw.get("tool_index")
    if type(index) is not int or not 0 <= index <= MAX_COUNT:
        raise _Bad("tool without a valid tool_index")
    tool_input = raw.get("input")
    if tool_input is None or type(tool_input) is str:
        input_json = tool_input
    else:
        input_json = orjson.dumps(tool_input).decode()
    input_chars = raw.get("input_chars")
    if input_chars is None:
        input_chars = content_chars(tool_input)
    for name in ("input_chars", "result_chars", "tool_wall_latency_ms", "tool_internal_latency_ms"):
        value = input_chars if name == "input_chars" else raw.get(name)
        if value is not None and type(value) is not int:
            raise _Bad(f"tool {name} is not an integer")
        if value is not None and abs(value) > _INT64:
            raise _Bad(f"tool {name} out of range")
    name = raw.get("tool_name")
    if name is not None and type(name) is not str:
        raise _Bad("tool_name is not a string")
    is_error = raw.get("is_error")
    if is_error is not None and type(is_error) is not bool:
        raise _Bad("tool is_error is not a boolean")
    return {
        "step_id": step_id,
        "contributor": contributor,
        "session_id": session_id,
        "tool_index": index,
        "tool_name": name,
        "call_id": call_id,
        "emitted_at": _ts(raw.get("emitted_at"), "tool emitted_at"),
        "result_at": _ts(raw.get("result_at"), "tool result_at"),
        "wall_latency_ms": raw.get("tool_wall_latency_ms"),
        "internal_latency_ms": raw.get("tool_internal_latency_ms"),
        # TraceLab's own timing: the round format does not say where it read it from.
        "internal_latency_source": (
            None if raw.get("tool_internal_latency_ms") is None else "tracelab_round"
        ),
        "is_error": is_error,
        "input_chars": input_chars,
        "result_chars": raw.get("result_chars"),
        "input_json": input_json,
        "command_signature": None,
        "_legacy_latency": raw.get("latency_ms") is not None,
    }


def _lineage(session_id: str, claude: bool) -> tuple[str, str | None, str | None]:
    """(root, parent, agent_id) from a Claude thread key.

    TraceLab keys sub-agent files `<parent>/subagents/agent-<id>`; our Claude reader keys
    inline sidechains `<parent>/sidechain/<id>` the same way, so the link survives a round trip.
    """
    if claude:
        for marker in ("/subagents/agent-", "/subagents/", "/sidechain/"):
            root, found, agent = session_id.partition(marker)
            if found and root and agent:
                return root, root, agent
    return session_id, None, None


def _set_session_start(steps: list[dict], events: Iterable[dict]) -> None:
    """Round files carry no session start: use the earliest event time of each root session."""
    root_of_step = {s["step_id"]: (s["provider"], s["root_session_id"]) for s in steps}
    start: dict[tuple, datetime] = {}
    for event in events:
        ts = event["timestamp"]
        key = root_of_step.get(event["step_id"])
        if ts is not None and key is not None and (key not in start or ts < start[key]):
            start[key] = ts
    for step in steps:
        step["session_started_at"] = start.get((step["provider"], step["root_session_id"]))
