"""Codex rollout reader: real fixtures against tracelab-ingest §12.2, synthetic edge cases."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.codex import (
    _EXIT_CODE,
    _WALL_TIME,
    _exit_code,
    _runner_header,
    _wall_time_ms,
    read_codex,
)
from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.schema import to_table

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "codex"
SEGMENT = FIXTURES / "tracelab__codex-example-segment.jsonl"
TREZO = FIXTURES / "trezo-ai__codex-session.jsonl"
NO_USAGE = FIXTURES / "claude-code-transcripts__sample_codex_session.jsonl"
SESSION = "01a7c9e4-6d12-7b3a-9f42-8c6d5e1a0b73"
TURN1 = "01a7c9e4-a8f3-7c91-b2e0-31d6f4a9c580"


def _checked(path, contributor="alice"):
    result = read_codex(path, contributor)
    result.accounting.check()
    # Rows must fit the schema exactly.
    to_table("steps", result.steps)
    to_table("tool_calls", result.tool_calls)
    to_table("timing_events", result.timing_events)
    return result


def _tools_of(result, step):
    return [t for t in result.tool_calls if t["step_id"] == step["step_id"]]


def _events_of(result, step):
    return [e for e in result.timing_events if e["step_id"] == step["step_id"]]


# -- real fixtures ---------------------------------------------------------------------------


def test_tracelab_segment_matches_worked_example():
    result = _checked(SEGMENT)
    assert result.error is None
    assert len(result.steps) == 9
    s0, s1, s2 = result.steps[:3]

    expected_tokens = [
        (9324, 6912, 2412, 444, 199),
        (9917, 9600, 317, 94, 11),
        (10058, 9856, 202, 59, 15),
    ]
    for k, (step, tokens) in enumerate(zip((s0, s1, s2), expected_tokens, strict=True)):
        got = tuple(
            step[c]
            for c in (
                "input_tokens_total",
                "prefix_tokens",
                "append_tokens",
                "output_tokens",
                "reasoning_tokens",
            )
        )
        assert got == tokens
        assert step["round_id"] == f"{TURN1}:{k}"
        assert step["step_index"] == k
        assert step["step_id"] == f"codex:{SESSION}:{TURN1}:{k}"
        assert step["session_id"] == SESSION == step["root_session_id"]
        assert step["turn_id"] == TURN1
        assert step["model"] == "gpt-5.4"
        assert step["cwd"] == "/workspace/project"
        assert step["client_version"] == "0.114.0"
        assert step["uncached_input_tokens"] is None
        assert step["is_sidechain"] is False and step["parent_session_id"] is None
        assert step["contributor"] == "alice"

    # Row 0: one user message of 92 code points, three exec_command calls.
    assert (s0["trigger"], s0["first_input_event_type"]) == ("user", "user_message")
    assert (s0["current_user_message_count"], s0["current_user_message_chars"]) == (1, 92)
    assert s0["first_event_type"] == "user_message"
    assert s0["usage_at"].isoformat() == "2026-03-21T10:06:05.542000+00:00"
    assert s0["session_started_at"].isoformat() == "2026-03-21T10:05:38.219000+00:00"
    assert s0["first_output_at"].isoformat() == "2026-03-21T10:06:02.939000+00:00"
    assert s0["last_output_at"].isoformat() == "2026-03-21T10:06:05.528000+00:00"
    assert s0["input_ready_at"].isoformat() == "2026-03-21T10:05:59.328000+00:00"
    assert s0["source_line"] == 8
    events0 = _events_of(result, s0)
    assert [e["event_type"] for e in events0] == [
        "user_message",
        "reasoning",
        "text",
        "tool_call",
        "tool_call",
        "tool_call",
        "usage_report",
    ]
    assert events0[2]["content_chars"] == 203
    tools0 = _tools_of(result, s0)
    assert s0["tool_call_count"] == 3
    assert [t["tool_name"] for t in tools0] == ["exec_command"] * 3
    assert [t["input_chars"] for t in tools0] == [90, 142, 148]
    assert [t["result_chars"] for t in tools0] == [122, 102, 113]
    assert [t["wall_latency_ms"] for t in tools0] == [67, 79, 1176]
    assert [t["internal_latency_ms"] for t in tools0] == [0, 0, 1002]
    assert [t["internal_latency_source"] for t in tools0] == ["wall_time_line"] * 3
    assert [t["is_error"] for t in tools0] == [False, True, None]

    # Row 1: the three tool results are its inputs; one write_stdin poll.
    assert (s1["trigger"], s1["current_tool_result_count"]) == ("tool", 3)
    assert s1["current_tool_result_chars"] == 337 == s1["current_input_chars"]
    results1 = [e for e in _events_of(result, s1) if e["event_type"] == "tool_result"]
    assert [e["result_chars"] for e in results1] == [122, 102, 113]
    assert [e["is_error"] for e in results1] == [False, True, None]
    assert {e["source"] for e in results1} == {"response_item.function_call_output"}
    (poll,) = _tools_of(result, s1)
    assert poll["tool_name"] == "write_stdin"
    assert (poll["input_chars"], poll["result_chars"]) == (77, 113)
    assert (poll["wall_latency_ms"], poll["internal_latency_ms"], poll["is_error"]) == (
        5002,
        5001,
        None,
    )

    # Row 2: a write_stdin that failed without a Wall time line.
    assert (s2["current_tool_result_count"], s2["current_tool_result_chars"]) == (1, 113)
    (failed,) = _tools_of(result, s2)
    assert (failed["input_chars"], failed["result_chars"]) == (83, 105)
    assert (failed["wall_latency_ms"], failed["internal_latency_ms"], failed["is_error"]) == (
        8,
        None,
        None,
    )
    assert (poll["internal_latency_source"], failed["internal_latency_source"]) == (
        "wall_time_line",
        None,
    )

    # The second turn restarts the per-turn counter.
    second_turn = [
        s for s in result.steps if s["turn_id"] == "01a7c9e5-0d4b-761e-9c72-fa3e8b15d904"
    ]
    assert second_turn[0]["round_id"] == "01a7c9e5-0d4b-761e-9c72-fa3e8b15d904:0"
    assert [s["step_index"] for s in result.steps] == list(range(9))


def _final_total(path: Path) -> dict:
    """Independent count: the last token_count's cumulative usage, read with json."""
    final = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            payload = record.get("payload") or {}
            if payload.get("type") == "token_count" and payload.get("info"):
                final = payload["info"]["total_token_usage"]
    return final


@pytest.mark.parametrize("path", [SEGMENT, TREZO], ids=lambda p: p.name)
def test_token_sums_equal_final_cumulative_total(path):
    result = _checked(path)
    final = _final_total(path)
    steps = result.steps
    assert sum(s["input_tokens_total"] for s in steps) == final["input_tokens"]
    assert sum(s["prefix_tokens"] for s in steps) == final["cached_input_tokens"]
    assert sum(s["output_tokens"] for s in steps) == final["output_tokens"]
    assert sum(s["reasoning_tokens"] for s in steps) == final["reasoning_output_tokens"]


def test_trezo_skips_null_info_and_repeats_and_counts_leftovers():
    result = _checked(TREZO)
    acc = result.accounting
    assert len(result.steps) == 14
    assert acc.rejected == []
    assert acc.ignored_by_type["event_msg.token_count(info=null)"] == 1
    assert acc.ignored_by_type["event_msg.token_count(repeat)"] == 1
    # The file ends inside a turn: four calls without a closing token_count (TraceLab B13).
    assert acc.ignored_by_type["dropped_at_eof:response_item.function_call"] == 4
    assert acc.flagged_by_reason["events dropped at end of file (no closing token_count)"] > 0
    assert len(result.tool_calls) == 41 - 4
    # exec_command_end comes first for some calls: it sets result_at and the event source.
    sources = {e["source"] for e in result.timing_events if e["event_type"] == "tool_result"}
    assert "event_msg.exec_command_end" in sources
    assert all(t["result_at"] is not None for t in result.tool_calls)
    assert result.steps[0]["client_version"] == "0.120.0"
    assert result.steps[0]["first_input_event_type"] == "user_message"


def test_file_without_token_count_gives_no_steps_and_no_error():
    result = _checked(NO_USAGE)
    assert result.error is None
    assert result.steps == [] and result.tool_calls == []
    assert result.accounting.rejected == []
    assert result.accounting.lines_read == 11


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_fixture_line_is_accounted_and_none_rejected(path):
    result = read_log(path, "alice")
    acc = result.accounting
    acc.check()
    assert acc.lines_read == path.read_bytes().count(b"\n")
    assert acc.rejected == []
    assert not any(k.startswith("unknown:") for k in acc.ignored_by_type)


# -- synthetic rollouts ----------------------------------------------------------------------

T0 = "2026-05-01T10:00:"


def _ts(second: float) -> str:
    return f"{T0}{second:06.3f}Z"


def meta(sid, second=0, **extra):
    payload = {"id": sid, "timestamp": _ts(second), "cwd": "/w", "cli_version": "0.130.0"}
    payload.update(extra)
    return {"timestamp": _ts(second), "type": "session_meta", "payload": payload}


def turn(turn_id, second):
    return {
        "timestamp": _ts(second),
        "type": "turn_context",
        "payload": {"turn_id": turn_id, "model": "gpt-5.5", "cwd": "/w"},
    }


def ev(kind, second, **payload):
    return {"timestamp": _ts(second), "type": "event_msg", "payload": {"type": kind, **payload}}


def item(kind, second, **payload):
    return {
        "timestamp": _ts(second),
        "type": "response_item",
        "payload": {"type": kind, **payload},
    }


_totals = {}


def usage(second, inp, cached, out, reasoning=0, key="default"):
    """A token_count whose cumulative total keeps growing per `key` (a thread)."""
    last = {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }
    prev = _totals.get(key, dict.fromkeys(last, 0))
    total = {k: prev[k] + v for k, v in last.items()}
    _totals[key] = total
    return ev("token_count", second, info={"last_token_usage": last, "total_token_usage": total})


def write(path: Path, records, raw_lines=()):
    with open(path, "wb") as f:
        for r in records:
            f.write(json.dumps(r).encode() + b"\n")
        for raw in raw_lines:
            f.write(raw)
    return path


P = "019e0000-0000-7000-8000-000000000001"  # parent thread
PT1 = "019e0000-0001-7000-8000-000000000001"  # parent turns (after P, before the child)
PT2 = "019e0000-0002-7000-8000-000000000001"
C = "019e0000-0003-7000-8000-000000000001"  # child thread, spawned later
CT1 = "019e0000-0004-7000-8000-000000000001"


def _parent_records():
    _totals.pop("parent", None)
    return [
        meta(P),
        turn(PT1, 1),
        ev("user_message", 1.5, message="hello"),
        item("reasoning", 2),
        usage(3, 1000, 0, 50, key="parent"),
        turn(PT2, 4),
        ev("user_message", 4.5, message="more"),
        item("message", 5, role="assistant", content=[{"type": "output_text", "text": "ok"}]),
        usage(6, 1100, 1000, 20, key="parent"),
    ]


def _dedup(*results):
    kept = {}
    for result in results:
        for step in result.steps:
            kept.setdefault(step["step_id"], step)
    return kept


@pytest.mark.parametrize("how", ["subagent", "fork"])
def test_replayed_parent_history_is_attributed_to_the_parent(tmp_path, how):
    parent_file = write(tmp_path / "parent.jsonl", _parent_records())
    if how == "subagent":
        source = {"subagent": {"thread_spawn": {"parent_thread_id": P, "depth": 1}}}
        child_meta = meta(C, 10, source=source)
    else:
        child_meta = meta(C, 10, source="cli", forked_from_id=P)
    _totals.pop("child", None)
    child_records = [
        child_meta,
        *_parent_records(),  # the replay, parent session_meta included
        turn(CT1, 11),
        ev("user_message", 11.5, message="child task"),
        item("reasoning", 12),
        usage(13, 1200, 1100, 30, key="child"),
    ]
    child_file = write(tmp_path / "child.jsonl", child_records)

    parent = _checked(parent_file)
    child = _checked(child_file)
    assert [s["session_id"] for s in child.steps] == [P, P, C]
    # Replayed steps carry the parent's ids, so they collide with the parent's own steps.
    assert {s["step_id"] for s in child.steps[:2]} == {s["step_id"] for s in parent.steps}
    assert [s["step_index"] for s in child.steps] == [0, 1, 0]
    for replayed, own in zip(child.steps[:2], parent.steps, strict=True):
        for column in ("input_tokens_total", "prefix_tokens", "output_tokens", "round_id"):
            assert replayed[column] == own[column]
        assert replayed["is_sidechain"] is False
        assert replayed["session_started_at"] == own["session_started_at"]

    live = child.steps[2]
    assert live["round_id"] == f"{CT1}:0"
    assert live["parent_session_id"] == P
    if how == "subagent":
        assert live["is_sidechain"] is True
        assert live["agent_id"] == C
        assert live["root_session_id"] == P
        # The child's partition month follows its root session's start.
        assert live["session_started_at"] == parent.steps[0]["session_started_at"]
    else:
        # A fork is a main chain of its own, linked to the session it came from.
        assert live["is_sidechain"] is False
        assert live["agent_id"] is None
        assert live["root_session_id"] == C

    # After dropping duplicate step_ids nothing is counted twice, in normalize too.
    kept = _dedup(parent, child)
    assert len(kept) == 3
    assert sum(s["input_tokens_total"] for s in kept.values()) == 1000 + 1100 + 1200
    tables = normalize_files([child_file, parent_file], "alice")
    assert tables.steps.num_rows == 3
    assert sum(tables.steps.column("input_tokens_total").to_pylist()) == 3300
    kept_files = dict(
        zip(
            tables.steps.column("step_id").to_pylist(),
            tables.steps.column("source_file").to_pylist(),
            strict=True,
        )
    )
    # Each copy is kept from the file the thread belongs to.
    assert {kept_files[s["step_id"]] for s in parent.steps} == {str(parent_file)}


def test_nested_replays_go_to_the_latest_older_ancestor(tmp_path):
    """A fork of a sub-agent replays two ancestors; each turn goes to its own thread."""
    grand = "019d0000-0000-7000-8000-000000000001"
    g_turn = "019d0000-0001-7000-8000-000000000001"
    f_id = "019e0000-0009-7000-8000-000000000001"
    f_turn = "019e0000-000a-7000-8000-000000000001"
    _totals.pop("n", None)
    records = [
        meta(f_id, 20, forked_from_id=P),
        meta(P),
        meta(grand),
        turn(g_turn, 1),
        item("reasoning", 1.2),
        usage(1.5, 10, 0, 1, key="n"),
        turn(PT1, 2),
        item("reasoning", 2.2),
        usage(2.5, 20, 10, 1, key="n"),
        turn(f_turn, 21),
        item("reasoning", 21.2),
        usage(21.5, 30, 20, 1, key="n"),
    ]
    result = _checked(write(tmp_path / "fork.jsonl", records))
    assert [s["session_id"] for s in result.steps] == [grand, P, f_id]


def test_compaction_marks_only_the_next_step(tmp_path):
    _totals.pop("default", None)
    records = [
        meta(P),
        turn(PT1, 1),
        item("reasoning", 2),
        usage(3, 100, 0, 5),
        {"timestamp": _ts(4), "type": "compacted", "payload": {"message": "summary"}},
        ev("context_compacted", 4.5),
        item("reasoning", 5),
        usage(6, 40, 0, 5),
        item("reasoning", 7),
        usage(8, 60, 40, 5),
    ]
    result = _checked(write(tmp_path / "c.jsonl", records))
    assert [s["after_compaction"] for s in result.steps] == [False, True, False]
    assert result.accounting.ignored == 0


def test_cached_above_input_keeps_the_invariant_and_is_flagged(tmp_path):
    _totals.pop("default", None)
    records = [meta(P), turn(PT1, 1), item("reasoning", 2), usage(3, 5, 10, 1)]
    result = _checked(write(tmp_path / "c.jsonl", records))
    (step,) = result.steps
    assert (step["prefix_tokens"], step["append_tokens"]) == (10, 0)
    assert step["input_tokens_total"] == 10 == step["prefix_tokens"] + step["append_tokens"]
    assert step["reported_input_tokens"] == 5
    assert result.accounting.flagged_by_reason["codex cached_input_tokens > input_tokens"] == 1


def _exec_call(call_id, second, output=None, duration=None):
    records = [
        item(
            "function_call", second, name="exec_command", arguments='{"cmd":"ls"}', call_id=call_id
        )
    ]
    end = {"call_id": call_id, "exit_code": 0, "aggregated_output": "x\n"}
    if duration is not None:
        end["duration"] = duration
    records.append(ev("exec_command_end", second + 0.5, **end))
    if output is not None:
        records.append(item("function_call_output", second + 0.6, call_id=call_id, output=output))
    return records


def test_internal_latency_falls_back_to_exec_duration(tmp_path):
    _totals.pop("default", None)
    records = [
        meta(P),
        turn(PT1, 1),
        *_exec_call("call_a", 2, output="Wall time: 0.2500 seconds\nOutput:\n", duration=None),
        *_exec_call(
            "call_b", 3, output="no wall time here", duration={"secs": 1, "nanos": 500_000_000}
        ),
        *_exec_call("call_c", 4, output=None, duration={"secs": 2, "nanos": 250_000_000}),
        *_exec_call(
            "call_d", 5, output="Wall time: 0.1000 seconds\n", duration={"secs": 9, "nanos": 0}
        ),
        # exec_command_end's duration and a JSON output's metadata.duration_seconds: the
        # end record's wins
        *_exec_call(
            "call_e",
            5.8,
            output=json.dumps({"output": "x", "metadata": {"exit_code": 0, "duration_seconds": 7}}),
            duration={"secs": 3, "nanos": 0},
        ),
        usage(6.5, 100, 0, 5),
    ]
    result = _checked(write(tmp_path / "d.jsonl", records))
    by_id = {t["call_id"]: t for t in result.tool_calls}
    assert by_id["call_a"]["internal_latency_ms"] == 250  # TraceLab's Wall time
    assert by_id["call_b"]["internal_latency_ms"] == 1500  # exec duration (our B9 fix)
    assert by_id["call_c"]["internal_latency_ms"] == 2250
    assert by_id["call_d"]["internal_latency_ms"] == 100  # Wall time wins when both exist
    assert by_id["call_e"]["internal_latency_ms"] == 3000  # not the JSON metadata's 7000
    assert {c: by_id[c]["internal_latency_source"] for c in by_id} == {
        "call_a": "wall_time_line",
        "call_b": "exec_command_end",
        "call_c": "exec_command_end",
        "call_d": "wall_time_line",
        "call_e": "exec_command_end",
    }
    # exec_command_end came first: it set result_at, wall latency and the event source.
    assert by_id["call_a"]["wall_latency_ms"] == 500
    assert by_id["call_a"]["is_error"] is False


def test_json_output_metadata_gives_error_and_duration(tmp_path):
    _totals.pop("default", None)
    output = json.dumps({"output": "boom", "metadata": {"exit_code": 2, "duration_seconds": 0.75}})
    records = [
        meta(P),
        turn(PT1, 1),
        item("function_call", 2, name="shell", arguments="{}", call_id="call_j"),
        item("function_call_output", 3, call_id="call_j", output=output),
        usage(4, 100, 0, 5),
    ]
    (tool,) = _checked(write(tmp_path / "j.jsonl", records)).tool_calls
    assert tool["is_error"] is True
    assert tool["internal_latency_ms"] == 750
    assert tool["internal_latency_source"] == "output_metadata"  # TraceLab leaves it null (B9)


# -- bad input -------------------------------------------------------------------------------


def _good_records():
    _totals.pop("default", None)
    return [
        meta(P),
        turn(PT1, 1),
        ev("user_message", 1.5, message="hi"),
        item("reasoning", 2),
        usage(3, 100, 0, 5),
        item("reasoning", 4),
        usage(5, 200, 100, 6),
    ]


def test_bad_lines_are_rejected_with_reasons_and_the_rest_is_read(tmp_path):
    records = _good_records()
    negative = usage(6, -1, 0, 5)
    typed = usage(6.5, 12, 0, 5)
    typed["payload"]["info"]["last_token_usage"]["input_tokens"] = "12"
    old = item("reasoning", 7)
    old["timestamp"] = "1970-01-01T00:00:00Z"
    raw = [
        b'{"timestamp": "2026-05-01T10:00:06Z", "type": "event_msg", "payl\n',  # corrupt
        b'{"type": "event_msg", "payload": {"type": "user_message", "message": "\xff\xfe"}}\n',
        b"[1, 2, 3]\n",
        b"   \n",
        json.dumps(negative).encode() + b"\n",
        json.dumps(typed).encode() + b"\n",
        json.dumps(old).encode() + b"\n",
        json.dumps({"timestamp": _ts(8), "type": "mystery", "payload": {}}).encode() + b"\n",
        json.dumps(item("function_call", 9, name="x", arguments="{}")).encode() + b"\n",
        json.dumps(item("reasoning", 10)).encode() + b"\n",
        json.dumps(usage(11, 300, 200, 7)).encode() + b"\n",
        b'{"timestamp": "2026-05-01T10:00:12Z", "type": "event_msg", "payload": {"ty',  # truncated
    ]
    result = _checked(write(tmp_path / "bad.jsonl", records, raw))
    acc = result.accounting
    assert len(result.steps) == 3  # the good token_counts after the bad lines still count
    assert acc.lines_read == len(records) + len(raw)
    reasons = acc.rejected_by_reason
    assert reasons["malformed JSON"] == 1
    assert reasons["invalid UTF-8"] == 1
    assert reasons["not a JSON object"] == 1
    assert reasons["negative last_token_usage.input_tokens"] == 1
    assert reasons["last_token_usage.input_tokens is not an integer"] == 1
    assert reasons["timestamp before 2023-01-01"] == 1
    assert reasons["function_call without a string call_id"] == 1
    assert reasons["truncated last line (file still being written?)"] == 1
    assert acc.ignored_by_type["blank"] == 1
    assert acc.ignored_by_type["unknown:mystery"] == 1
    lines = {r["line_number"]: r for r in acc.rejected}
    assert lines[len(records) + 1]["reason"] == "malformed JSON"
    assert all(r["source_file"] == str(tmp_path / "bad.jsonl") for r in acc.rejected)


def test_lone_surrogates_and_nan_lines_are_still_read(tmp_path):
    """Lines orjson refuses but the standard parser reads (a cut emoji, NaN) stay usable."""
    _totals.pop("default", None)
    call = item("function_call", 2, name="exec_command", arguments="ARG", call_id="call_s")
    output = item("function_call_output", 3, call_id="call_s", output="x")
    text = item("message", 2.5, role="assistant", content=[{"type": "output_text", "text": "a"}])
    lines = [json.dumps(r).encode() + b"\n" for r in (meta(P), turn(PT1, 1), call, text)]
    lines[2] = lines[2].replace(b'"arguments": "ARG"', b'"arguments": "\\ud83d"')
    lines[-1] = lines[-1].replace(b'"text": "a"', b'"text": "a\\ud83d"')
    lines.append(
        json.dumps(output).encode().replace(b'"output": "x"', b'"output": "\\ud83d"') + b"\n"
    )
    nan_usage = (
        json.dumps(usage(4, 100, 0, 5))
        .encode()
        .replace(b'"total_tokens": 105', b'"total_tokens": NaN')
    )
    lines.append(nan_usage + b"\n")
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(lines))
    result = _checked(path)
    assert result.accounting.rejected == []
    (step,) = result.steps
    text_event = next(e for e in result.timing_events if e["event_type"] == "text")
    assert text_event["content_chars"] == len('[{"type":"output_text","text":"a?"}]')
    assert result.tool_calls[0]["result_chars"] == 1
    assert (result.tool_calls[0]["input_json"], result.tool_calls[0]["input_chars"]) == ("?", 1)
    assert step["output_tokens"] == 5


def test_gzip_copy_reads_identically(tmp_path):
    plain = _checked(TREZO)
    packed = tmp_path / "trezo.jsonl.gz"
    packed.write_bytes(gzip.compress(TREZO.read_bytes()))
    zipped = read_log(packed, "alice")
    zipped.accounting.check()
    assert zipped.steps == [dict(s, source_file=str(packed)) for s in plain.steps]
    assert zipped.tool_calls == plain.tool_calls
    assert zipped.timing_events == plain.timing_events


def test_damaged_gzip_keeps_what_was_read(tmp_path):
    packed = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(TREZO.read_bytes())
    packed.write_bytes(data[: len(data) // 2])
    result = read_codex(packed)
    result.accounting.check()
    assert result.error is None
    assert 0 < len(result.steps) < 14
    assert any(
        r["reason"].startswith("unreadable rest of file") for r in result.accounting.rejected
    )


def test_rollout_without_ids_uses_the_file_name(tmp_path):
    _totals.pop("default", None)
    records = [item("reasoning", 1), usage(2, 10, 0, 1), item("reasoning", 3), usage(4, 20, 10, 1)]
    landed = write(tmp_path / "3f2a9c.jsonl", records)
    (first, second) = _checked(landed).steps
    assert (first["session_id"], first["round_id"], first["turn_id"]) == (
        "3f2a9c",
        "3f2a9c:0",
        None,
    )
    assert second["round_id"] == "3f2a9c:1"
    named = read_codex(landed, origin="/home/u/.codex/sessions/rollout-2026-x.jsonl.gz")
    assert named.steps[0]["step_id"] == "codex:rollout-2026-x:rollout-2026-x:0"


def test_missing_file_is_an_error_not_an_exception(tmp_path):
    result = read_codex(tmp_path / "nope.jsonl")
    assert result.error and "cannot read" in result.error


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_corrupted_rollouts_never_raise(tmp_path_factory, data):
    lines = SEGMENT.read_bytes().splitlines(keepends=True)
    kept = data.draw(st.lists(st.sampled_from(range(len(lines))), max_size=40))
    out = bytearray()
    for i in kept:
        line = bytearray(lines[i])
        if data.draw(st.booleans()):
            cut = data.draw(st.integers(0, len(line)))
            line = line[:cut] + data.draw(st.binary(max_size=8)) + line[cut:]
        out += line
    if data.draw(st.booleans()) and out:
        out = out[: data.draw(st.integers(0, len(out)))]
    path = tmp_path_factory.mktemp("h") / "x.jsonl"
    path.write_bytes(bytes(out))
    result = read_codex(path)
    result.accounting.check()
    to_table("steps", result.steps)
    to_table("tool_calls", result.tool_calls)
    to_table("timing_events", result.timing_events)


_FRAGMENTS = st.sampled_from(
    [
        "Wall time:",
        " 1.25 seconds",
        "seconds",
        "\n",
        "Exit code",
        "Process exited with code",
        ": ",
        " ",
        "-3",
        "0",
        "x",
        "Wall time: 2 seconds",
        "é",
        "Chunk ID: 3fa9\n",
        "Wall time: 0.5112 seconds\n",
        "Process exited with code 1\n",
        "Exit code: 0\n",
        "٣",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_fast_scans_agree_with_the_reference_regexes(text):
    match = _WALL_TIME.search(text)
    wall_ms = round(float(match.group(1)) * 1000) if match else None
    assert _wall_time_ms(text) == wall_ms
    match = _EXIT_CODE.search(text)
    code = int(match.group(1)) if match else None
    assert _exit_code(text) == code
    # The standard-header shortcut, when it applies, gives the same two values.
    header = _runner_header(text)
    assert header is None or header == (code, wall_ms)


@pytest.mark.parametrize(
    "text",
    [
        "Chunk ID: 9f3a\nWall time: 0.5112 seconds\nProcess exited with code 1\nOutput:\nx",
        "Exit code: 0\nWall time: 12 seconds\nOutput:\n",
        "Exit code: -2\nWall time: 0.0004 seconds\n",
    ],
)
def test_standard_runner_headers_take_the_shortcut(text):
    header = _runner_header(text)
    assert header is not None
    assert header == (_exit_code(text), _wall_time_ms(text))


def test_reference_regexes_are_tracelabs():
    # Anchored at a line start; "Wall time" inside a line does not count.
    assert _wall_time_ms("Chunk\nWall time: 1.0016 seconds\n") == 1002
    assert _wall_time_ms("see Wall time: 3 seconds") is None
    assert re.search(_EXIT_CODE, "Exit code: 0") is not None
