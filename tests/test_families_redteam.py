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
    land_inbox(str(inbox), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        assert {f["month"] for f in reg.files()} == {"2026-01"}
