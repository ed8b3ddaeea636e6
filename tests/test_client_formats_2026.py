"""Readers on record shapes the newest clients write (Claude Code 2.1.x, Codex CLI 0.14x-0.15x).

Each session is crafted with our own values, in the shape of records public projects quote
from real logs of late 2026; the comment above each test names where the shape was seen
(repository and path, facts only). The checks: no valid record is rejected, every line is
accounted for (lines_read = used + ignored + rejected), tokens are counted once, and threads
are linked to the sessions they belong to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tracelab_pipeline.cli import main
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.detect import CLAUDE, CODEX, detect_format
from tracelab_pipeline.normalize import normalize_files


def write(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in records:
            f.write(json.dumps(r).encode() + b"\n")
    return path


def read(path: Path):
    result = read_log(path)
    assert result.error is None
    result.accounting.check()  # lines_read = used + ignored + rejected
    assert not result.accounting.rejected, result.accounting.rejected_by_reason
    return result


# -- Codex -------------------------------------------------------------------------------------

P = "019f7ce5-7a52-7e32-8fc5-99c3193aba48"  # parent (root) thread
PT = "019f7ce5-8000-7000-8000-000000000001"  # a parent turn, before the child exists
C = "019f7ce7-8979-7203-8867-34084576cf0c"  # child thread
CT = "019f7ce7-9000-7000-8000-000000000001"  # the child's own turn


def crec(second: float, kind: str, payload: dict, ordinal: int | None = None) -> dict:
    rec = {"timestamp": f"2026-10-20T00:{int(second) // 60:02d}:{second % 60:06.3f}Z"}
    if ordinal is not None:
        rec["ordinal"] = ordinal  # paginated rollouts number their lines
    rec.update(type=kind, payload=payload)
    return rec


def cev(second: float, kind: str, **fields) -> dict:
    return crec(second, "event_msg", {"type": kind, **fields})


def citem(second: float, kind: str, **fields) -> dict:
    return crec(second, "response_item", {"type": kind, **fields})


def usage(i: int, c: int, o: int, r: int = 0) -> dict:
    return {
        "input_tokens": i,
        "cached_input_tokens": c,
        "output_tokens": o,
        "reasoning_output_tokens": r,
        "total_tokens": i + o,
    }


def token_count(second: float, last: dict, total: dict) -> dict:
    info = {"total_token_usage": total, "last_token_usage": last, "model_context_window": 258400}
    return cev(second, "token_count", info=info, rate_limits=None)


def cmeta(second: float, sid: str, **extra) -> dict:
    payload = {"id": sid, "timestamp": "2026-10-20T00:00:00.000Z", "cwd": "/work/p"}
    payload.update(originator="codex_cli_rs", cli_version="0.153.4", model_provider="openai")
    payload.update(extra)
    return crec(second, "session_meta", payload)


def parent_turn() -> list[dict]:
    return [
        cev(1, "task_started", turn_id=PT),
        crec(1.1, "turn_context", {"turn_id": PT, "cwd": "/work/p", "model": "gpt-5.6"}),
        cev(2, "user_message", message="split the work"),
        citem(3, "reasoning", summary=[], content=None, encrypted_content="gAAAA"),
        token_count(4, usage(1000, 0, 50), usage(1000, 0, 50)),
    ]


def child_turn(total: dict) -> list[dict]:
    return [
        cev(10, "task_started", turn_id=CT),
        crec(10.1, "turn_context", {"turn_id": CT, "cwd": "/work/p", "model": "gpt-5.6"}),
        cev(11, "user_message", message="review the diff"),
        citem(12, "message", role="assistant", content=[{"type": "output_text", "text": "ok"}]),
        token_count(13, usage(1200, 1000, 30), total),
    ]


# Shapes: a guardian sub-agent's session_meta with `parent_thread_id`, `session_id` and
# `thread_source` at the top level and `source: {"subagent": {"other": "guardian"}}`
# (quoted in a test of a Codex session indexer, 2026-07, repo path
# Tests/.../CodexGuardian...; openai/codex codex-rs/protocol/src/protocol.rs of 2026-09-22
# declares `SessionMeta.parent_thread_id`, as quoted in a pinned excerpt).
def test_sub_agent_named_only_at_the_top_level_is_linked_to_its_parent(tmp_path):
    meta = cmeta(0, C, session_id=P, parent_thread_id=P, thread_source="subagent")
    meta["payload"]["source"] = {"subagent": {"other": "guardian"}}
    path = write(tmp_path / f"rollout-2026-10-20T00-00-00-{C}.jsonl", [meta, *child_turn({})])
    (step,) = read(path).steps
    assert (step["session_id"], step["agent_id"], step["is_sidechain"]) == (C, C, True)
    assert (step["parent_session_id"], step["root_session_id"]) == (P, P)  # were None and C


# Shape: a review child rollout (`source: {"subagent": "review"}`, `parent_thread_id`,
# `thread_source: "subagent"`; a transcript importer's fixture of 2026-08-07, whose review
# turn id sorts before the child's thread id). It starts afresh: every step is its own.
def test_review_child_keeps_its_steps_whatever_its_turn_ids(tmp_path):
    meta = cmeta(0, C, parent_thread_id=P, thread_source="subagent", source={"subagent": "review"})
    early_turn = "019f7ce6-0000-7000-8000-0000000000aa"  # sorts before C
    records = [meta, cev(1, "task_started", turn_id=early_turn)]
    records.append(token_count(2, usage(900, 0, 60), usage(900, 0, 60)))
    (step,) = read(write(tmp_path / "review.jsonl", records)).steps
    assert (step["session_id"], step["parent_session_id"], step["is_sidechain"]) == (C, P, True)


# Shape: a v2 multi-agent child (`multi_agent_version: "v2"`) whose session_meta has
# `thread_source: "subagent"` and `parent_thread_id` but no `source` at all (fixture of a
# Codex session backend, 2026, quoting child rollouts), and that copies its parent's history
# (a paginated child whose lines before `subagent_history_start_ordinal` are the parent's).
def test_child_with_no_source_is_a_sub_agent_and_its_copied_history_counts_once(tmp_path):
    parent = write(tmp_path / "parent.jsonl", [cmeta(0, P, source="cli"), *parent_turn()])
    child_meta = cmeta(0, C, parent_thread_id=P, thread_source="subagent")
    child_meta["payload"].update(multi_agent_version="v2", agent_nickname="Mochi")
    child_meta["payload"].update(history_mode="paginated", subagent_history_start_ordinal=6)
    copied = [cmeta(0.5, P, source="cli"), *parent_turn()]
    child = write(
        tmp_path / "child.jsonl", [child_meta, *copied, *child_turn(usage(2200, 1000, 80))]
    )

    steps = read(child).steps
    assert [s["session_id"] for s in steps] == [P, C]  # was [C, C]: the copy counted as C's
    copy, own = steps
    assert copy["step_id"] == read(parent).steps[0]["step_id"]
    assert (own["parent_session_id"], own["root_session_id"], own["is_sidechain"]) == (P, P, True)
    tables = normalize_files([parent, child], "alice")
    assert tables.steps.num_rows == 2
    assert sum(tables.steps.column("input_tokens_total").to_pylist()) == 1000 + 1200


# Shape: `session_id` names the root thread of the tree (child `{"id": "c", "session_id":
# "a", "source": {"subagent": {"thread_spawn": {"parent_thread_id": "a"}}}}`, fixture of a
# rollout bundle loader, 2026-08); a grandchild's file holds no meta of the root.
def test_grandchild_gets_its_root_from_session_id(tmp_path):
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": C, "depth": 2}}}
    grandchild = "019f7ce9-0000-7000-8000-000000000001"
    meta = cmeta(0, grandchild, session_id=P, source=spawn, thread_source="subagent")
    turn = [cev(20, "task_started", turn_id="019f7ce9-1000-7000-8000-000000000001")]
    turn.append(token_count(21, usage(10, 0, 1), usage(10, 0, 1)))
    (step,) = read(write(tmp_path / "g.jsonl", [meta, *turn])).steps
    assert (step["parent_session_id"], step["root_session_id"]) == (C, P)  # root was C


# Shape: the protocol's EventMsg reads `turn_started` / `turn_complete` as aliases of
# `task_started` / `task_complete` ("v2 interop"; openai/codex codex-rs/protocol/src/
# protocol.rs, `#[serde(rename = "task_started", alias = "turn_started")]`).
def test_turn_started_alias_opens_a_turn(tmp_path):
    records = [cmeta(0, P, source="cli")]
    turns = [PT, "019f7ce6-0000-7000-8000-000000000002"]
    for n, turn in enumerate(turns):
        records += [cev(10 * n + 1, "turn_started", turn_id=turn, model_context_window=258400)]
        total = usage(100 * (n + 1), 0, 10 * (n + 1))
        records += [token_count(10 * n + 2, usage(100, 0, 10), total)]
        records += [cev(10 * n + 3, "turn_complete", turn_id=turn, last_agent_message="x")]
    result = read(write(tmp_path / "r.jsonl", records))
    # (without them: no turn at all, both steps numbered in the file name's "turn")
    assert [s["round_id"] for s in result.steps] == [f"{t}:0" for t in turns]
    assert result.accounting.ignored_by_type == {"event_msg.turn_complete": 2}


# Shape: after /review the parent rollout holds the review's user-action message,
# `exited_review_mode`, then an assistant message with the findings, and no token_count
# (openai/codex codex-rs/core/src/tasks/review.rs exit_review_mode; a transcript importer's
# fixture of 2026-10-06 quotes the same four lines).
def test_review_findings_are_not_carried_into_the_next_step(tmp_path):
    later = "019f7cf0-0000-7000-8000-000000000003"
    review = [
        cev(20, "entered_review_mode", target={"type": "uncommittedChanges"}, turn_id=PT),
        citem(80, "message", role="user", content=[{"type": "input_text", "text": "<a/>"}]),
        cev(80.1, "exited_review_mode", turn_id=PT, review_output={"findings": []}),
        citem(80.2, "message", role="assistant", content=[{"type": "output_text", "text": "ok"}]),
        cev(80.2, "agent_message", message="ok"),
        cev(80.3, "task_complete", turn_id=PT),
    ]
    next_turn = [
        cev(3000, "task_started", turn_id=later),
        cev(3001, "user_message", message="commit it"),
        citem(3005, "message", role="assistant", content=[{"type": "output_text", "text": "x"}]),
        token_count(3006, usage(300, 100, 20), usage(1300, 100, 70)),
    ]
    path = write(
        tmp_path / "r.jsonl", [cmeta(0, P, source="cli"), *parent_turn(), *review, *next_turn]
    )
    result = read(path)
    last = result.steps[-1]
    texts = [e for e in result.timing_events if e["step_id"] == last["step_id"]]
    assert [e["event_type"] for e in texts] == ["user_message", "text", "usage_report"]
    assert last["first_output_at"] > last["input_ready_at"]  # the findings' text came first
    assert result.accounting.ignored_by_type["response_item.message(review result)"] == 1
    # an assistant message that follows other records is model output again
    assert sum(s["output_tokens"] for s in result.steps) == 70


# Shape: a paginated rollout (Codex 0.146+) that continues another thread names it only in
# `history_base.thread_id` (fixture `discover_sessions_v0146_reads_history_base_thread_id` of
# a session-discovery tool); a revision of the same thread names itself there.
@pytest.mark.parametrize("base, parent", [(P, P), (C, None)])
def test_paginated_continuation_is_linked_to_the_thread_it_continues(tmp_path, base, parent):
    meta = cmeta(0, C, source="cli", history_mode="paginated")
    meta["payload"]["history_base"] = {"thread_id": base, "end_ordinal_exclusive": 5}
    (step,) = read(write(tmp_path / "r.jsonl", [meta, *child_turn({})])).steps
    assert (step["parent_session_id"], step["is_sidechain"]) == (parent, False)


# Shapes of a 2026 paginated rollout: an `ordinal` on every line, `item_completed` events,
# a custom_tool_call (apply_patch) with JSON output metadata, untracked tool items,
# rate-limit-only usage, `compacted` with `window_number` (rollout fixtures of 2026 in
# session viewers and sanitizers, e.g. a rollout sanitizer's TestSanitizePaginated...).
def test_paginated_rollout_counts_every_usage_once(tmp_path):
    def counts(last, total):
        info = {"last_token_usage": last, "total_token_usage": total}
        return {"type": "token_count", "info": info}

    lines = [
        (0, "session_meta", {"id": P, "session_id": P, "cwd": "/p", "history_mode": "paginated"}),
        (1, "event_msg", {"type": "task_started", "turn_id": PT}),
        (2, "turn_context", {"turn_id": PT, "cwd": "/p", "model": "gpt-5.6-sol"}),
        (3, "event_msg", {"type": "user_message", "message": "go", "text_elements": []}),
        (4, "event_msg", {"type": "item_completed", "thread_id": P, "turn_id": PT,
                          "item": {"type": "UserMessage", "id": "i1", "content": []}}),
        (5, "response_item", {"type": "reasoning", "id": "rs", "summary": [],
                              "encrypted_content": "gAAAA"}),
        (6, "response_item", {"type": "custom_tool_call", "status": "completed",
                              "call_id": "call_1", "name": "apply_patch", "input": "*** Begin"}),
        (7, "event_msg", counts(usage(500, 0, 40, 10), usage(500, 0, 40, 10))),
        (8, "event_msg", {"type": "patch_apply_end", "call_id": "call_1", "turn_id": PT,
                          "stdout": "Success", "stderr": "", "success": True}),
        (9, "response_item", {"type": "custom_tool_call_output", "call_id": "call_1", "output":
                              '{"output":"Success","metadata":{"exit_code":0,"duration_seconds":0.2}}'}),
        (10, "response_item", {"type": "web_search_call", "status": "completed",
                               "action": {"type": "search", "query": "q"}}),
        (11, "response_item", {"type": "local_shell_call", "call_id": "ls", "status": "completed",
                               "action": {"type": "exec", "command": ["ls"]}}),
        (12, "response_item", {"type": "function_call_output", "call_id": "ls", "output": "a"}),
        (13, "event_msg", {"type": "exec_command_end", "call_id": "user_shell_1", "source":
                           "user_shell", "exit_code": 0, "aggregated_output": "x",
                           "duration": {"secs": 0, "nanos": 5}}),
        (14, "response_item", {"type": "message", "role": "assistant", "phase": "final_answer",
                               "content": [{"type": "output_text", "text": "done"}]}),
        (15, "event_msg", counts(usage(600, 500, 20), usage(1100, 500, 60, 10))),
        (16, "event_msg", {"type": "token_count", "info": None, "rate_limits": {"limit_id": "c"}}),
        (17, "compacted", {"message": "", "replacement_history": [], "window_number": 1}),
        (18, "event_msg", {"type": "task_complete", "turn_id": PT, "duration_ms": 5300}),
    ]  # fmt: skip
    path = write(tmp_path / "r.jsonl", [crec(n, kind, p, n) for n, kind, p in lines])
    result = read(path)
    steps = result.steps
    assert [s["input_tokens_total"] for s in steps] == [500, 600]
    assert sum(s["input_tokens_total"] for s in steps) == 1100  # the final total_token_usage
    assert sum(s["output_tokens"] for s in steps) == 60
    (tool,) = result.tool_calls
    assert (tool["tool_name"], tool["internal_latency_ms"]) == ("apply_patch", 200)
    acc = result.accounting
    assert acc.ignored_by_type["response_item.function_call_output(unknown call_id)"] == 1
    # a compaction with no step after it: its line is accounted, no empty flag is left behind
    assert acc.ignored_by_type["dropped_at_eof:compacted"] == 1
    assert "events dropped at end of file (no closing token_count)" not in acc.flagged_by_reason


# Shape: Codex (since rust-v0.137.0) rewrites a rollout idle for a week as `rollout-*.jsonl.zst`
# (codex-rs/rollout/src/compression.rs). open_log reads it by its content, like gzip.
def test_zstd_compressed_rollout_is_read_by_content(tmp_path):
    # a real zstd frame holding one rollout line as one raw block, built by hand (independent
    # of the compressor we use in other tests): magic, descriptor (single segment, 2-byte
    # content size = size - 256), block header
    line = json.dumps(cmeta(0, P, source="cli")).encode() + b"\n"
    size = len(line)
    assert 256 <= size < 65536 + 256
    header = b"\x28\xb5\x2f\xfd\x60" + (size - 256).to_bytes(2, "little")
    frame = header + (size << 3 | 1).to_bytes(3, "little") + line
    path = tmp_path / "rollout-2026-10-20T00-00-00.jsonl.zst"
    path.write_bytes(frame)
    assert detect_format(path) == CODEX
    result = read_log(path)
    assert result.error is None
    assert result.accounting.lines_read == 1 and not result.accounting.rejected


# -- Claude Code -------------------------------------------------------------------------------

SID = "0c4f1a2b-3d4e-4f50-8a6b-7c8d9e0f1a2b"


def claude(second: float, kind: str, **fields) -> dict:
    rec = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "entrypoint": "cli",
        "cwd": "/home/dev/p",
        "sessionId": SID,
        "version": "2.1.300",
        "gitBranch": "main",
        "slug": "quiet-river",
        "type": kind,
        "uuid": f"u-{second}",
        "timestamp": f"2026-10-01T10:00:{second:06.3f}Z",
    }
    rec.update(fields)
    return rec


def assistant(second: float, mid: str, content: list, usage: dict, stop=None) -> dict:
    message = {"model": "claude-opus-5-5", "id": mid, "type": "message", "role": "assistant"}
    message.update(content=content, stop_reason=stop, stop_sequence=None, usage=usage)
    return claude(second, "assistant", requestId="req_011A", message=message)


def iteration(kind: str, u: int, w: int, r: int, o: int) -> dict:
    return {
        "input_tokens": u,
        "output_tokens": o,
        "cache_read_input_tokens": r,
        "cache_creation_input_tokens": w,
        "type": kind,
    }


# Shape: a real transcript line (advisor tool, late 2026) quoted in a context-budget guard's
# test: top-level usage 4/3093/222541/790 is the sum of two "message" iterations, and an
# "advisor_message" iteration (another model) is in no top-level count.
ADVISOR_USAGE = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 3093,
    "cache_read_input_tokens": 222541,
    "output_tokens": 790,
    "output_tokens_details": {"thinking_tokens": 596},
    "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
    "service_tier": "standard",
    "cache_creation": {"ephemeral_1h_input_tokens": 1441, "ephemeral_5m_input_tokens": 1652},
    "inference_geo": "not_available",
    "iterations": [
        iteration("message", 2, 1441, 110550, 623),
        {**iteration("advisor_message", 113780, 0, 0, 4864), "model": "claude-fable-5-1"},
        iteration("message", 2, 1652, 111991, 167),
    ],
    "speed": "standard",
}
ONE_PASS = {
    "input_tokens": 2,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 5000,
    "output_tokens": 40,
    "iterations": [iteration("message", 2, 300, 5000, 40)],
}


def test_usage_iterations_keep_tracelab_counts_and_are_flagged(tmp_path):
    records = [
        claude(1, "user", message={"role": "user", "content": "plan it"}, promptId="p1"),
        assistant(
            2, "msg_A", [{"type": "thinking", "thinking": "", "signature": "s"}], ADVISOR_USAGE
        ),
        assistant(
            3,
            "msg_A",
            [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "advisor", "input": {}}],
            ADVISOR_USAGE,
        ),  # fmt: skip
        assistant(4, "msg_A", [{"type": "text", "text": "done"}], ADVISOR_USAGE, "end_turn"),
        claude(5, "user", message={"role": "user", "content": "next"}),
        assistant(6, "msg_B", [{"type": "text", "text": "ok"}], ONE_PASS, "end_turn"),
    ]
    result = read(write(tmp_path / "p" / f"{SID}.jsonl", records))
    advisor, plain = result.steps
    # TraceLab's numbers (§5.1): the top-level counts, once per message id
    assert (advisor["input_tokens_total"], advisor["output_tokens"]) == (4 + 3093 + 222541, 790)
    assert (advisor["cache_write_5m_tokens"], advisor["cache_write_1h_tokens"]) == (1652, 1441)
    assert plain["input_tokens_total"] == 5302
    flags = result.accounting.flagged_by_reason
    assert flags["claude: usage sums several model calls (usage.iterations), kept as one step"] == 1
    assert flags["claude: usage.iterations has calls outside its totals (advisor, compaction)"] == 1


# Shapes of Claude Code 2.1.x bookkeeping and sub-agent records (claude-session-mcp CLAUDE.md
# record table; alignment-hive docs/sessions/session-8-jsonl-format.md; a transcript parser's
# queue-operation test "Real shapes (v2.1.28x)"; an API-error line of 2.1.114 quoted in a
# rate-limit detector's test): none is a step, none is rejected, the Agent result counts once.
def test_claude_2_1_session_reads_without_rejections(tmp_path):
    agent_result = {"status": "completed", "prompt": "x", "agentId": "a1", "totalDurationMs": 4000,
                    "totalTokens": 123, "totalToolUseCount": 3, "content": []}  # fmt: skip
    records = [
        {"type": "queue-operation", "operation": "enqueue", "timestamp": "2026-10-01T10:00:00.000Z",
         "sessionId": SID, "content": "do it"},
        {"type": "queue-operation", "operation": "dequeue", "timestamp": "2026-10-01T10:00:00.000Z",
         "sessionId": SID},
        {"type": "file-history-snapshot", "messageId": "m0", "isSnapshotUpdate": False,
         "snapshot": {"messageId": "m0", "trackedFileBackups": {}, "timestamp": "x"}},
        claude(1, "user", message={"role": "user", "content": "do it"}, permissionMode="default"),
        assistant(2, "msg_C", [{"type": "tool_use", "id": "toolu_1", "name": "Agent",
                                "input": {"prompt": "x", "subagent_type": "Explore"}}],
                  ONE_PASS, "tool_use"),
        claude(3, "progress", toolUseID="agent_msg_1", parentToolUseID="toolu_1",
               data={"type": "agent_progress", "agentId": "a1", "message": {
                   "type": "assistant", "message": {"id": "msg_SUB", "role": "assistant",
                                                    "usage": ONE_PASS, "content": []}}}),
        claude(9, "user", sourceToolAssistantUUID="u-2", toolUseResult=agent_result,
               message={"role": "user", "content": [{"tool_use_id": "toolu_1", "type":
                        "tool_result", "content": [{"type": "text", "text": "found"}]}]}),
        claude(10, "assistant", isApiErrorMessage=True, error="rate_limit", apiErrorStatus=429,
               message={"id": "e5bbbf08-cfab-4571-969f-6afa8a3c6b8d", "model": "<synthetic>",
                        "role": "assistant", "stop_reason": "stop_sequence", "type": "message",
                        "content": [{"type": "text", "text": "limit reached"}]}),
        claude(10.5, "assistant", isApiErrorMessage=True, error="server_error", apiErrorStatus=529,
               message={"role": "assistant", "content": [{"type": "text", "text": "Overloaded"}]}),
        claude(11, "system", subtype="api_error", level="error", retryInMs=500, retryAttempt=1,
               maxRetries=10, error={"status": 529}),
        claude(12, "system", subtype="turn_duration", durationMs=9000, isMeta=False),
        {"type": "pr-link", "sessionId": SID, "prNumber": 3, "prUrl": "https://example.invalid/3",
         "prRepository": "a/b", "timestamp": "2026-10-01T10:00:13.000Z"},
        {"type": "custom-title", "customTitle": "t", "sessionId": SID},
        {"type": "agent-name", "agentName": "n", "sessionId": SID},
        {"type": "last-prompt", "lastPrompt": "do it", "sessionId": SID},
    ]  # fmt: skip
    result = read(write(tmp_path / "p" / f"{SID}.jsonl", records))
    (step,) = result.steps  # the sub-agent's copy in `progress` is not a step of this file
    assert step["input_tokens_total"] == 5302 and step["tool_call_count"] == 1
    acc = result.accounting
    assert acc.used == 3
    # the second placeholder has no id or model (was rejected: "assistant message without a
    # string id"); pending inputs carry over either way
    assert acc.ignored_by_type["assistant:api_error"] == 2
    assert acc.ignored_by_type["progress"] == 1
    assert acc.ignored_by_type["system:api_error"] == 1


# Shape: Claude Code 2.x runs compaction as a sub-agent, `<session>/subagents/agent-acompact-
# <id>.jsonl`, whose transcript repeats the parent's conversation (sonnes/chitragupt
# docs/specs/004-subagents.md; Sinity/polylogue's lineage design: "100 % of parent"; a
# transcript adapter's test file `agent-acompact-3d346a6bf6f19caa.jsonl`). The copies are the
# parent's calls, counted once; the summarizing call is the sub-agent's own step.
def test_compaction_agent_file_counts_only_its_own_call(tmp_path):
    main = [
        claude(1, "user", message={"role": "user", "content": "go"}),
        assistant(2, "msg_E", [{"type": "text", "text": "a"}], ONE_PASS, "end_turn"),
        claude(3, "user", message={"role": "user", "content": "more"}),
        assistant(4, "msg_F", [{"type": "text", "text": "b"}], ONE_PASS, "end_turn"),
        claude(5, "system", subtype="compact_boundary", compactMetadata={"trigger": "auto"}),
    ]
    agent = "acompact-3d346a6bf6f19caa"
    summary = claude(6, "user", message={"role": "user", "content": "Summarize the conversation"})
    own = assistant(7, "msg_S", [{"type": "text", "text": "<summary>"}], ONE_PASS, "end_turn")
    copies = [{**json.loads(json.dumps(r)), "isSidechain": True, "agentId": agent}
              for r in [*main[:4], summary, own]]  # fmt: skip
    main_file = write(tmp_path / "p" / f"{SID}.jsonl", main)
    agent_file = write(tmp_path / "p" / SID / "subagents" / f"agent-{agent}.jsonl", copies)
    assert [s["agent_id"] for s in read(agent_file).steps] == [agent] * 3
    tables = normalize_files([main_file, agent_file], "alice")
    rounds = dict(zip(tables.steps.column("round_id").to_pylist(),
                      tables.steps.column("agent_id").to_pylist(), strict=True))  # fmt: skip
    assert rounds == {"msg_E": None, "msg_F": None, "msg_S": agent}


# -- detection by content ----------------------------------------------------------------------

CLAUDE_OPENERS = {
    "queue-operation": {"type": "queue-operation", "operation": "enqueue",
                        "timestamp": "2026-10-01T10:00:00.000Z", "sessionId": SID, "content": "x"},
    "file-history-snapshot": {"type": "file-history-snapshot", "messageId": "m", "snapshot": {},
                              "isSnapshotUpdate": False},
    "summary": {"type": "summary", "summary": "Parser work", "leafUuid": "u-1"},
    "permission-mode": {"type": "permission-mode", "permissionMode": "default", "sessionId": SID},
    "progress": {"type": "progress", "sessionId": SID, "data": {"type": "hook_progress"}},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CLAUDE_OPENERS))
def test_claude_file_opening_with_bookkeeping_is_claude(tmp_path, kind):
    # 60 such lines (more than detection peeks at), as a file with many stale summaries has
    records = [CLAUDE_OPENERS[kind]] * 60 + [
        claude(1, "user", message={"role": "user", "content": "hi"}),
        assistant(2, "msg_D", [{"type": "text", "text": "hello"}], ONE_PASS, "end_turn"),
    ]
    path = write(tmp_path / "p" / f"{SID}.jsonl", records)
    assert detect_format(path) == CLAUDE
    assert len(read(path).steps) == 1


@pytest.mark.parametrize("first", ["turn_context", "event_msg", "response_item", "compacted"])
def test_codex_file_not_opening_with_session_meta_is_codex(tmp_path, first):
    openers = {
        "turn_context": crec(0, "turn_context", {"turn_id": PT, "model": "gpt-5.6"}),
        "event_msg": cev(0, "task_started", turn_id=PT),
        "response_item": citem(0, "message", role="developer", content=[]),
        "compacted": crec(0, "compacted", {"message": "", "window_number": 1}),
    }
    records = [openers[first], token_count(1, usage(10, 0, 1), usage(10, 0, 1))]
    path = write(tmp_path / "rollout-2026-10-20T00-00-00-x.jsonl", records)
    assert detect_format(path) == CODEX
    assert len(read(path).steps) == 1


def test_cli_normalizes_the_newest_shapes_without_rejections(tmp_path):
    """`tracelab normalize` end to end on one file of each client's newest shapes."""
    claude_file = write(
        tmp_path / "in" / "p" / f"{SID}.jsonl",
        [
            claude(1, "user", message={"role": "user", "content": "plan it"}),
            assistant(2, "msg_A", [{"type": "text", "text": "done"}], ADVISOR_USAGE, "end_turn"),
        ],
    )
    meta = cmeta(0, C, session_id=P, parent_thread_id=P, thread_source="subagent")
    write(tmp_path / "in" / f"rollout-2026-10-20T00-00-00-{C}.jsonl", [meta, *child_turn({})])
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["normalize", str(tmp_path / "in"), "--out", str(out)])
    assert run.exit_code == 0, run.output
    acc = pq.read_table(out / "ingest_accounting.parquet").to_pylist()
    assert {r["records_rejected"] for r in acc} == {0} and len(acc) == 2
    steps = pq.read_table(out / "steps.parquet").to_pylist()
    by_provider = {s["provider"]: s for s in steps}
    assert by_provider["claude"]["input_tokens_total"] == 225638
    assert by_provider["codex"]["parent_session_id"] == P
    assert claude_file.exists()
