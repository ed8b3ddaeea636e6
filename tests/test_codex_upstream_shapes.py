"""Codex reader against the record shapes Codex CLI writes, across versions (mid 2025 - 2026).

Each rollout here is crafted (our own values) in the shape of one upstream record kind: the
envelope kinds (session_meta, turn_context, response_item, event_msg, compacted), every
event and response item kind a client persists, the older and newer field shapes, and the
pre-envelope layout of mid 2025. The point: no valid record is rejected, every line is
accounted for, and steps, tools and latencies are what tracelab-ingest §4-§5 prescribe.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.detect import CODEX, detect_format
from tracelab_pipeline.schema import to_table

SID = "019f1000-0000-7000-8000-0000000000a1"
TURN = "019f1000-0001-7000-8000-0000000000a1"
T0 = "2026-03-02T09:00:"


def _ts(second: float) -> str:
    return f"{T0}{second:06.3f}Z"


def rec(kind: str, second: float, payload) -> dict:
    return {"timestamp": _ts(second), "type": kind, "payload": payload}


def ev(kind: str, second: float, **fields) -> dict:
    return rec("event_msg", second, {"type": kind, **fields})


def item(kind: str, second: float, **fields) -> dict:
    return rec("response_item", second, {"type": kind, **fields})


def meta(second=0.0, sid=SID, **extra) -> dict:
    payload = {
        "id": sid,
        "timestamp": _ts(second),
        "cwd": "/work/proj",
        "originator": "codex_cli_rs",
        "cli_version": "0.125.0",
        "source": "cli",
        "model_provider": "openai",
        "base_instructions": {"text": "be brief"},
        "git": {"commit_hash": "0" * 40, "branch": "main"},
    }
    payload.update(extra)
    return rec("session_meta", second, payload)


def turn_context(second: float, turn=TURN) -> dict:
    # The fields a 2026 client writes; only turn_id, model and cwd are read.
    return rec(
        "turn_context",
        second,
        {
            "turn_id": turn,
            "cwd": "/work/proj",
            "current_date": "2026-03-02",
            "timezone": "Europe/Paris",
            "approval_policy": "on-request",
            "sandbox_policy": {"type": "workspace-write", "network_access": False},
            "model": "gpt-5.4",
            "personality": "pragmatic",
            "collaboration_mode": {"mode": "default", "settings": {"model": "gpt-5.4"}},
            "effort": "high",
            "summary": "auto",
            "truncation_policy": {"mode": "tokens", "limit": 10000},
        },
    )


class Usage:
    """token_count records whose cumulative total grows, as the client writes them."""

    def __init__(self):
        self.total = dict.fromkeys(
            ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens"), 0
        )
        self.total["total_tokens"] = 0

    def __call__(self, second, inp, cached, out, reasoning=0) -> dict:
        last = {
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "output_tokens": out,
            "reasoning_output_tokens": reasoning,
            "total_tokens": inp + out,
        }
        self.total = {k: self.total[k] + v for k, v in last.items()}
        info = {
            "total_token_usage": dict(self.total),
            "last_token_usage": last,
            "model_context_window": 258400,
        }
        limits = {
            "limit_id": "codex",
            "limit_name": None,
            "primary": {"used_percent": 4.0, "window_minutes": 300, "resets_at": 1772445600},
            "secondary": None,
            "credits": {"has_credits": False, "unlimited": False, "balance": None},
            "plan_type": "plus",
        }
        return ev("token_count", second, info=info, rate_limits=limits)


def write(path: Path, records) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def read(tmp_path: Path, records, name="rollout-2026-03-02T09-00-00-x.jsonl"):
    result = read_log(write(tmp_path / name, records), "alice")
    assert result.error is None, result.error
    assert result.provider == "codex"
    result.accounting.check()
    to_table("steps", result.steps)
    to_table("tool_calls", result.tool_calls)
    to_table("timing_events", result.timing_events)
    return result


def no_bad_lines(result):
    acc = result.accounting
    assert acc.rejected == [], acc.rejected
    assert not [k for k in acc.ignored_by_type if k.startswith("unknown:")], acc.ignored_by_type


# -- every kind a client persists ---------------------------------------------------------------

# event_msg kinds that carry nothing a step needs, each in a shape some client writes.
IGNORED_EVENTS = [
    ("agent_message", {"message": "done", "phase": "final_answer", "memory_citation": None}),
    ("agent_reasoning", {"text": "**Planning**"}),
    ("agent_reasoning_raw_content", {"text": "raw"}),
    ("task_complete", {"turn_id": TURN, "last_agent_message": "done", "duration_ms": 900}),
    ("turn_aborted", {"turn_id": TURN, "reason": "interrupted", "duration_ms": 5}),
    ("thread_rolled_back", {"num_turns": 1}),
    ("thread_name_updated", {"thread_id": SID, "thread_name": "fix the build"}),
    ("entered_review_mode", {"target": {"type": "uncommittedChanges"}}),
    ("exited_review_mode", {"review_output": None}),
    ("undo_completed", {"success": True}),
    ("error", {"message": "stream closed", "codex_error_info": "server_overloaded"}),
    ("warning", {"message": "slow"}),
    ("item_completed", {"thread_id": SID, "turn_id": TURN, "item": {"type": "Plan"}}),
    ("web_search_end", {"call_id": "ws_1", "query": "q", "action": {"type": "search"}}),
    ("view_image_tool_call", {"call_id": "c9", "path": "/work/proj/a.png"}),
    ("image_generation_end", {"call_id": "ig_1", "status": "completed", "result": "aGk="}),
    ("thread_context_usage_updated", {"usage": {"total_bytes": 256}}),
    ("thread_goal_updated", {"goal": "ship"}),
    ("collab_agent_spawn_end", {"call_id": "s1", "sender_thread_id": SID, "prompt": ""}),
    ("collab_agent_interaction_end", {"call_id": "s2", "sender_thread_id": SID}),
    ("collab_waiting_end", {"call_id": "s3", "sender_thread_id": SID, "statuses": {}}),
    ("collab_close_end", {"call_id": "s4", "sender_thread_id": SID}),
    ("collab_resume_end", {"call_id": "s5", "sender_thread_id": SID}),
    ("guardian_assessment", {"id": "g1", "status": "approved"}),
    ("dynamic_tool_call_request", {"callId": "d1", "turnId": TURN, "tool": "t"}),
    ("dynamic_tool_call_response", {"call_id": "d1", "turn_id": TURN, "success": True}),
    ("exec_approval_request", {"call_id": "c8", "command": ["ls"]}),
    ("plan_update", {"plan": [{"step": "a", "status": "pending"}]}),
    ("turn_diff", {"unified_diff": "--- a\n+++ b\n"}),
]


@pytest.mark.parametrize(("kind", "fields"), IGNORED_EVENTS, ids=[k for k, _ in IGNORED_EVENTS])
def test_informational_events_are_ignored_by_name_and_change_nothing(tmp_path, kind, fields):
    usage = Usage()
    records = [
        meta(),
        turn_context(1),
        ev("user_message", 2, message="hi", images=[], local_images=[], text_elements=[]),
        item("reasoning", 3, summary=[], content=None, encrypted_content="gAAAA"),
        ev(kind, 3.5, **fields),
        usage(4, 1000, 0, 50, 20),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert result.accounting.ignored_by_type[f"event_msg.{kind}"] == 1
    [step] = result.steps
    assert step["tool_call_count"] == 0
    assert [e["event_type"] for e in result.timing_events] == [
        "user_message",
        "reasoning",
        "usage_report",
    ]


# response_item kinds that are not steps, model text or tracked tools (tracelab-ingest §4.1, B16).
IGNORED_ITEMS = [
    ("message", {"role": "developer", "content": [{"type": "input_text", "text": "rules"}]}),
    ("message", {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
    ("web_search_call", {"status": "completed", "action": {"type": "search", "query": "q"}}),
    ("ghost_snapshot", {"ghost_commit": {"id": "abc", "parent": None}}),
    ("image_generation_call", {"id": "ig_1", "status": "completed", "result": "aGk="}),
    ("tool_search_output", {"call_id": "ts1", "status": "completed", "execution": "client"}),
    ("agent_message", {"author": "/root", "recipient": "/root/a", "content": []}),
]


@pytest.mark.parametrize(
    ("kind", "fields"), IGNORED_ITEMS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(IGNORED_ITEMS)]
)
def test_context_and_untracked_items_are_ignored_by_name(tmp_path, kind, fields):
    usage = Usage()
    records = [meta(), turn_context(1), item(kind, 2, **fields), usage(3, 500, 0, 10)]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert len(result.steps) == 1
    assert result.accounting.used == 3  # meta, turn_context, token_count
    assert result.accounting.ignored == 1


def full_2026_turn() -> list[dict]:
    """One turn of a recent client, every persisted kind in its place (also a seed of the
    property tests in test_bad_input.py)."""
    usage = Usage()
    records = [
        meta(),
        ev("task_started", 0.5, turn_id=TURN, started_at=1772442000, model_context_window=258400),
        item("message", 0.6, role="developer", content=[{"type": "input_text", "text": "x"}]),
        turn_context(0.7),
        ev("user_message", 1, message="fix it", images=[], local_images=[], text_elements=[]),
        ev("token_count", 1.2, info=None, rate_limits={"primary": {"used_percent": 1.0}}),
        item(
            "reasoning", 2, summary=[{"type": "summary_text", "text": "s"}], encrypted_content="e"
        ),
        item(
            "function_call",
            3,
            name="exec_command",
            arguments='{"cmd":"make"}',
            call_id="call_a",
        ),
        usage(3.5, 2000, 1000, 80, 30),
        ev(
            "exec_command_end",
            4,
            call_id="call_a",
            process_id="77",
            turn_id=TURN,
            command=["/bin/sh", "-lc", "make"],
            cwd="/work/proj",
            parsed_cmd=[],
            source="unified_exec_startup",
            stdout="",
            stderr="",
            aggregated_output="ok\n",
            exit_code=0,
            duration={"secs": 0, "nanos": 400_000_000},
            formatted_output="",
            status="completed",
        ),
        item(
            "function_call_output",
            4.1,
            call_id="call_a",
            output="Chunk ID: 1a2b\nWall time: 0.3500 seconds\nProcess exited with code 0\nok\n",
        ),
        item(
            "custom_tool_call",
            6,
            status="completed",
            call_id="call_b",
            name="apply_patch",
            input="*** Begin Patch\n*** End Patch\n",
        ),
        usage(6.2, 2050, 2000, 20),
        ev(
            "patch_apply_end",
            6.5,
            call_id="call_b",
            turn_id=TURN,
            stdout="",
            stderr="bad hunk\n",
            success=False,
            changes={},
            status="failed",
        ),
        item("custom_tool_call_output", 6.6, call_id="call_b", output="apply_patch failed"),
        item(
            "message",
            7,
            role="assistant",
            content=[{"type": "output_text", "text": "done"}],
            phase="final_answer",
        ),
        usage(8, 2100, 2000, 40),
        ev("agent_message", 8.1, message="done", phase="final_answer"),
        ev("task_complete", 8.2, turn_id=TURN, last_agent_message="done"),
    ]
    return records


def test_full_2026_turn_reads_every_line(tmp_path):
    """One turn of a recent client, every persisted kind in its place: nothing rejected,
    nothing unknown, steps and tools as §4.4-§4.5 define them."""
    records = full_2026_turn()
    result = read(tmp_path, records)
    no_bad_lines(result)
    acc = result.accounting
    assert acc.lines_read == len(records)
    assert acc.ignored_by_type["event_msg.token_count(info=null)"] == 1
    assert len(result.steps) == 3
    first, second, third = result.steps
    assert (first["input_tokens_total"], first["prefix_tokens"], first["output_tokens"]) == (
        2000,
        1000,
        80,
    )
    assert first["reasoning_tokens"] == 30
    assert first["model"] == "gpt-5.4" and first["turn_id"] == TURN
    assert [s["tool_call_count"] for s in result.steps] == [1, 1, 0]
    by_id = {t["call_id"]: t for t in result.tool_calls}
    shell, patch = by_id["call_a"], by_id["call_b"]
    # The first result record sets result_at and the wall latency (§4.5): exec_command_end.
    assert shell["wall_latency_ms"] == 1000
    assert shell["internal_latency_ms"] == 350  # the Wall time line wins over duration
    assert shell["is_error"] is False
    assert shell["result_chars"] == 3  # aggregated_output of the first result record
    assert patch["is_error"] is True  # the last inference: the output has no exit code
    assert patch["result_chars"] == len("bad hunk\n")
    assert patch["wall_latency_ms"] == 500
    sources = [e["source"] for e in result.timing_events if e["step_id"] == second["step_id"]]
    assert sources == [
        "event_msg.exec_command_end",
        "response_item.custom_tool_call",
        "event_msg.token_count",
    ]
    assert third["current_tool_result_count"] == 1  # the patch result is the next step's input


# -- tool outputs in their newer shapes -------------------------------------------------------


def test_structured_output_is_measured_as_json_like_tracelab(tmp_path):
    """function_call_output.output may be an array of content items (images, text) since late
    2025. TraceLab measures it as JSON and infers no error and no Wall time from it."""
    usage = Usage()
    content = [
        {"type": "input_text", "text": "Wall time: 2.0 seconds\nExit code: 1"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
    ]
    records = [
        meta(),
        turn_context(1),
        item("function_call", 2, name="view_image", arguments='{"path":"a.png"}', call_id="c1"),
        usage(3, 800, 0, 20),
        item("function_call_output", 4, call_id="c1", output=content),
        usage(5, 900, 800, 10),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    [tool] = result.tool_calls
    assert tool["result_chars"] == len(json.dumps(content, separators=(",", ":")))
    assert tool["is_error"] is None
    assert tool["internal_latency_ms"] is None
    assert tool["wall_latency_ms"] == 2000


def test_output_written_as_an_object_is_read_like_tracelab(tmp_path):
    """Some builds wrote the output as {content, success, ...}; TraceLab infers nothing from a
    non-string output and measures it as JSON."""
    usage = Usage()
    output = {"content": "Exit code: 1\nboom", "success": False, "is_user_feedback": False}
    records = [
        meta(),
        turn_context(1),
        item("function_call", 2, name="shell", arguments='{"command":["false"]}', call_id="c1"),
        usage(3, 300, 0, 9),
        item("function_call_output", 3.5, call_id="c1", output=output),
        usage(4, 400, 300, 9),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    [tool] = result.tool_calls
    assert tool["result_chars"] == len(json.dumps(output, separators=(",", ":")))
    assert tool["is_error"] is None and tool["internal_latency_ms"] is None
    assert tool["wall_latency_ms"] == 1500


def test_output_without_call_id_is_ignored_not_rejected(tmp_path):
    """Newer clients make an output's call_id optional; TraceLab finds no tool for it."""
    usage = Usage()
    records = [
        meta(),
        turn_context(1),
        item("function_call_output", 2, output="orphan"),
        item("custom_tool_call_output", 2.5, output="orphan"),
        usage(3, 100, 0, 5),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    ignored = result.accounting.ignored_by_type
    assert ignored["response_item.function_call_output(no call_id)"] == 1
    assert ignored["response_item.custom_tool_call_output(no call_id)"] == 1
    assert len(result.steps) == 1 and result.tool_calls == []


def test_untracked_tool_calls_and_their_outputs_are_accounted_as_tracelab(tmp_path):
    """local_shell_call (codex-mini) and tool_search_call are model calls TraceLab does not
    track (B16): no tool, and the output that answers them is a result of an unknown call."""
    usage = Usage()
    action = {"type": "exec", "command": ["ls"], "timeout_ms": 1000, "working_directory": None}
    records = [
        meta(),
        turn_context(1),
        item("local_shell_call", 2, call_id="ls1", status="completed", action=action),
        item("tool_search_call", 2.2, call_id="ts1", execution="client", arguments={"q": "x"}),
        usage(3, 300, 0, 9),
        item("function_call_output", 4, call_id="ls1", output="a\nb\n"),
        item("tool_search_output", 4.2, call_id="ts1", status="completed", execution="client"),
        usage(5, 400, 300, 9),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    ignored = result.accounting.ignored_by_type
    assert ignored["response_item.local_shell_call"] == 1
    assert ignored["response_item.tool_search_call"] == 1
    assert ignored["response_item.function_call_output(unknown call_id)"] == 1
    assert [s["tool_call_count"] for s in result.steps] == [0, 0]


def _mcp_end(second, call_id, secs, nanos, result):
    return ev(
        "mcp_tool_call_end",
        second,
        call_id=call_id,
        invocation={"server": "docs", "tool": "search", "arguments": {"q": "x"}},
        duration={"secs": secs, "nanos": nanos},
        result=result,
    )


def test_mcp_duration_is_the_internal_latency_fallback(tmp_path):
    """mcp_tool_call_end (persisted since late 2025) gives the MCP tool's own run time. It fills
    the internal latency TraceLab leaves null (B9), and nothing else: result_at, the wall
    latency, the tool_result event and is_error come from the output record as in TraceLab."""
    usage = Usage()
    ok = {"Ok": {"content": [{"type": "text", "text": "found"}], "isError": False}}
    records = [
        meta(),
        turn_context(1),
        item(
            "function_call",
            2,
            name="search",
            namespace="mcp__docs__",
            arguments='{"q":"x"}',
            call_id="m1",
        ),
        item("function_call", 2.1, name="search", arguments='{"q":"y"}', call_id="m2"),
        _mcp_end(3.5, "m1", 1, 250_000_000, ok),
        _mcp_end(3.6, "m2", 9, 0, {"Err": "timeout"}),
        _mcp_end(3.7, "zz", 1, 0, ok),  # a call this file never saw
        item("function_call_output", 4, call_id="m1", output=[{"type": "input_text", "text": "f"}]),
        item("function_call_output", 4.5, call_id="m2", output="Wall time: 0.5 seconds\nerr"),
        usage(5, 700, 0, 30),
        usage(6, 800, 700, 5),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert result.accounting.ignored_by_type["event_msg.mcp_tool_call_end(unknown call_id)"] == 1
    by_id = {t["call_id"]: t for t in result.tool_calls}
    assert by_id["m1"]["internal_latency_ms"] == 1250
    assert by_id["m2"]["internal_latency_ms"] == 500  # a Wall time line still wins
    assert by_id["m1"]["internal_latency_source"] == "mcp_tool_call_end"
    assert by_id["m2"]["internal_latency_source"] == "wall_time_line"
    assert by_id["m1"]["wall_latency_ms"] == 2000  # from the output record
    assert by_id["m1"]["result_at"].isoformat().endswith("09:00:04+00:00")
    assert by_id["m1"]["is_error"] is None and by_id["m2"]["is_error"] is None
    results = [e for e in result.timing_events if e["event_type"] == "tool_result"]
    assert [e["source"] for e in results] == ["response_item.function_call_output"] * 2


def test_mcp_end_after_its_step_closed_is_used(tmp_path):
    usage = Usage()
    records = [
        meta(),
        turn_context(1),
        item("function_call", 2, name="search", arguments="{}", call_id="m1"),
        usage(3, 100, 0, 5),
        _mcp_end(4, "m1", 0, 80_000_000, {"Ok": {"content": []}}),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert result.accounting.used == len(records)
    assert result.tool_calls[0]["internal_latency_ms"] == 80
    assert result.tool_calls[0]["internal_latency_source"] == "mcp_tool_call_end"


# -- compaction in all its names ------------------------------------------------------------------

COMPACTIONS = [
    rec("compacted", 3, {"message": "summary", "replacement_history": [{"type": "message"}]}),
    ev("context_compacted", 3),
    item("compaction", 3, encrypted_content="gAAAA"),
    item("compaction_summary", 3, encrypted_content="gAAAA"),  # the item's older name
    item("context_compaction", 3, encrypted_content="gAAAA"),  # 2026 clients
]


@pytest.mark.parametrize("marker", COMPACTIONS, ids=lambda r: r["payload"].get("type", r["type"]))
def test_every_compaction_record_marks_the_next_step(tmp_path, marker):
    usage = Usage()
    records = [
        meta(),
        turn_context(1),
        usage(2, 100, 0, 5),
        marker,
        usage(4, 50, 0, 5),
        usage(5, 60, 50, 5),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert [s["after_compaction"] for s in result.steps] == [False, True, False]
    assert result.accounting.used == len(records)


# -- token_count shapes -------------------------------------------------------------------------


def test_context_window_fill_is_a_zero_step_and_flagged(tmp_path):
    """On a context overflow the client writes a token_count whose usages carry only
    total_tokens. TraceLab keeps it as a round (its total differs); so do we, visibly."""
    usage = Usage()
    fill = ev(
        "token_count",
        4,
        info={
            "total_token_usage": {
                "input_tokens": 0,
                "cached_input_tokens": 0,
                "output_tokens": 0,
                "reasoning_output_tokens": 0,
                "total_tokens": 258400,
            },
            "last_token_usage": {
                "input_tokens": 0,
                "cached_input_tokens": 0,
                "output_tokens": 0,
                "reasoning_output_tokens": 0,
                "total_tokens": 1400,
            },
            "model_context_window": 258400,
        },
        rate_limits=None,
    )
    records = [meta(), turn_context(1), usage(2, 257000, 0, 0), fill]
    result = read(tmp_path, records)
    no_bad_lines(result)
    assert [s["input_tokens_total"] for s in result.steps] == [257000, 0]
    assert result.accounting.flagged_by_reason["codex token_count with zero usage kept as a step"]


def test_rate_limit_only_and_flat_token_counts_are_ignored(tmp_path):
    usage = Usage()
    older_limits = {"primary_used_percent": 12.0, "primary_window_minutes": 300}
    flat = {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 2, "total_tokens": 12}
    records = [
        meta(),
        turn_context(1),
        ev("token_count", 2, info=None, rate_limits=older_limits),
        ev("token_count", 2.5, rate_limits=None),
        ev("token_count", 3, **flat),
        usage(4, 100, 0, 5),
    ]
    result = read(tmp_path, records)
    no_bad_lines(result)
    ignored = result.accounting.ignored_by_type
    assert ignored["event_msg.token_count(info=null)"] == 1
    assert ignored["event_msg.token_count(no info)"] == 2
    assert result.accounting.flagged_by_reason[
        "codex token_count with flat usage (no info) not used"
    ]
    assert len(result.steps) == 1


def test_older_usage_with_null_or_missing_counters_reads_as_zero(tmp_path):
    """Clients of autumn 2025 wrote cached/reasoning counters as optional (null or absent)."""
    last = {"input_tokens": 900, "cached_input_tokens": None, "output_tokens": 40}
    info = {"total_token_usage": dict(last), "last_token_usage": last}
    records = [meta(), turn_context(1), ev("token_count", 2, info=info, rate_limits=None)]
    result = read(tmp_path, records)
    no_bad_lines(result)
    [step] = result.steps
    assert (step["input_tokens_total"], step["prefix_tokens"], step["append_tokens"]) == (
        900,
        0,
        900,
    )
    assert step["reasoning_tokens"] == 0


# -- session sources --------------------------------------------------------------------------

SOURCES = [
    "cli",
    "vscode",
    "exec",
    "mcp",
    "unknown",
    {"custom": "my-ide"},
    {"subagent": "review"},
    {"subagent": "compact"},
    {"subagent": "memory_consolidation"},
    {"subagent": {"other": "x"}},
    {
        "subagent": {
            "thread_spawn": {
                "parent_thread_id": "019f0fff-0000-7000-8000-0000000000a1",
                "depth": 1,
                "agent_nickname": "Scout",
                "agent_role": "worker",
            }
        }
    },
]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: json.dumps(s)[:40])
def test_every_session_source_shape_is_read(tmp_path, source):
    usage = Usage()
    records = [meta(source=source), turn_context(1), usage(2, 100, 0, 5)]
    result = read(tmp_path, records)
    no_bad_lines(result)
    [step] = result.steps
    spawned = isinstance(source, dict) and isinstance(source.get("subagent"), dict)
    spawned = spawned and "thread_spawn" in source["subagent"]
    assert step["parent_session_id"] == (
        "019f0fff-0000-7000-8000-0000000000a1" if spawned else None
    )
    assert step["is_sidechain"] is (isinstance(source, dict) and "subagent" in source)


# -- the pre-envelope layout (Codex CLI of mid 2025) ----------------------------------------------


def _pre_envelope_lines(header: dict) -> list[dict]:
    return [
        header,
        {"record_type": "state"},
        {"type": "message", "id": None, "role": "user", "content": [{"type": "input_text"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
        {
            "type": "function_call",
            "id": "fc_1",
            "name": "shell",
            "arguments": '{"command":["ls"]}',
            "call_id": "call_1",
        },
        {"record_type": "state"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"output":"a"}'},
        {"type": "local_shell_call", "call_id": "ls1", "status": "completed", "action": {}},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text"}]},
    ]


HEADERS = [
    # the first builds: id, timestamp, instructions (always written, often null), git
    {
        "id": "5973b6c0-94b8-487b-a530-2aeb6098ae0e",
        "timestamp": "2025-06-07T17:24:21.000Z",
        "instructions": None,
        "git": {"branch": "main"},
    },
    # later builds added cwd, originator and cli_version
    {
        "id": "5973b6c0-94b8-487b-a530-2aeb6098ae0f",
        "timestamp": "2025-08-20T13:20:47.060Z",
        "cwd": "/work/proj",
        "originator": "codex_cli_rs",
        "cli_version": "0.22.0",
        "instructions": "be brief",
    },
]


@pytest.mark.parametrize("header", HEADERS, ids=["first-builds", "later-builds"])
def test_pre_envelope_rollout_is_codex_with_no_steps_and_no_bad_lines(tmp_path, header):
    """Before the type/payload envelope a rollout held a bare header, state markers and bare
    response items, and no token usage: no steps (TraceLab reads nothing there either), but
    every line is a valid record, ignored under its kind, not rejected."""
    lines = _pre_envelope_lines(header)
    path = write(tmp_path / "rollout-2025-06-07T17-24-21-5973b6c0.jsonl", lines)
    assert detect_format(path) == CODEX
    result = read_log(path, "alice")
    assert result.error is None and result.provider == "codex"
    result.accounting.check()
    no_bad_lines(result)
    assert result.steps == [] and result.tool_calls == []
    ignored = result.accounting.ignored_by_type
    assert ignored["legacy.session_header"] == 1
    assert ignored["legacy.state"] == 2
    assert ignored["legacy.response_item.message"] == 2
    assert ignored["legacy.response_item.function_call"] == 1
    assert ignored["legacy.response_item.function_call_output"] == 1
    assert ignored["legacy.response_item.local_shell_call"] == 1
    assert result.accounting.ignored == len(lines)
    assert result.accounting.flagged_by_reason[
        "pre-envelope Codex rollout (mid 2025): no token usage, no steps"
    ]


def test_record_type_tagged_lines_are_ignored_not_rejected(tmp_path):
    """A variant in Codex's history tagged each line with record_type (session_meta, response,
    event, state) instead of the envelope; its lines are valid, so they are ignored too."""
    lines = [
        {
            "timestamp": "2025-09-01T10:00:00Z",
            "record_type": "session_meta",
            "id": "5973b6c0-94b8-487b-a530-2aeb6098ae10",
            "cwd": "/w",
            "originator": "codex_cli_rs",
            "cli_version": "0.28.0",
            "instructions": None,
        },
        {"timestamp": "2025-09-01T10:00:01Z", "record_type": "response", "type": "message"},
        {
            "timestamp": "2025-09-01T10:00:02Z",
            "record_type": "event",
            "id": "0",
            "msg": {"type": "token_count", "input_tokens": 5, "output_tokens": 1},
        },
        {"timestamp": "2025-09-01T10:00:03Z", "record_type": "state"},
    ]
    result = read_log(write(tmp_path / "r.jsonl", lines), "alice")
    assert result.error is None and result.provider == "codex"
    result.accounting.check()
    no_bad_lines(result)
    assert result.accounting.ignored_by_type["legacy.event_msg.token_count"] == 1
    assert result.steps == []


def test_other_json_lines_with_an_id_and_timestamp_are_not_taken_for_codex(tmp_path):
    """The pre-envelope header test needs one of its own keys, so a generic event log is not
    claimed (and silently ignored) as a Codex rollout."""
    path = write(tmp_path / "events.jsonl", [{"id": "e1", "timestamp": "2026-01-01T00:00:00Z"}])
    assert detect_format(path) is None
    assert read_log(path, "alice").error == "unrecognized log format"


def test_a_log_whose_every_line_looks_like_a_header_is_not_a_rollout(tmp_path):
    """A pre-envelope rollout has one bare header, its first line. A command history whose
    every line has an id, a timestamp and a cwd was claimed as Codex and all of its lines
    ignored as headers: it is an unrecognized log, its lines kept aside."""
    lines = [
        {"id": f"h{i}", "timestamp": f"2026-01-01T00:00:0{i}Z", "cwd": "/w", "command": "ls"}
        for i in range(3)
    ]
    path = write(tmp_path / "history.jsonl", lines)
    assert detect_format(path) is None
    result = read_log(path, "alice")
    assert result.error == "unrecognized log format"
    assert len(result.accounting.rejected) == 3


def test_a_header_shaped_line_after_the_first_is_rejected_not_ignored(tmp_path):
    # Only the first record can be the session header; a later one is no valid record.
    lines = [*_pre_envelope_lines(HEADERS[0]), HEADERS[1]]
    result = read_log(write(tmp_path / "rollout-2025-06-07T17-24-21-x.jsonl", lines), "alice")
    result.accounting.check()
    assert result.accounting.ignored_by_type["legacy.session_header"] == 1
    assert result.accounting.rejected_by_reason == {"record without a string type": 1}
    flags = result.accounting.flagged_by_reason
    assert flags["pre-envelope Codex rollout (mid 2025): no token usage, no steps"] == 1


def test_a_blank_first_line_does_not_hide_the_pre_envelope_header(tmp_path):
    path = tmp_path / "rollout-2025-06-07T17-24-21-y.jsonl"
    path.write_text("\n" + "".join(json.dumps(r) + "\n" for r in _pre_envelope_lines(HEADERS[1])))
    assert detect_format(path) == CODEX
    result = read_log(path, "alice")
    result.accounting.check()
    no_bad_lines(result)
    assert result.accounting.ignored_by_type["legacy.session_header"] == 1
