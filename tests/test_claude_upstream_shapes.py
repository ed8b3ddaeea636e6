"""Claude Code reader on the record shapes real clients write, old and new (crafted sessions).

Each test writes a small session in one shape Claude Code (or a proxy behind it) is known to
write to ~/.claude/projects/<project>/<session>.jsonl or <session>/subagents/agent-<id>.jsonl,
and checks the accounting (every line used, ignored or rejected with its reason) and the
steps, tokens, tool calls and events tracelab-ingest §3/§5 define for it. All values are ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracelab_pipeline import schema
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.claude_code import read_claude_code

SID = "0b6f2c1e-4d5a-4e7b-9c3d-2a1f0e9d8c7b"
PROJECT = "-home-dev-shapes"
USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000,
    "output_tokens": 55,
}


def at(second: float) -> str:
    """An ISO timestamp as Claude Code writes it: milliseconds and a Z."""
    return f"2025-09-14T08:00:{second:06.3f}Z"


def ts(second: float) -> datetime:
    return datetime.fromisoformat(at(second)).astimezone(UTC)


def user(second: float, content, **extra) -> dict:
    rec = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/shapes",
        "sessionId": SID,
        "version": "2.0.30",
        "gitBranch": "main",
        "type": "user",
        "message": {"role": "user", "content": content},
        "uuid": f"u-{second}",
        "timestamp": at(second),
    }
    rec.update(extra)
    return rec


def assistant(second: float, mid: str, content, usage=USAGE, **extra) -> dict:
    message = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    message.update(extra.pop("message", {}))
    rec = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/shapes",
        "sessionId": SID,
        "version": "2.0.30",
        "gitBranch": "main",
        "type": "assistant",
        "message": message,
        "requestId": f"req_{mid}",
        "uuid": f"a-{second}",
        "timestamp": at(second),
    }
    rec.update(extra)
    return rec


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, tool_input) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}


def tool_result(call_id: str, content, **extra) -> dict:
    block = {"tool_use_id": call_id, "type": "tool_result", "content": content}
    block.update(extra)
    return block


def read(tmp_path: Path, records: list, name: str = f"{SID}.jsonl"):
    path = tmp_path / PROJECT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    result = read_claude_code(path, "dev")
    acc = result.accounting
    acc.check()  # lines_read = used + ignored + rejected
    assert acc.lines_read == len(records)
    for table in ("steps", "tool_calls", "timing_events"):
        schema.to_table(table, getattr(result, table))  # rows fit the contract
    return result


def events_of(result, step: dict) -> list[dict]:
    return [e for e in result.timing_events if e["step_id"] == step["step_id"]]


def compact_len(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# -- user records ----------------------------------------------------------------------------


def test_user_content_string_list_and_meta_are_inputs(tmp_path):
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
    }
    pasted = [text("what is in this picture?"), image]
    records = [
        user(1, "hello there"),  # plain string
        user(2, pasted),  # text + image, no tool_result: one message, JSON length of the list
        user(3, "<command-name>/clear</command-name>", isMeta=True),  # harness text (B6)
        user(4, []),  # empty list: measured as "[]"
        assistant(5, "msg_a1", [text("ok")]),
    ]
    result = read(tmp_path, records)
    assert result.accounting.used == 5 and not result.accounting.rejected
    (step,) = result.steps
    kinds = [(e["event_type"], e["content_chars"]) for e in events_of(result, step)]
    assert kinds == [
        ("user_message", 11),
        ("user_message", compact_len(pasted)),
        ("user_message", len("<command-name>/clear</command-name>")),
        ("user_message", 2),
        ("text", 2),
    ]
    assert (step["trigger"], step["current_user_message_count"]) == ("user", 4)


def test_tool_result_content_and_error_shapes(tmp_path):
    listed = [text("line one"), {"type": "image", "source": {"type": "base64", "data": "AA"}}]
    records = [
        user(1, "run them"),
        assistant(
            2,
            "msg_b1",
            [
                tool_use("toolu_s", "Bash", {"command": "ls"}),
                tool_use("toolu_l", "Read", {"file_path": "/x.png"}),
                tool_use("toolu_n", "Bash", {"command": "true"}),
                tool_use("toolu_e", "Bash", {"command": "false"}),
            ],
            message={"stop_reason": "tool_use"},
        ),
        user(3, [tool_result("toolu_s", "a\nb", is_error=False)]),
        user(4, [tool_result("toolu_l", listed)]),  # list content (image read), no is_error
        user(5, [{"tool_use_id": "toolu_n", "type": "tool_result"}]),  # no content at all
        # is_error null (read as false), plus a text block beside the result (not an input)
        user(6, [tool_result("toolu_e", "Exit code 1", is_error=None), text("stop")]),
        user(7, [tool_result("toolu_unknown", "orphan", is_error=True)]),  # unknown id: B4
        assistant(8, "msg_b2", [text("done")]),
    ]
    result = read(tmp_path, records)
    assert not result.accounting.rejected
    first, second = result.steps
    tools = {t["call_id"]: t for t in result.tool_calls}
    assert {k: (t["result_chars"], t["is_error"]) for k, t in tools.items()} == {
        "toolu_s": (3, False),
        "toolu_l": (compact_len(listed), False),
        "toolu_n": (0, False),
        "toolu_e": (len("Exit code 1"), False),
    }
    assert tools["toolu_s"]["wall_latency_ms"] == 1000
    assert tools["toolu_e"]["result_at"] == ts(6)
    results = [e for e in events_of(result, second) if e["event_type"] == "tool_result"]
    assert [(e["tool_call_id"], e["is_error"]) for e in results] == [
        ("toolu_s", False),
        ("toolu_l", False),
        ("toolu_n", False),
        ("toolu_e", False),
        ("toolu_unknown", True),
    ]
    assert (second["trigger"], second["current_user_message_count"]) == ("tool", 0)
    assert second["current_tool_result_chars"] == 3 + compact_len(listed) + 0 + 11 + 6
    assert first["tool_call_count"] == 4 and first["stop_reason"] == "tool_use"


def test_tool_use_result_shapes_give_internal_latency(tmp_path):
    calls = ["toolu_str", "toolu_list", "toolu_ms", "toolu_ms2", "toolu_s", "toolu_task"]
    records = [
        user(1, "go"),
        assistant(2, "msg_c1", [tool_use(c, "Tool", {}) for c in calls]),
        # toolUseResult as the error string Claude Code writes for a failed call
        user(3, [tool_result("toolu_str", "boom", is_error=True)], toolUseResult="Error: boom"),
        user(4, [tool_result("toolu_list", [text("x")])], toolUseResult=[text("x")]),
        user(5, [tool_result("toolu_ms", "page")], toolUseResult={"url": "u", "durationMs": 812}),
        user(6, [tool_result("toolu_ms2", "hits")], toolUseResult={"duration_ms": 40.5}),
        user(7, [tool_result("toolu_s", "results")], toolUseResult={"durationSeconds": 2.0345}),
        # Task/Agent results carry totalDurationMs, which TraceLab does not read (B7)
        user(8, [tool_result("toolu_task", "report")], toolUseResult={"totalDurationMs": 9000}),
        assistant(9, "msg_c2", [text("done")]),
    ]
    result = read(tmp_path, records)
    assert not result.accounting.rejected
    latency = {t["call_id"]: t["internal_latency_ms"] for t in result.tool_calls}
    assert latency == {
        "toolu_str": None,
        "toolu_list": None,
        "toolu_ms": 812,
        "toolu_ms2": 40,  # round half to even
        "toolu_s": 2034,
        "toolu_task": None,
    }


def test_user_role_record_without_type_is_an_input(tmp_path):
    # TraceLab's gate is the message, not the type (§3.1); such a record must not vanish.
    untyped = user(1, "typed before the type field")
    del untyped["type"]
    result = read(tmp_path, [untyped, assistant(2, "msg_d1", [text("ok")])])
    assert result.accounting.used == 2 and result.accounting.ignored == 0
    (step,) = result.steps
    assert (step["trigger"], step["current_user_message_chars"]) == ("user", 27)


# -- assistant records -----------------------------------------------------------------------


def test_block_types_without_events_still_make_one_step(tmp_path):
    content = [
        {"type": "thinking", "thinking": "plan", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "tool_result", "tool_use_id": "toolu_x", "content": "in an assistant message"},
        {"type": "image", "source": {"type": "base64", "data": "AA"}},
        {"type": "document", "source": {"type": "base64", "data": "JVBER"}},
        {"type": "some_future_block", "x": 1},
        "not a block",
        text("answer"),
        tool_use("toolu_1", "mcp__docs__search", {"q": "é"}),
    ]
    result = read(tmp_path, [user(1, "q"), assistant(2, "msg_e1", content)])
    (step,) = result.steps
    kinds = [e["event_type"] for e in events_of(result, step)]
    assert kinds == ["user_message", "reasoning", "text", "tool_call"]
    (tool,) = result.tool_calls
    assert (tool["tool_name"], tool["input_chars"]) == ("mcp__docs__search", len('{"q":"é"}'))


def test_string_tool_input_is_measured_as_its_text(tmp_path):
    records = [user(1, "q"), assistant(2, "msg_f1", [tool_use("toolu_1", "Bash", "ls -la")])]
    (tool,) = read(tmp_path, records).tool_calls
    assert (tool["input_chars"], tool["input_json"]) == (6, '"ls -la"')


@pytest.mark.parametrize("content", ["a plain-text reply", None])
def test_assistant_content_not_a_list_is_still_a_step(tmp_path, content):
    # §3.2 step 3: the round exists with its usage; only the block events are missing.
    result = read(tmp_path, [user(1, "hi"), assistant(2, "msg_g1", content)])
    assert not result.accounting.rejected
    (step,) = result.steps
    assert (step["input_tokens_total"], step["output_tokens"], step["trigger"]) == (
        4312,
        55,
        "user",
    )
    assert [e["event_type"] for e in events_of(result, step)] == ["user_message"]
    flags = result.accounting.flagged_by_reason
    assert flags == {"claude: assistant content is not a list (no output events)": 1}


def test_streamed_records_keep_best_usage_and_fill_request_id(tmp_path):
    placeholder = {**USAGE, "output_tokens": 1}
    records = [
        user(1, "explain"),
        # one API response written as three records (one block each), placeholder usage first;
        # the first record lacks requestId (older clients, proxies)
        assistant(
            2,
            "msg_h1",
            [{"type": "thinking", "thinking": "hmm", "signature": "s"}],
            usage=placeholder,
            message={"stop_reason": None},
        ),
        assistant(3, "msg_h1", [text("part")], usage=placeholder, message={"stop_reason": None}),
        assistant(4, "msg_h1", [tool_use("toolu_1", "Read", {"file_path": "/a"})]),
        # a late duplicate with all-zero usage does not win (§5.1)
        assistant(
            5,
            "msg_h1",
            [],
            usage={k: 0 for k in USAGE},
            message={"stop_reason": "tool_use"},
        ),
    ]
    del records[1]["requestId"]
    result = read(tmp_path, records)
    (step,) = result.steps
    assert (step["output_tokens"], step["stop_reason"], step["request_id"]) == (
        55,
        "end_turn",
        "req_msg_h1",
    )
    assert [e["event_type"] for e in events_of(result, step)] == [
        "user_message",
        "reasoning",
        "text",
        "tool_call",
    ]
    assert (step["first_output_at"], step["last_output_at"]) == (ts(2), ts(4))


@pytest.mark.parametrize("request_id", [None, ""])
def test_missing_or_empty_request_id_is_null(tmp_path, request_id):
    rec = assistant(2, "msg_i1", [text("x")])
    if request_id is None:
        del rec["requestId"]
    else:
        rec["requestId"] = request_id
    (step,) = read(tmp_path, [user(1, "q"), rec]).steps
    assert step["request_id"] is None


@pytest.mark.parametrize(
    "stop_reason",
    [None, "end_turn", "tool_use", "max_tokens", "pause_turn", "refusal", "stop_sequence"]
    + ["model_context_window_exceeded"],
)
def test_stop_reason_values_are_kept(tmp_path, stop_reason):
    rec = assistant(2, "msg_j1", [text("x")], message={"stop_reason": stop_reason})
    (step,) = read(tmp_path, [user(1, "q"), rec]).steps
    assert step["stop_reason"] == stop_reason


def test_message_id_reappearing_later_rejoins_its_step(tmp_path):
    # B3 (kept for parity): no new step; the later record's events join the old one.
    records = [
        user(1, "a"),
        assistant(2, "msg_k1", [text("first")]),
        user(3, "b"),
        assistant(4, "msg_k2", [text("second")]),
        assistant(5, "msg_k1", [text("again")]),
    ]
    result = read(tmp_path, records)
    assert [s["round_id"] for s in result.steps] == ["msg_k1", "msg_k2"]
    first = result.steps[0]
    assert [e["content_chars"] for e in events_of(result, first)] == [1, 5, 5]
    assert first["last_output_at"] == ts(5)


def test_message_id_reused_by_another_api_call_is_merged_but_flagged(tmp_path):
    # Seen in real logs (an API fault): one message.id on successive calls, each after the
    # previous call's tool result. TraceLab merges them into one round; so do we, not silently.
    grown = {**USAGE, "cache_read_input_tokens": 4400}
    records = [
        user(1, "read it"),
        assistant(2, "msg_dup", [tool_use("toolu_1", "Read", {"file_path": "/a"})]),
        user(3, [tool_result("toolu_1", "aaa")]),
        assistant(4, "msg_dup", [tool_use("toolu_2", "Read", {"file_path": "/a"})], usage=grown),
        # a late all-zero duplicate is ordinary (§5.1), not another call
        assistant(5, "msg_dup", [], usage={k: 0 for k in USAGE}),
    ]
    result = read(tmp_path, records)
    (step,) = result.steps
    assert (step["input_tokens_total"], step["tool_call_count"]) == (4712, 2)
    flags = result.accounting.flagged_by_reason
    assert flags == {
        "claude: one message id with different input tokens (merged)": 1,
        "claude: input events pending at end of file": 1,
    }


# -- usage variants --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # 1.0.x: no cache_creation object, no service_tier
        (dict(USAGE), (4312, 4000, 312, 55, None, None)),
        # 2.x: TTL split and server-side tool counts, newer bookkeeping keys
        (
            {
                **USAGE,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 100,
                    "ephemeral_1h_input_tokens": 200,
                },
                "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
                "service_tier": "standard",
                "inference_geo": "",
                "iterations": [],
                "speed": "standard",
            },
            (4312, 4000, 312, 55, 100, 200),
        ),
        # proxies: null cache fields, null service_tier, null cache_creation
        (
            {
                "input_tokens": 12,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": None,
                "output_tokens": 55,
                "service_tier": None,
                "cache_creation": None,
            },
            (12, 0, 12, 55, None, None),
        ),
        # OpenAI-style backends behind Claude Code: only input/output
        ({"input_tokens": 900, "output_tokens": 40}, (900, 0, 900, 40, None, None)),
        # nothing usable, or no usage at all: the step stands with zero tokens (§5.1)
        ({"input_tokens": None, "output_tokens": None}, (0, 0, 0, 0, None, None)),
        (None, (0, 0, 0, 0, None, None)),
    ],
)
def test_usage_variants(tmp_path, usage, expected):
    rec = assistant(2, "msg_l1", [text("x")], usage=usage)
    if usage is None:
        del rec["message"]["usage"]
    result = read(tmp_path, [user(1, "q"), rec])
    assert not result.accounting.rejected
    (s,) = result.steps
    got = (
        s["input_tokens_total"],
        s["prefix_tokens"],
        s["append_tokens"],
        s["output_tokens"],
        s["cache_write_5m_tokens"],
        s["cache_write_1h_tokens"],
    )
    assert got == expected


def test_non_integer_tokens_are_rejected_with_reason(tmp_path):
    # Claude Code writes integers; a float or string count is corruption, kept aside by line.
    bad = assistant(2, "msg_m1", [text("x")], usage={**USAGE, "output_tokens": 5.5})
    result = read(tmp_path, [user(1, "q"), bad, assistant(3, "msg_m2", [text("y")])])
    assert result.accounting.rejected_by_reason == {"output_tokens is float, not an integer": 1}
    assert [r["line_number"] for r in result.accounting.rejected] == [2]
    (step,) = result.steps
    assert (step["round_id"], step["current_user_message_count"]) == ("msg_m2", 1)


# -- placeholders, system and bookkeeping records --------------------------------------------


def test_synthetic_and_api_error_messages_carry_inputs_over(tmp_path):
    error = assistant(
        2,
        "7d3c2b1a-0000-4000-8000-000000000001",
        [text("API Error: 529 overloaded")],
        usage={**{k: 0 for k in USAGE}, "service_tier": None},
        isApiErrorMessage=True,
        message={"model": "<synthetic>", "stop_reason": "stop_sequence"},
    )
    del error["requestId"]
    no_response = assistant(
        4,
        "7d3c2b1a-0000-4000-8000-000000000002",
        [text("No response requested.")],
        message={"model": "<synthetic>"},
    )
    records = [
        user(1, "try"),
        error,
        {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SID,
         "timestamp": at(2.5), "error": {}, "retryInMs": 500, "retryAttempt": 1, "maxRetries": 10},
        user(3, "[Request interrupted by user]"),
        no_response,
        assistant(5, "msg_n1", [text("back")]),
    ]  # fmt: skip
    result = read(tmp_path, records)
    ignored = result.accounting.ignored_by_type
    assert dict(ignored) == {
        "assistant:api_error": 1,
        "assistant:synthetic": 1,
        "system:api_error": 1,
    }
    (step,) = result.steps
    assert (step["round_id"], step["current_user_message_count"]) == ("msg_n1", 2)


def test_system_subtypes_are_ignored_by_name_and_compaction_is_marked(tmp_path):
    def system(second, subtype=None, **extra):
        rec = {"type": "system", "sessionId": SID, "timestamp": at(second), "uuid": f"s-{second}",
               "content": "x", "level": "info", "isMeta": False, **extra}  # fmt: skip
        if subtype:
            rec["subtype"] = subtype
        return rec

    records = [
        user(1, "start"),
        assistant(2, "msg_o1", [text("a")]),
        system(3, "turn_duration", durationMs=2000),
        system(3.1, "stop_hook_summary", hookCount=0, hookInfos=[], hookErrors=[]),
        system(3.2, "local_command"),
        system(3.3, "informational"),
        system(3.4, "microcompact_boundary", microcompactMetadata={"trigger": "auto"}),
        system(3.5),  # pre-subtype system record
        system(4, "compact_boundary", compactMetadata={"trigger": "auto", "preTokens": 155000}),
        user(
            5,
            "This session is being continued from a previous conversation...",
            isCompactSummary=True,
            isVisibleInTranscriptOnly=True,
        ),  # fmt: skip
        assistant(6, "msg_o2", [text("b")]),
        user(7, "next"),
        assistant(8, "msg_o3", [text("c")]),
    ]
    result = read(tmp_path, records)
    assert dict(result.accounting.ignored_by_type) == {
        "system:turn_duration": 1,
        "system:stop_hook_summary": 1,
        "system:local_command": 1,
        "system:informational": 1,
        "system:microcompact_boundary": 1,
        "system": 1,
        "system:compact_boundary": 1,
    }
    assert [s["after_compaction"] for s in result.steps] == [False, True, False]
    # the compaction summary is a user_message input of the step after it (B6, kept)
    assert result.steps[1]["current_user_message_count"] == 1


BOOKKEEPING = [
    {"type": "summary", "summary": "Refactor parser", "leafUuid": "u-1"},
    {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}, "isSnapshotUpdate": False},
    {"type": "queue-operation", "operation": "enqueue", "timestamp": at(0.5), "sessionId": SID,
     "content": "also fix tests"},
    {"type": "progress", "sessionId": SID, "timestamp": at(0.6), "uuid": "p1",
     "data": {"type": "hook_progress"}, "toolUseID": "t", "parentToolUseID": "t"},
    {"type": "attachment", "sessionId": SID, "timestamp": at(0.7), "uuid": "att1",
     "attachment": {"type": "queued_command", "prompt": "also fix tests"}},
    {"type": "custom-title", "customTitle": "parser work", "sessionId": SID},
    {"type": "ai-title", "aiTitle": "Parser refactor", "sessionId": SID},
    {"type": "last-prompt", "lastPrompt": "go", "sessionId": SID},
    {"type": "mode", "mode": "normal", "sessionId": SID},
    {"type": "permission-mode", "permissionMode": "default", "sessionId": SID},
    {"type": "agent-name", "agentName": "helper", "sessionId": SID},
    {"type": "agent-setting", "agentSetting": "claude", "sessionId": SID},
    {"type": "tag", "tag": "wip", "sessionId": SID},
    {"type": "pr-link", "prNumber": 7, "prUrl": "https://example.invalid/7", "sessionId": SID},
    {"type": "worktree-state", "worktreeSession": None, "sessionId": SID},
    {"type": "atis-latch", "atis": "", "sessionId": SID},
    {"type": "bridge-session", "sessionId": SID},
    {"type": "marble-origami-commit", "collapseId": "c1", "sessionId": SID},
    {"type": "turn_end", "sessionId": SID},
]  # fmt: skip


def test_bookkeeping_records_are_ignored_under_their_type(tmp_path):
    future = {"type": "brand-new-entry", "sessionId": SID}
    records = [*BOOKKEEPING, future, user(1, "go"), assistant(2, "msg_p1", [text("ok")])]
    result = read(tmp_path, records)
    acc = result.accounting
    assert (acc.used, len(acc.rejected)) == (2, 0)
    expected = {r["type"]: 1 for r in BOOKKEEPING}
    expected["unknown:brand-new-entry"] = 1
    assert dict(acc.ignored_by_type) == expected
    (step,) = result.steps
    # a queued prompt lives in an attachment record: not an input, as in TraceLab
    assert step["current_user_message_count"] == 1


# -- threads: inline sidechains and sub-agent files ------------------------------------------


def test_inline_sidechains_old_and_new_style_are_own_threads(tmp_path):
    side_old = {"isSidechain": True, "parentUuid": None}
    side_new = {"isSidechain": True, "agentId": "a1b2c3d"}
    records = [
        user(1, "delegate"),
        assistant(2, "msg_q1", [tool_use("toolu_task", "Task", {"prompt": "look"})]),
        # 1.0.x: sidechain records chained by parentUuid, no agentId
        user(3, "look", uuid="sc-u1", **side_old),
        {**assistant(4, "msg_q2", [text("found")]), "isSidechain": True, "parentUuid": "sc-u1"},
        # 2.0.x: sidechain records carry agentId
        user(5, "look again", uuid="sc-u2", **side_new),
        {**assistant(6, "msg_q3", [text("found again")]), **side_new},
        user(7, [tool_result("toolu_task", "report")], toolUseResult={"totalDurationMs": 4000}),
        assistant(8, "msg_q4", [text("thanks")]),
    ]
    result = read(tmp_path, records)
    by_round = {s["round_id"]: s for s in result.steps}
    assert [by_round[m]["is_sidechain"] for m in ("msg_q1", "msg_q2", "msg_q3", "msg_q4")] == [
        False,
        True,
        True,
        False,
    ]
    assert by_round["msg_q2"]["session_id"] == f"{SID}/sidechain/sc-u1"
    assert by_round["msg_q3"]["session_id"] == f"{SID}/sidechain/a1b2c3d"
    # the main chain's next step gets only the main chain's input, never the sidechain prompts
    main = by_round["msg_q4"]
    assert (main["current_tool_result_count"], main["current_user_message_count"]) == (1, 0)
    assert by_round["msg_q4"]["step_index"] == 1


@pytest.mark.parametrize(
    ("relative", "session_id"),
    [
        (f"{SID}/subagents/agent-a1b2c3d.jsonl", f"{SID}/subagents/agent-a1b2c3d"),
        ("agent-a1b2c3d.jsonl", f"{SID}/subagents/agent-a1b2c3d"),  # 2.0.x legacy layout
        # compaction runs get their own transcript in newer clients: a step like any other
        (f"{SID}/subagents/agent-acompact-9f8e7d.jsonl", f"{SID}/subagents/agent-acompact-9f8e7d"),
    ],
)
def test_subagent_files_are_one_thread(tmp_path, relative, session_id):
    agent = Path(relative).stem[len("agent-") :]
    side = {"isSidechain": True, "agentId": agent}
    records = [
        user(1, "sub task", **side),
        {**assistant(2, "msg_r1", [tool_use("toolu_g", "Grep", {"pattern": "x"})]), **side},
        user(3, [tool_result("toolu_g", "a.py")], toolUseResult={"durationMs": 7}, **side),
        {**assistant(4, "msg_r2", [text("done")]), **side},
    ]
    result = read(tmp_path, records, name=relative)
    assert {s["session_id"] for s in result.steps} == {session_id}
    assert [s["trigger"] for s in result.steps] == ["user", "tool"]
    assert all(s["is_sidechain"] and s["parent_session_id"] == SID for s in result.steps)
    assert all(s["project"] == PROJECT for s in result.steps)
    (tool,) = result.tool_calls
    assert (tool["internal_latency_ms"], tool["wall_latency_ms"]) == (7, 1000)


# -- whole files ---------------------------------------------------------------------------


def test_oldest_schema_session_reads_without_rejections(tmp_path):
    """1.0.x: summary first, costUSD/durationMs on assistant records, no cache_creation."""
    old = {"version": "1.0.17"}
    records = [
        {"type": "summary", "summary": "Fix build", "leafUuid": "u-9"},
        user(1, "fix the build", **old),
        {**assistant(2, "msg_s1", [text("Look"), tool_use("toolu_b", "Bash", {"command": "make"})]),
         "costUSD": 0.0123, "durationMs": 2400, **old},
        user(3, [tool_result("toolu_b", "ok")],
             toolUseResult={"stdout": "ok", "stderr": "", "interrupted": False, "isImage": False},
             **old),
        {**assistant(4, "msg_s2", [text("Fixed")]), "costUSD": 0.004, "durationMs": 900, **old},
    ]  # fmt: skip
    result = read(tmp_path, records)
    acc = result.accounting
    assert (acc.used, dict(acc.ignored_by_type), acc.rejected) == (4, {"summary": 1}, [])
    assert [s["client_version"] for s in result.steps] == ["1.0.17", "1.0.17"]
    assert sum(s["input_tokens_total"] for s in result.steps) == 2 * 4312
    assert result.tool_calls[0]["internal_latency_ms"] is None  # Bash reports no duration


def test_bookkeeping_only_file_is_claude_and_fully_ignored(tmp_path):
    path = tmp_path / PROJECT / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in BOOKKEEPING[:3]), "utf-8")
    result = read_log(path, "dev")
    assert (result.provider, result.error) == ("claude", None)
    acc = result.accounting
    assert (acc.lines_read, acc.ignored, acc.used, len(acc.rejected)) == (3, 3, 0, 0)
    assert result.steps == []
