"""Claude Code reader: TraceLab's numbers on its own example, real fixtures, threads, bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelab_pipeline import schema
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.claude_code import read_claude_code

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "claude"
SEGMENT = REAL / "tracelab__claude-example-segment.jsonl"

# Computed once from our reader; each is re-derived independently from the raw lines below.
STEP_COUNTS = {
    "agentic-wallet__claude-session.jsonl": 2,
    "bastion__claude-session.jsonl": 6,
    "ccviewer__1af7fc5e.jsonl": 7,
    "ccviewer__5c0375b4.jsonl": 20,
    "ccviewer__fe5e1c67.jsonl": 170,
    "sniffly__ba79134d.jsonl": 24,
    "sniffly__d3ad4cdc.jsonl": 62,
    "sniffly__fed8ce56.jsonl": 4,
    "tracelab__claude-example-segment.jsonl": 10,
}
SIDECHAIN_FIXTURES = ("ccviewer__5c0375b4.jsonl", "ccviewer__fe5e1c67.jsonl")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lines_of(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def write_lines(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for rec in records:
            f.write(rec if isinstance(rec, bytes) else json.dumps(rec).encode())
            f.write(b"\n")
    return path


def assert_schema(result) -> None:
    for name in ("steps", "tool_calls", "timing_events"):
        rows = getattr(result, name)
        for row in rows:
            assert set(row) == set(schema.TABLES[name].names), name
        schema.to_table(name, rows)  # types and non-null columns hold


# -- TraceLab's worked example (tracelab-ingest §12.1) -----------------------------------------


@pytest.fixture(scope="module")
def segment():
    return read_claude_code(SEGMENT, "alice")


def test_segment_has_ten_steps_in_one_main_thread(segment):
    assert len(segment.steps) == 10
    assert [s["step_index"] for s in segment.steps] == list(range(10))
    assert {s["session_id"] for s in segment.steps} == {"2f8b1c4d-6a73-4e9b-91c0-5d7f3a8e2b46"}
    assert not any(s["is_sidechain"] for s in segment.steps)
    assert_schema(segment)


def test_segment_row0_tokens_tools_and_summary(segment):
    s = segment.steps[0]
    assert (
        s["step_id"] == "claude:2f8b1c4d-6a73-4e9b-91c0-5d7f3a8e2b46:msg_0117946cbb6c5350c59edee3"
    )
    assert s["round_id"] == "msg_0117946cbb6c5350c59edee3"
    assert (s["prefix_tokens"], s["append_tokens"], s["output_tokens"]) == (27217, 5055, 931)
    assert s["input_tokens_total"] == 32272
    assert (s["uncached_input_tokens"], s["cache_write_tokens"]) == (2892, 2163)
    assert (s["cache_write_5m_tokens"], s["cache_write_1h_tokens"]) == (2163, 0)
    assert s["reasoning_tokens"] is None
    assert s["current_input_event_count"] == 1
    assert (s["current_user_message_count"], s["current_user_message_chars"]) == (1, 146)
    assert (s["current_tool_result_count"], s["current_tool_result_chars"]) == (0, 0)
    assert s["current_input_chars"] == 146
    assert (s["first_input_event_type"], s["trigger"]) == ("user_message", "user")
    assert s["first_event_type"] == "user_message"
    assert s["input_ready_at"] == ts("2026-06-01T05:40:20.151")
    assert s["first_output_at"] == ts("2026-06-01T05:40:29.420")
    assert s["last_output_at"] == ts("2026-06-01T05:40:31.647")
    assert s["tool_call_count"] == 2
    assert s["client_version"] == "2.1.157"
    assert s["session_started_at"] == ts("2026-06-01T05:40:20.151")
    assert s["project"] == "claude" and s["source_file"] == str(SEGMENT) and s["source_line"] > 0

    tools = [t for t in segment.tool_calls if t["step_id"] == s["step_id"]]
    bash, search = tools
    assert (bash["tool_name"], bash["tool_index"], bash["input_chars"]) == ("Bash", 0, 168)
    assert len(bash["input_json"]) == 168 and json.loads(bash["input_json"])
    assert (bash["wall_latency_ms"], bash["internal_latency_ms"]) == (860, None)
    assert bash["internal_latency_source"] is None
    assert (bash["is_error"], bash["result_chars"]) == (False, 231)
    assert bash["command_signature"] is None
    assert (search["tool_name"], search["input_chars"]) == ("WebSearch", 91)
    assert (search["wall_latency_ms"], search["internal_latency_ms"]) == (19291, 19287)
    assert search["internal_latency_source"] == "tool_use_result"  # durationSeconds
    assert (search["is_error"], search["result_chars"]) == (False, 4893)

    events = [e for e in segment.timing_events if e["step_id"] == s["step_id"]]
    assert [e["event_index"] for e in events] == list(range(5))
    assert [e["event_type"] for e in events] == [
        "user_message",
        "reasoning",
        "text",
        "tool_call",
        "tool_call",
    ]
    assert [e["content_chars"] for e in events[:3]] == [146, 0, 116]
    assert events[0]["source"] == "user.message"
    assert [e["tool_index"] for e in events[3:]] == [0, 1]
    assert events[4]["tool_name"] == "WebSearch"


def test_segment_rows_1_and_2(segment):
    s1, s2 = segment.steps[1], segment.steps[2]
    assert s1["round_id"] == "msg_012a1e2b21602a5fbfa7397b"
    assert (s1["input_tokens_total"], s1["prefix_tokens"], s1["append_tokens"]) == (
        35740,
        29380,
        6360,
    )
    assert s1["output_tokens"] == 1016
    assert (s1["current_tool_result_count"], s1["current_tool_result_chars"]) == (2, 5124)
    assert (s1["current_input_chars"], s1["trigger"]) == (5124, "tool")
    ev1 = [e for e in segment.timing_events if e["step_id"] == s1["step_id"]]
    assert [(e["event_type"], e["result_chars"], e["is_error"]) for e in ev1[:2]] == [
        ("tool_result", 231, False),
        ("tool_result", 4893, False),
    ]
    # Input ready = the later tool result, which precedes the first output.
    assert s1["input_ready_at"] == ts("2026-06-01T05:40:50.938")
    (tool1,) = [t for t in segment.tool_calls if t["step_id"] == s1["step_id"]]
    assert (tool1["wall_latency_ms"], tool1["internal_latency_ms"]) == (12688, 12684)
    assert tool1["internal_latency_source"] == "tool_use_result"

    assert s2["round_id"] == "msg_01aab3d849970e554b86dcec"
    assert (s2["input_tokens_total"], s2["prefix_tokens"], s2["append_tokens"]) == (
        38592,
        35738,
        2854,
    )
    assert (s2["current_tool_result_count"], s2["current_tool_result_chars"]) == (1, 4157)
    (tool2,) = [t for t in segment.tool_calls if t["step_id"] == s2["step_id"]]
    assert (tool2["tool_name"], tool2["input_chars"]) == ("Write", 3557)
    assert (tool2["wall_latency_ms"], tool2["internal_latency_ms"]) == (21467, None)
    assert tool2["internal_latency_source"] is None


def test_read_log_dispatches_to_this_reader():
    result = read_log(SEGMENT, "alice")
    assert result.provider == "claude" and len(result.steps) == 10


# -- every real fixture ------------------------------------------------------------------------


def independent_messages(path: Path) -> dict:
    """Per (sidechain?, message id): the usage snapshot TraceLab's rule keeps (last of the max)."""
    best: dict = {}
    for rec in lines_of(path):
        msg = rec.get("message")
        if rec.get("type") != "assistant" or not isinstance(msg, dict):
            continue
        if "<synthetic>" in (msg.get("id"), msg.get("model")):
            continue
        key = (bool(rec.get("isSidechain")), msg["id"])
        usage = msg.get("usage") or {}
        u, w, r, o = (
            usage.get(k) or 0
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        )
        split = usage.get("cache_creation") or {}
        snap = (u, w, r, o, split.get("ephemeral_5m_input_tokens"))
        score = (o, u + w + r, msg.get("stop_reason") is not None)
        if key not in best or score >= best[key][0]:
            best[key] = (score, snap)
    return {key: snap for key, (_, snap) in best.items()}


@pytest.mark.parametrize("name", sorted(STEP_COUNTS))
def test_fixture_steps_tokens_and_accounting(name):
    path = REAL / name
    result = read_claude_code(path, "alice")
    acc = result.accounting
    acc.check()
    assert acc.lines_read == len(path.read_bytes().splitlines())
    assert acc.rejected == [] and result.error is None
    assert len(result.steps) == STEP_COUNTS[name]
    assert_schema(result)

    messages = independent_messages(path)
    assert len(messages) == STEP_COUNTS[name]
    main = {mid for side, mid in messages if not side}
    assert sum(not s["is_sidechain"] for s in result.steps) == len(main)
    assert len({s["step_id"] for s in result.steps}) == len(result.steps)

    snaps = messages.values()
    assert sum(s["uncached_input_tokens"] for s in result.steps) == sum(x[0] for x in snaps)
    assert sum(s["cache_write_tokens"] for s in result.steps) == sum(x[1] for x in snaps)
    assert sum(s["prefix_tokens"] for s in result.steps) == sum(x[2] for x in snaps)
    assert sum(s["output_tokens"] for s in result.steps) == sum(x[3] for x in snaps)
    assert sum(s["append_tokens"] for s in result.steps) == sum(x[0] + x[1] for x in snaps)
    assert sum(s["input_tokens_total"] for s in result.steps) == sum(
        x[0] + x[1] + x[2] for x in snaps
    )
    assert sum(s["cache_write_5m_tokens"] or 0 for s in result.steps) == sum(
        x[4] or 0 for x in snaps
    )

    # Every tool_use block is one tool call; every tool_result block one input event (all
    # fixtures end on an assistant message, so no input is left pending).
    blocks = [
        b
        for rec in lines_of(path)
        if isinstance(rec.get("message"), dict) and isinstance(rec["message"].get("content"), list)
        for b in rec["message"]["content"]
    ]
    assert len(result.tool_calls) == len({b["id"] for b in blocks if b.get("type") == "tool_use"})
    results = [e for e in result.timing_events if e["event_type"] == "tool_result"]
    assert len(results) == sum(b.get("type") == "tool_result" for b in blocks)


@pytest.mark.parametrize("name", SIDECHAIN_FIXTURES)
def test_sidechains_are_separate_threads(name):
    path = REAL / name
    result = read_claude_code(path, "alice")
    records = lines_of(path)
    root = records[-1]["sessionId"]
    starts = [r for r in records if r.get("isSidechain") and r.get("parentUuid") is None]

    main = [s for s in result.steps if not s["is_sidechain"]]
    side = [s for s in result.steps if s["is_sidechain"]]
    assert {s["session_id"] for s in main} == {root}
    assert all(s["parent_session_id"] is None and s["agent_id"] is None for s in main)
    threads = {s["session_id"] for s in side}
    assert len(threads) == len(starts)
    assert threads == {f"{root}/sidechain/{r['uuid']}" for r in starts}
    for s in side:
        assert s["parent_session_id"] == root == s["root_session_id"]
        assert s["session_id"].endswith(s["agent_id"])
    for thread in threads | {root}:
        indexes = [s["step_index"] for s in result.steps if s["session_id"] == thread]
        assert indexes == list(range(len(indexes)))

    # Each sidechain opens with its Task prompt; a thread consumes only results of its own calls.
    calls_of = {}
    for t in result.tool_calls:
        calls_of[t["call_id"]] = t["session_id"]
    session_of_step = {s["step_id"]: s["session_id"] for s in result.steps}
    for thread in threads:
        first = next(s for s in side if s["session_id"] == thread)
        assert first["trigger"] == "user" and first["step_index"] == 0
    for e in result.timing_events:
        if e["event_type"] == "tool_result":
            assert calls_of[e["tool_call_id"]] == session_of_step[e["step_id"]]

    # TraceLab B1, checked against the raw lines: a result written on the sidechain feeds a
    # sidechain step, one written on the main chain feeds a main-chain step.
    result_side = {
        b["tool_use_id"]: bool(r.get("isSidechain"))
        for r in records
        if r.get("type") == "user" and isinstance(r["message"].get("content"), list)
        for b in r["message"]["content"]
        if b.get("type") == "tool_result"
    }
    side_of_step = {s["step_id"]: s["is_sidechain"] for s in result.steps}
    consumed = [e for e in result.timing_events if e["event_type"] == "tool_result"]
    assert len(consumed) == len(result_side)
    assert any(result_side.values()) and not all(result_side.values())
    for e in consumed:
        assert side_of_step[e["step_id"]] == result_side[e["tool_call_id"]]


# -- sub-agent files ---------------------------------------------------------------------------

PARENT = "11111111-2222-4333-8444-555555555555"


def subagent_lines() -> tuple[list, list]:
    """Main chain and the first sidechain of 5c0375b4, rewritten as a newer sub-agent layout."""
    records = lines_of(REAL / "ccviewer__5c0375b4.jsonl")
    main = [dict(r, sessionId=PARENT) for r in records[:15]]
    side = [dict(r, sessionId=PARENT, agentId="a1b2c3") for r in records[15:22]]
    assert all(r["isSidechain"] for r in side)
    return main, side


@pytest.mark.parametrize("layout", ["subagents", "legacy", "renamed"])
def test_subagent_file_is_its_own_thread(tmp_path, layout):
    main, side = subagent_lines()
    project = tmp_path / "-home-me-proj"
    write_lines(project / f"{PARENT}.jsonl", main)
    where = {
        "subagents": project / PARENT / "subagents" / "agent-a1b2c3.jsonl",
        "legacy": project / "agent-a1b2c3.jsonl",
        "renamed": tmp_path / "landed" / "0badc0de.jsonl",
    }[layout]
    write_lines(where, side)

    parent = read_claude_code(project / f"{PARENT}.jsonl", "alice")
    child = read_claude_code(where, "alice")
    assert {s["session_id"] for s in parent.steps} == {PARENT}
    assert len(child.steps) == 3
    for s in child.steps:
        assert s["session_id"] == f"{PARENT}/subagents/agent-a1b2c3"
        assert s["step_id"] == f"claude:{PARENT}/subagents/agent-a1b2c3:{s['round_id']}"
        assert (s["parent_session_id"], s["root_session_id"]) == (PARENT, PARENT)
        assert (s["agent_id"], s["is_sidechain"]) == ("a1b2c3", True)
    if layout != "renamed":
        assert {s["project"] for s in child.steps} == {"-home-me-proj"}
    assert [s["step_index"] for s in child.steps] == [0, 1, 2]
    assert child.steps[0]["trigger"] == "user"
    assert child.accounting.rejected == []


def test_origin_path_names_a_renamed_copy(tmp_path):
    main, side = subagent_lines()
    side = [{k: v for k, v in r.items() if k not in ("sessionId", "agentId")} for r in side]
    landed = write_lines(tmp_path / "objects" / "ab" / "ab12.jsonl", side)
    origin = f"-home-me-proj/{PARENT}/subagents/agent-a1b2c3.jsonl"
    steps = read_claude_code(landed, "alice", origin=origin).steps
    assert {s["session_id"] for s in steps} == {f"{PARENT}/subagents/agent-a1b2c3"}
    assert {s["project"] for s in steps} == {"-home-me-proj"}
    assert {s["source_file"] for s in steps} == {str(landed)}
    # Without the origin the same bytes are an anonymous file holding one sidechain thread.
    steps = read_claude_code(landed, "alice").steps
    assert {s["is_sidechain"] for s in steps} == {True}
    assert {s["session_id"].split("/")[0] for s in steps} == {"ab12"}


def test_subagent_file_without_session_id_takes_parent_from_path(tmp_path):
    _, side = subagent_lines()
    side = [{k: v for k, v in r.items() if k != "sessionId"} for r in side]
    path = write_lines(tmp_path / "p" / PARENT / "subagents" / "agent-a1b2c3.jsonl", side)
    steps = read_claude_code(path, "alice").steps
    assert {s["session_id"] for s in steps} == {f"{PARENT}/subagents/agent-a1b2c3"}
    assert {s["parent_session_id"] for s in steps} == {PARENT}


# -- bad and unusual input ---------------------------------------------------------------------


@pytest.fixture
def segment_lines() -> list[bytes]:
    return SEGMENT.read_bytes().splitlines()


def rewrite(segment_lines, index, **changes) -> bytes:
    rec = json.loads(segment_lines[index])
    for dotted, value in changes.items():
        target = rec
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return json.dumps(rec).encode()


def first_index(segment_lines, predicate) -> int:
    return next(i for i, raw in enumerate(segment_lines) if predicate(json.loads(raw)))


def read_variant(tmp_path, lines, name="variant.jsonl", tail=b"\n"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + tail)
    result = read_claude_code(path, "alice")
    result.accounting.check()
    assert_schema(result)
    return result


def test_corrupt_line_invalid_utf8_and_truncated_tail(tmp_path, segment_lines):
    lines = list(segment_lines)
    lines.insert(5, b'{"type": "user", "message": {')
    lines.insert(9, b'{"type": "mode", "mode": "\xff\xfe"}')
    lines.append(b'{"type": "assistant", "message": {"id": "msg_x", "conte')
    result = read_variant(tmp_path, lines, tail=b"")
    reasons = sorted((r["line_number"], r["reason"]) for r in result.accounting.rejected)
    assert reasons == [
        (6, "malformed JSON"),
        (10, "invalid UTF-8"),
        (len(lines), "truncated last line (file still being written?)"),
    ]
    assert len(result.steps) == 10
    assert result.accounting.lines_read == len(lines)


def test_negative_tokens_and_implausible_timestamps_are_rejected(tmp_path, segment_lines):
    lines = list(segment_lines)
    a = first_index(lines, lambda r: r.get("type") == "assistant")
    lines[a] = rewrite(lines, a, message__usage__output_tokens=-5)
    u = first_index(lines, lambda r: r.get("type") == "user")
    lines[u] = rewrite(lines, u, timestamp="1970-01-01T00:00:00Z")
    future = first_index(
        lines, lambda r: r.get("type") == "assistant" and r["message"]["id"].endswith("97b")
    )
    lines[future] = rewrite(lines, future, timestamp="2999-01-01T00:00:00Z")
    huge = first_index(
        lines, lambda r: r.get("type") == "assistant" and r["message"]["id"].endswith("dcec")
    )
    lines[huge] = rewrite(lines, huge, message__usage__cache_read_input_tokens=10**13)
    bad_ts = first_index(
        lines, lambda r: r.get("type") == "user" and isinstance(r["message"]["content"], list)
    )
    lines[bad_ts] = rewrite(lines, bad_ts, timestamp=1717220431)
    result = read_variant(tmp_path, lines)
    reasons = {r["line_number"]: r["reason"] for r in result.accounting.rejected}
    assert reasons == {
        a + 1: "negative output_tokens",
        u + 1: "implausible timestamp '1970-01-01T00:00:00Z'",
        future + 1: "implausible timestamp '2999-01-01T00:00:00Z'",
        bad_ts + 1: "timestamp is int, not a string",
        huge + 1: "absurd cache_read_input_tokens (> 1e12)",
    }
    assert json.loads(result.accounting.rejected[0]["raw"])["type"] in ("assistant", "user")
    # The other records of the first message still carry its usage; the lost prompt leaves it
    # with no inputs, so the step is no longer user-triggered.
    s0 = result.steps[0]
    assert (s0["prefix_tokens"], s0["output_tokens"]) == (27217, 931)
    assert (s0["trigger"], s0["first_input_event_type"]) == ("none", None)
    assert len(result.steps) == 10


def test_wrongly_typed_fields_are_rejected_not_fatal(tmp_path, segment_lines):
    lines = list(segment_lines)
    a = first_index(lines, lambda r: r.get("type") == "assistant")
    lines[a] = rewrite(lines, a, message__content="just text")
    lines.insert(a + 1, json.dumps({"type": "assistant", "message": "oops"}).encode())
    lines.insert(
        a + 1, json.dumps({"type": "assistant", "message": {"role": "assistant", "id": 7}}).encode()
    )
    lines.insert(a + 1, rewrite(lines, a + 3, message__usage=[1, 2]))
    lines.insert(a + 1, rewrite(lines, a + 4, message__usage__input_tokens="12"))
    lines.insert(1, json.dumps({"type": "user", "message": {"role": "user"}}).encode())
    result = read_variant(tmp_path, lines)
    assert sorted(r["reason"] for r in result.accounting.rejected) == sorted(
        [
            "assistant record without a message object",
            "assistant message without a string id",
            "usage is not an object",
            "input_tokens is str, not an integer",
            "user message content is neither text nor a list",
        ]
    )
    # Text content is still a response with usage (tracelab-ingest §3.2), flagged, not rejected.
    flags = result.accounting.flagged_by_reason
    assert flags["claude: assistant content is not a list (no output events)"] == 1
    assert len(result.steps) == 10


def test_unknown_synthetic_and_compaction_records(tmp_path, segment_lines):
    lines = list(segment_lines)
    base = json.loads(lines[first_index(lines, lambda r: r.get("type") == "assistant")])
    sid = base["sessionId"]
    synthetic = {
        "type": "assistant",
        "sessionId": sid,
        "timestamp": "2026-06-01T05:45:00.000Z",
        "isApiErrorMessage": True,
        "message": {
            "id": "x",
            "model": "<synthetic>",
            "role": "assistant",
            "content": [],
            "usage": {},
        },
    }
    boundary = {"type": "system", "subtype": "compact_boundary", "sessionId": sid}
    summary = {
        "type": "user",
        "isCompactSummary": True,
        "sessionId": sid,
        "timestamp": "2026-06-01T05:45:01Z",
        "message": {"role": "user", "content": "This session is being continued..."},
    }
    # Before step 5's prompt (the second human message): unknown record, an API error, a
    # compaction boundary and summary. Step 5 gets them as inputs and the compaction flag.
    at = first_index(
        lines,
        lambda r: (
            r.get("type") == "user" and r["message"]["content"] == "add another model qwen3 32b"
        ),
    )
    extra = [{"type": "brand-new-kind", "x": 1}, synthetic, boundary, summary]
    lines[at:at] = [json.dumps(r).encode() for r in extra]
    result = read_variant(tmp_path, lines)
    ignored = result.accounting.ignored_by_type
    assert ignored["unknown:brand-new-kind"] == 1
    assert ignored["assistant:api_error"] == 1
    assert ignored["system:compact_boundary"] == 1
    assert result.accounting.rejected == []
    assert len(result.steps) == 10
    flags = [s["after_compaction"] for s in result.steps]
    assert flags == [False] * 5 + [True] + [False] * 4
    s5 = result.steps[5]
    assert s5["current_user_message_count"] == 2 and s5["trigger"] == "user"


def test_inputs_left_at_end_are_flagged_not_counted(tmp_path, segment_lines):
    tail = {
        "type": "user",
        "sessionId": "2f8b1c4d-6a73-4e9b-91c0-5d7f3a8e2b46",
        "timestamp": "2026-06-01T06:00:00Z",
        "message": {"role": "user", "content": "one more thing"},
    }
    result = read_variant(tmp_path, [*segment_lines, json.dumps(tail).encode()])
    assert len(result.steps) == 10
    assert result.accounting.flagged_by_reason == {"claude: input events pending at end of file": 1}
    assert all(s["reported_input_tokens"] is None for s in result.steps)


def test_naive_timestamps_are_utc(tmp_path, segment_lines):
    lines = list(segment_lines)
    i = first_index(
        lines, lambda r: r.get("type") == "user" and isinstance(r["message"]["content"], list)
    )
    stamp = json.loads(lines[i])["timestamp"]
    lines[i] = rewrite(lines, i, timestamp=stamp.rstrip("Z"))
    result = read_variant(tmp_path, lines)
    assert result.accounting.rejected == []
    bash = result.tool_calls[0]
    assert bash["wall_latency_ms"] == 860 and bash["result_at"].tzinfo is not None


def test_gzip_copy_gives_identical_rows(tmp_path):
    packed = tmp_path / "segment.jsonl.gz"
    with gzip.open(packed, "wb") as f:
        f.write(SEGMENT.read_bytes())
    plain_copy = tmp_path / "segment.jsonl"
    shutil.copy(SEGMENT, plain_copy)
    a = read_claude_code(plain_copy, "alice")
    b = read_log(packed, "alice")
    for name in ("steps", "tool_calls", "timing_events"):
        ta = schema.to_table(name, getattr(a, name))
        tb = schema.to_table(name, getattr(b, name))
        if "source_file" in ta.column_names:
            ta, tb = ta.drop_columns(["source_file"]), tb.drop_columns(["source_file"])
        assert ta.equals(tb), name
    assert b.accounting.lines_read == a.accounting.lines_read


def test_damaged_gzip_keeps_what_was_read(tmp_path):
    packed = gzip.compress(SEGMENT.read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = read_claude_code(path, "alice")
    result.accounting.check()
    assert result.error is None
    (lost,) = result.accounting.rejected
    assert lost["reason"].startswith("unreadable rest of file")
    assert lost["line_number"] == result.accounting.lines_read
    assert 0 < len(result.steps) < 10


def test_unreadable_path_is_an_error_not_an_exception(tmp_path):
    result = read_claude_code(tmp_path / "missing.jsonl", "alice")
    assert result.error and result.steps == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.tuples(st.integers(0, 99_000), st.binary(max_size=8)), max_size=6),
    end=st.integers(0, 99_000),
)
def test_corrupted_logs_never_raise(tmp_path, cuts, end):
    data = bytearray(SEGMENT.read_bytes())
    for offset, junk in cuts:
        at = offset % len(data)
        data[at : at + len(junk)] = junk
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(bytes(data[: max(1, end % len(data))]))
    result = read_claude_code(path, "alice")
    result.accounting.check()
    for name in ("steps", "tool_calls", "timing_events"):
        assert isinstance(schema.to_table(name, getattr(result, name)), pa.Table)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _containers(rec: dict) -> list[dict]:
    """The dicts a reader looks into: the record, its message, usage, and content blocks."""
    found = [rec]
    msg = rec.get("message")
    if isinstance(msg, dict):
        found.append(msg)
        if isinstance(msg.get("usage"), dict):
            found.append(msg["usage"])
        if isinstance(msg.get("content"), list):
            found.extend(b for b in msg["content"] if isinstance(b, dict))
    if isinstance(rec.get("toolUseResult"), dict):
        found.append(rec["toolUseResult"])
    return found


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_field_of_any_shape_never_raises(tmp_path, data):
    records = lines_of(REAL / "ccviewer__5c0375b4.jsonl")
    for _ in range(data.draw(st.integers(1, 4))):
        rec = records[data.draw(st.integers(0, len(records) - 1))]
        # (An earlier draw may have set a container to {}: nothing to pick in it.)
        target = data.draw(st.sampled_from([c for c in _containers(rec) if c]))
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(JSON_VALUES)
    path = tmp_path / "shapes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = read_claude_code(path, "alice")
    result.accounting.check()
    for name in ("steps", "tool_calls", "timing_events"):
        schema.to_table(name, getattr(result, name))
