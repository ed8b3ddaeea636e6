"""Red-team cases for landing by conversation family and the cross-session dedup: real
fixtures edited only in ids and timestamps (helpers from test_partition_placement)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from test_partition_placement import (
    PROJECT,
    S1,
    S2,
    _land_and_normalize,
    _sniffly,
    _write,
)

from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.landing.scan import MAX_SESSIONS


def test_a_round_export_does_not_pull_unrelated_conversations_into_one_month(tmp_path):
    """An export names sessions of many months (its session_id is "claude:<sessionId>", the
    same key a Claude Code log gets): it must not join them into one family, nor be placed."""
    inbox = tmp_path / "inbox"
    _write(
        inbox, f"{PROJECT}/{S1}.jsonl", _sniffly("ba79134d", S1, datetime(2026, 1, 15, tzinfo=UTC))
    )
    _write(
        inbox, f"{PROJECT}/{S2}.jsonl", _sniffly("fed8ce56", S2, datetime(2026, 5, 2, tzinfo=UTC))
    )
    rows = [
        {
            "provider": "claude",
            "session_id": f"claude:{s}",
            "round_index": 0,
            "round_id": "m1",
            "input_tokens_total": 5,
            "output_tokens": 1,
            "timing_events": [],
            "tools": [],
        }
        for s in (S1, S2)
    ]
    _write(inbox, "alice/export/rounds.jsonl", [json.dumps(r) for r in rows])
    parts = _land_and_normalize(tmp_path)
    assert {m: p["files"] for m, p in parts.items()} == {
        "2026-01": [f"{PROJECT.split('/', 1)[1]}/{S1}.jsonl"],
        "2026-05": [f"{PROJECT.split('/', 1)[1]}/{S2}.jsonl"],
    }
    with Registry(tmp_path / "landed") as reg:
        export = next(f for f in reg.files() if f["member"].endswith("rounds.jsonl"))
    assert (export["status"], export["month"]) == ("unplaced", None)


def test_a_sub_agent_of_a_conversation_continued_past_max_sessions_lands_with_it(tmp_path):
    """`claude --continue` every other day: file N repeats sessions 1..N-1 before its own, so
    past MAX_SESSIONS its own session was not recorded and its sub-agent (naming only that
    session) landed months away from its parent."""
    n = MAX_SESSIONS + 6
    sessions = [f"{i:08d}-aaaa-4aaa-8aaa-000000000001" for i in range(n)]
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    inbox = tmp_path / "inbox"
    history: list[str] = []
    for i, s in enumerate(sessions):
        own = _sniffly("fed8ce56", s, start + timedelta(days=2 * i))
        own = [line.replace("msg_", f"msg_{i:03d}") for line in own]
        _write(inbox, f"{PROJECT}/{s}.jsonl", history + own)
        history += own
    agent = _sniffly("fed8ce56", sessions[-1], start + timedelta(days=2 * n))
    agent = [
        line.replace("msg_", "msg_agent").replace('"isSidechain":false', '"isSidechain":true')
        for line in agent
    ]
    _write(inbox, f"{PROJECT}/{sessions[-1]}/subagents/agent-x1.jsonl", agent)
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        months = {f["month"] for f in reg.files()}
    assert months == {"2026-01"}


def test_a_registry_from_before_sessions_were_recorded_links_a_later_sub_agent(tmp_path):
    """A registry written before files named every session gets a NULL `sessions` column
    (ALTER TABLE): S2's file (S1's history, then S2) was known by S1 only, so S2's sub-agent
    landing afterwards went to March while S2 is in January."""
    from test_partition_placement import _chain

    s1, s2_file, _ = _chain()
    inbox = tmp_path / "inbox"
    _write(inbox, f"{PROJECT}/{S1}.jsonl", s1)
    _write(inbox, f"{PROJECT}/{S2}.jsonl", s2_file)
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:  # as the old code left it
        reg.db.execute("UPDATE files SET sessions = NULL")
        reg.db.commit()
    agent = _sniffly("fed8ce56", S2, datetime(2026, 3, 11, 0, 5, tzinfo=UTC))
    agent = [line.replace('"isSidechain":false', '"isSidechain":true') for line in agent]
    _write(inbox, f"{PROJECT}/{S2}/subagents/agent-a7f3c2.jsonl", agent)
    # Out of time budget: the new drop lands, the old rows wait for a later landing.
    land_inbox(str(inbox), tmp_path / "landed", budget_s=1e-9)
    with Registry(tmp_path / "landed") as reg:
        assert sorted(f["sessions"] is None for f in reg.files()) == [False, True, True]
    _write(inbox, f"{PROJECT}/{S2}/subagents/agent-b.jsonl", agent)
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        assert {f["month"] for f in reg.files()} == {"2026-01"}


def test_a_side_question_that_adds_an_answer_leaves_the_parent_its_calls(tmp_path):
    """A /btw side question replays its parent's calls and then adds its own answer: its
    thread has one step more, which must not make it the owner of the parent's calls."""
    import shutil

    from test_normalize import CLAUDE_SEGMENT, _replay, _segment_records

    from tracelab_pipeline.normalize import normalize_files

    records = _segment_records()
    session = records[0]["sessionId"]
    parent = tmp_path / "proj" / f"{session}.jsonl"
    parent.parent.mkdir()
    shutil.copy(CLAUDE_SEGMENT, parent)
    answer = json.loads(json.dumps([r for r in records if r.get("type") == "assistant"][-1]))
    answer["message"]["id"] = "msg_btw_answer"
    answer["uuid"] = "btw-answer"
    agent = tmp_path / "proj" / session / "subagents" / "agent-btw1.jsonl"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(_replay([*records, answer]))
    alone = normalize_files([parent]).steps.num_rows
    for order in ([agent, parent], [parent, agent]):
        files = normalize_files(order).steps.column("source_file").to_pylist()
        assert (files.count(str(parent)), files.count(str(agent))) == (alone, 1)


def test_history_copied_under_a_new_session_id_stays_with_the_session_it_was_made_in(
    tmp_path,
):
    """S2 resumes S1 in March and its file copies S1's calls under S2's id: S1 keeps them (it
    ended before S2 resumed it); S2 keeps only its own, whatever the file order."""
    from tracelab_pipeline.normalize import normalize_files

    s1 = _sniffly("ba79134d", S1, datetime(2026, 1, 31, 23, 50, tzinfo=UTC))
    s2 = _sniffly("fed8ce56", S2, datetime(2026, 3, 2, 9, tzinfo=UTC))
    _write(tmp_path, f"proj/{S1}.jsonl", s1)
    _write(tmp_path, f"proj/{S2}.jsonl", [line.replace(S1, S2) for line in s1] + s2)
    p1, p2 = tmp_path / "proj" / f"{S1}.jsonl", tmp_path / "proj" / f"{S2}.jsonl"
    alone = normalize_files([p1]).steps.num_rows
    for order in ([p1, p2], [p2, p1]):
        sessions = normalize_files(order).steps.column("session_id").to_pylist()
        assert sessions.count(S1) == alone
        assert sessions.count(S2) == len(sessions) - alone > 0


def test_a_conversation_continued_for_over_a_year_is_not_blocked(tmp_path):
    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.validate.runner import validate_table

    inbox = tmp_path / "inbox"
    start = datetime(2025, 1, 10, 10, tzinfo=UTC)
    previous: list[str] = []
    for i in range(15):
        session = f"{i:08d}-cccc-4ccc-8ccc-000000000001"
        own = _sniffly("fed8ce56", session, start + timedelta(days=30 * i))
        own = [line.replace("msg_", f"msg_{i:03d}") for line in own]
        # a compacted resume: the previous session's tail under its id, then the new session
        _write(inbox, f"{PROJECT}/{session}.jsonl", previous[-6:] + own)
        previous = own
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        (part,) = reg.partitions()
        files = [f.object_path for f in reg.files_for_partition(part.key)]
    assert part.month == "2025-01"
    steps = normalize_files(files, part.contributor).steps
    assert validate_table("steps", "private", steps, part.month).success


def test_a_partition_built_by_older_normalize_rules_is_stale(tmp_path):
    """After an upgrade that changes what the same files give (the message-id dedup), a
    partition built before kept its double counts: its manifest's input digest still matched,
    so neither the demo nor the nightly sweep rebuilt it."""
    from tracelab_pipeline.orchestration.resources import TraceLabConfig
    from tracelab_pipeline.orchestration.sweep import stale_partitions
    from tracelab_pipeline.partitioned.build import build_partition
    from tracelab_pipeline.partitioned.store import manifest_path

    config = TraceLabConfig(data_dir=str(tmp_path))
    s1 = _sniffly("ba79134d", S1, datetime(2026, 1, 31, 23, 50, tzinfo=UTC))
    _write(tmp_path / "inbox", f"{PROJECT}/{S1}.jsonl", s1)
    land_inbox(config.inbox_url, config.landed_dir)
    with Registry(config.landed_dir) as reg:
        build_partition(reg, config.private_dir, "alice", "2026-01")
    assert stale_partitions(config) == []
    path = manifest_path(config.private_dir, "alice", "2026-01")
    manifest = json.loads(path.read_text())
    manifest.pop("rules", None)  # as the code before the message-id dedup wrote it
    path.write_text(json.dumps(manifest))
    assert [p.key for p in stale_partitions(config)] == ["alice|2026-01"]
