"""The closed-loop Mooncake trace and the Weka session trace, on crafted public steps whose
expected lines are worked out by hand, and a strict model of the Weka format written from
serving-ecosystem.md §1.4 B (AIPerf reads it with extra="forbid")."""

import gzip
import io
import math
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
import pytest
from weka_model import validate_weka_line

from tracelab_pipeline import schema
from tracelab_pipeline.release.mooncake import MooncakeTrace, block_chain
from tracelab_pipeline.release.weka import WekaTrace

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(microseconds=round(seconds * 1e6))


def step(thread, index, total, prefix, ready=None, first=None, done=None, **extra):
    """A public step row; `ready`/`first`/`done` are seconds after T0 (input_ready_at,
    first_output_at, last_output_at)."""
    root = extra.pop("root", "ses_main")
    values = {
        "step_id": f"stp_{thread}_{index}",
        "contributor": "usr_a",
        "provider": "claude",
        "session_id": thread,
        "root_session_id": root,
        "is_sidechain": thread != root,
        "parent_session_id": None if thread == root else root,
        "step_index": index,
        "round_id": f"rnd_{index}",
        "model": "m-a",
        "input_tokens_total": total,
        "prefix_tokens": prefix,
        "append_tokens": total - prefix,
        "output_tokens": 10,
        "trigger": "tool",
        "current_user_message_count": 0,
        "current_tool_result_count": 1,
        "tool_call_count": 0,
        "input_ready_at": None if ready is None else at(ready),
        # logged outputs: the first at `first`, else at `ready` when the step has an end
        "first_output_at": at(first) if first is not None else (done and at(ready)),
        "last_output_at": None if done is None else at(done),
    }
    values.update(extra)
    return schema.blank_row("steps", **values)


STEPS = [
    # main chain
    step("ses_main", 0, 1000, 0, ready=0, done=2, trigger="user", current_user_message_count=1,
         current_tool_result_count=0, tool_call_count=1),
    step("ses_main", 1, 1300, 1000, ready=2.5005, done=4, stop_reason=None),
    step("ses_main", 2, 200, 0),  # no time: left out, but its ids stay in the chain
    step("ses_main", 3, 1400, 1300, ready=5),  # sent, but no output logged
    step("ses_main", 4, 1500, 1400, first=6, done=7, trigger="user",
         current_user_message_count=1),  # no input event; fed by a user message and a tool result
    step("ses_main", 5, 1600, 1500, ready=6.5, done=8, model=None, stop_reason="max_tokens"),
    # a sub-agent, and one spawned by it
    step("ses_sub", 0, 640, 0, ready=3, done=3.2, tool_call_count=2, agent_id="agt_x",
         model="m-b"),
    step("ses_sub", 1, 700, 640, ready=3.5, done=3.6, agent_id="agt_x", model="m-b"),
    step("ses_subsub", 0, 128, 0, ready=3.3, done=3.4, agent_id="agt_y",
         parent_session_id="ses_sub"),
    # a session without any time, and one of which only a sub-agent is in the layer
    step("ses_untimed", 0, 64, 0, root="ses_untimed"),
    step("ses_orphan_sub", 0, 64, 0, ready=100, done=101, root="ses_gone", agent_id="agt_z"),
]  # fmt: skip


@pytest.fixture(scope="module")
def steps():
    return pa.Table.from_pylist(STEPS, schema=schema.STEPS)


@pytest.fixture(scope="module")
def weka(steps):
    buffer = io.BytesIO()
    trace = WekaTrace(buffer)
    trace.add(steps)
    lines = [orjson.loads(line) for line in buffer.getvalue().splitlines()]
    return {line["id"]: line for line in lines}, trace.counts, buffer.getvalue()


def test_weka_lines_follow_the_spec(weka):
    lines, counts, _ = weka
    assert sorted(lines) == ["ses_gone", "ses_main"]  # ses_untimed has no request to give
    for line in lines.values():
        validate_weka_line(line)
    main = lines["ses_main"]
    assert list(main) == ["id", "models", "block_size", "hash_id_scope", "requests", "totals"]
    assert main["models"] == ["m-a"]  # step 5 names no model; sub-agents list their own
    assert main["totals"] == {"contributor": "usr_a", "provider": "claude", "steps_without_time": 1}
    assert dict(counts) == {
        "lines": 2,
        "requests": 9,
        "subagents": 3,
        "steps_without_time": 2,
        "sessions_without_time": 1,
        "sessions_without_main_thread": 1,
        "subagents_without_time": 0,
        "subagents_of_subagents": 1,
        "negative_think_times_clamped": 1,
        "think_times_unknown": 1,
        "negative_api_times_clamped": 0,
    }


def test_weka_negative_api_time_becomes_zero_and_is_counted():
    # last output logged before the input was ready: the log's clocks disagree
    rows = [
        step("ses_main", 0, 640, 0, ready=0, done=2),
        step("ses_main", 1, 700, 640, ready=5, done=4.5),
    ]
    trace = WekaTrace(io.BytesIO())
    trace.add(pa.Table.from_pylist(rows, schema=schema.STEPS))
    (line,) = [orjson.loads(x) for x in trace.f.getvalue().splitlines()]
    assert [r["api_time"] for r in line["requests"]] == [2.0, 0.0]
    assert trace.counts["negative_api_times_clamped"] == 1


def test_weka_subagents_nest_at_their_start_in_the_parents_list(weka):
    lines, _, _ = weka
    items = lines["ses_main"]["requests"]
    assert [(i["type"], i["t"]) for i in items] == [
        ("s", 0.0),
        ("s", 2.5),  # 2500.5 ms, truncated to ms
        ("subagent", 3.0),
        ("subagent", 3.3),  # spawned by the sub-agent: the format nests one level
        ("s", 5.0),
        ("s", 6.0),
        ("s", 6.5),
    ]
    sub, subsub = items[2], items[3]
    assert {k: v for k, v in sub.items() if k != "requests"} == {
        "t": 3.0,
        "type": "subagent",
        "agent_id": "agt_x",
        "subagent_type": "",
        "duration_ms": 600,  # first call at 3.0 s, last output at 3.6 s
        "tool_use_count": 2,
        "status": "completed",  # DynoSim 1.6.1 refuses "": "unsupported non-success status"
        "models": ["m-b"],
    }
    # nested requests are on the session's clock, with their own think times
    assert [(r["t"], r["think_time"], r["api_time"]) for r in sub["requests"]] == [
        (3.0, None, 0.2),
        (3.5, 0.3, 0.1),
    ]
    assert subsub["agent_id"] == "agt_y" and len(subsub["requests"]) == 1
    # a session whose main chain is not in the layer: its sub-agent alone, from t = 0
    orphan = lines["ses_gone"]
    assert orphan["models"] == [] and [i["type"] for i in orphan["requests"]] == ["subagent"]
    assert orphan["requests"][0]["t"] == 0.0


def test_weka_request_fields_from_public_columns(weka):
    lines, _, _ = weka
    requests = [i for i in lines["ses_main"]["requests"] if i["type"] == "s"]
    fields = ("in", "out", "model", "input_types", "stop", "api_time", "think_time")
    assert [tuple(r[f] for f in fields) for r in requests] == [
        (1000, 10, "m-a", ["text"], "tool_use", 2.0, None),
        # api 4.0 - 2.5005 = 1.4995 s and gap 2.5005 - 2.0 s, both truncated to ms
        (1300, 10, "m-a", ["tool_result"], "end_turn", 1.499, 0.5),
        # no output logged: no api_time, and "" (unknown) for its stop
        (1400, 10, "m-a", ["tool_result"], "", None, 1.0),
        # no input event: no api_time; output, no tool call, no stop reason: end_turn;
        # the previous call's end is unknown: no think time
        (1500, 10, "m-a", ["text", "tool_result"], "end_turn", None, None),
        # sent before the previous call's last output (7.0 s): 0, counted; no model: ""
        (1600, 10, "", ["tool_result"], "", 1.5, 0.0),
    ]


def test_weka_chain_floor_blocks_prefix_reuse_and_local_ids(weka):
    lines, _, _ = weka
    items = lines["ses_main"]["requests"]
    main = [i["hash_ids"] for i in items if i["type"] == "s"]
    # ids from 1 within the line, main chain first (steps 0-5, the untimed step 2 included)
    assert main[0] == list(range(1, 16))  # floor(1000 / 64) = 15
    assert main[1] == list(range(1, 21))  # keeps 15 (prefix 1000 -> 15 full blocks) + 5 new
    # step 2 (left out) took [21, 22, 23] (floor(200 / 64) = 3); step 3 keeps those 3 only
    assert main[2] == [21, 22, 23, *range(24, 42)]
    assert main[3] == [*main[2], 42, 43]  # prefix 1400: all 21 kept; floor(1500 / 64) = 23
    assert main[4] == [*main[3], 44, 45]
    # sub-agents after the main chain, in list order; threads share no ids
    last_main = max(max(ids) for ids in main)
    sub = [r["hash_ids"] for r in items[2]["requests"]]
    assert sub[0] == list(range(last_main + 1, last_main + 11))  # floor(640 / 64)
    assert sub[1] == sub[0]  # prefix 640 = the 10 blocks; floor(700 / 64) = 10: nothing new
    assert items[3]["requests"][0]["hash_ids"] == [last_main + 11, last_main + 12]
    assert lines["ses_gone"]["requests"][0]["requests"][0]["hash_ids"] == [1]


def test_weka_output_is_deterministic(steps, weka):
    _, _, first = weka
    buffer = io.BytesIO()
    WekaTrace(buffer).add(steps.take(list(reversed(range(steps.num_rows)))))  # any input order
    assert buffer.getvalue() == first


def test_block_chain_full_blocks_only_never_holds_a_partial_block():
    # 1000 tokens: 15 full blocks (the 40-token tail is not a block); prefix 1000 keeps 15
    runs, next_id = block_chain([], 0, 1000, 0, 1, 64, full_blocks_only=True)
    assert (runs, next_id) == ([(1, 15)], 16)
    runs, next_id = block_chain(runs, 1000, 1300, 1000, next_id, 64, full_blocks_only=True)
    assert (runs, next_id) == ([(1, 20)], 21)
    # the same calls in Mooncake blocks: ceil, and the partial 2nd block is not reused
    runs, next_id = block_chain([], 0, 1000, 0, 0)
    assert block_chain(runs, 1000, 1300, 1000, next_id) == ([(0, 1), (2, 2)], 4)
    assert block_chain([(1, 3)], 192, 63, 63, 4, 64, full_blocks_only=True) == ([], 4)


def test_closed_loop_mooncake_delays(steps, tmp_path):
    trace = MooncakeTrace()
    trace.add(steps)
    written = trace.write(tmp_path / "open.jsonl.gz", tmp_path / "sessions.jsonl.gz")
    open_rows = _lines(tmp_path / "open.jsonl.gz")
    rows = _lines(tmp_path / "sessions.jsonl.gz")
    assert len(rows) == len(open_rows) == written["rows"] == steps.num_rows - 2
    # the same lines in the same order: only the first key differs, and the thread is added
    for row, open_row in zip(rows, open_rows, strict=True):
        assert list(row)[1:] == [*list(open_row)[1:], "session_id"]
        assert {k: v for k, v in row.items() if k not in ("delay", "timestamp", "session_id")} == {
            k: v for k, v in open_row.items() if k != "timestamp"
        }
        if "timestamp" in row:
            assert row["timestamp"] == open_row["timestamp"]
    first = {k: v for k, v in rows[0].items() if k != "hash_ids"}
    assert first["timestamp"] == 0
    by_thread = {}
    for row in rows:
        by_thread.setdefault(row["session_id"], []).append(
            ("delay", row["delay"]) if "delay" in row else ("timestamp", row["timestamp"])
        )
    assert by_thread["ses_main"] == [
        ("timestamp", 0),
        ("delay", 500),  # 2500.5 ms - the previous last output at 2000 ms, truncated
        ("delay", 1000),  # 5000 - 4000: the untimed step 2 is not a line, the gap spans it
        ("timestamp", 6000),  # the previous call (step 3) has no end: absolute time kept
        ("delay", 0),  # sent at 6500, the previous call's last output at 7000: clamped
    ]
    assert by_thread["ses_sub"] == [("timestamp", 3000), ("delay", 300)]
    assert by_thread["ses_subsub"] == [("timestamp", 3300)]
    assert written["sessions"] == {
        "threads": 4,
        "rows_with_delay": 4,
        "negative_gaps_clamped": 1,
        "rows_timed_as_previous_call_has_no_end": 1,
    }
    for row in open_rows:  # the open file keeps the Mooncake rule: ceil(in / 512) ids
        assert len(row["hash_ids"]) == math.ceil(row["input_length"] / 512)


def test_closed_loop_file_is_optional_and_the_open_one_unchanged(steps, tmp_path):
    trace = MooncakeTrace()
    trace.add(steps)
    trace.write(tmp_path / "alone.jsonl.gz")
    trace.write(tmp_path / "open.jsonl.gz", tmp_path / "sessions.jsonl.gz")
    assert (tmp_path / "alone.jsonl.gz").read_bytes() == (tmp_path / "open.jsonl.gz").read_bytes()


def _lines(path):
    with gzip.open(path, "rb") as f:
        return [orjson.loads(line) for line in f]
