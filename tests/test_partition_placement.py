"""Where real contributors' logs land: one contributor-month partition per session, by the
month of its start, whatever resumes, forks and sub-agents copy from earlier sessions.

Every case is a real fixture edited only in its timestamps and ids, landed and then normalized
partition by partition as the pipeline does. The invariants: no session starts before the
month of the partition it is in (a session resumed from one of the month's sessions may start
later), no step is in two partitions, and no root session is split over two partitions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracelab_pipeline.landing.land import land_inbox
from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.normalize import normalize_files

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
_TS = re.compile(r'"timestamp":"([^"]+)"')

# Codex ids (UUIDv7 strings sort by time): the trezo rollout, and a later fork / sub-agent.
TREZO = "019daa66-5b7b-7b01-b9ce-b527014cc09f"
CHILD = "019f0000-0000-7000-8000-00000000000f"
# Claude: the sniffly sessions renamed into one resume chain S1 -> S2 -> S3.
SNIFFLY = {
    "ba79134d": "ba79134d-b6e9-4867-af0c-6941038c9e4b",
    "d3ad4cdc": "d3ad4cdc-5657-435d-98fa-0035d53e383d",
    "fed8ce56": "fed8ce56-bc79-401f-a83e-af084253362f",
}
S1 = "11111111-aaaa-4aaa-8aaa-000000000001"
S2 = "22222222-bbbb-4bbb-8bbb-000000000002"
S3 = "33333333-cccc-4ccc-8ccc-000000000003"
PROJECT = "alice/-Users-chip-dev-ai-music"


def _lines(rel: str) -> list[str]:
    return [line for line in (REAL / rel).read_text().splitlines() if line.strip()]


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _shift(lines: list[str], to: datetime) -> list[str]:
    """Every "timestamp" (records' and Codex payloads') moved so the earliest one is `to`."""
    first = min(datetime.fromisoformat(t) for line in lines for t in _TS.findall(line))
    delta = to - first
    return [
        _TS.sub(lambda m: f'"timestamp":"{_stamp(datetime.fromisoformat(m[1]) + delta)}"', line)
        for line in lines
    ]


def _sniffly(name: str, session: str, start: datetime) -> list[str]:
    lines = _shift(_lines(f"claude/sniffly__{name}.jsonl"), start)
    lines = [line for line in lines if '"type":"summary"' not in line]
    return [line.replace(SNIFFLY[name], session) for line in lines]


def _codex_meta(line: str, **payload) -> str:
    record = json.loads(line)
    record["payload"].update(payload)
    return json.dumps(record)


def _replayed(lines: list[str], at: datetime) -> list[str]:
    """A parent's rollout as a fork or sub-agent replays it: every record written at `at`
    (its session_meta payloads keep their own start)."""
    out = []
    for line in lines:
        record = json.loads(line)
        record["timestamp"] = _stamp(at)
        out.append(json.dumps(record))
    return out


def _write(inbox: Path, rel: str, lines: list[str]) -> None:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _land_and_normalize(tmp_path: Path) -> dict[str, dict]:
    """Land the inbox; normalize every partition. -> {month: {"steps": [...], "files": [...]}}"""
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    out = {}
    with Registry(tmp_path / "landed") as reg:
        for part in reg.partitions():
            files = reg.files_for_partition(part.key)
            tables = normalize_files(
                [f.object_path for f in files],
                part.contributor,
                file_sha256={f.object_path: f.sha256 for f in files},
            )
            out[part.month] = {
                "steps": tables.steps.select(
                    ["step_id", "session_id", "root_session_id", "session_started_at"]
                ).to_pylist(),
                "files": sorted(f.member for f in files),
            }
    return out


def _assert_placed(parts: dict[str, dict]) -> None:
    where: dict[str, str] = {}
    roots: dict[str, set[str]] = {}
    for month, part in parts.items():
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
        for step in part["steps"]:
            assert step["session_started_at"] >= start, (
                f"{step['session_id']} started {step['session_started_at']}, before {month}"
            )
            assert where.setdefault(step["step_id"], month) == month, (
                f"step {step['step_id']} in {where[step['step_id']]} and {month}"
            )
            roots.setdefault(step["root_session_id"], set()).add(month)
    split = {root: months for root, months in roots.items() if len(months) > 1}
    assert not split, f"root sessions split over partitions: {split}"


def _rollout(start: datetime, session: str) -> str:
    return f"bob/.codex/sessions/{start:%Y/%m/%d}/rollout-{start:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"


# -- Codex ------------------------------------------------------------------------------------


def test_codex_session_created_just_before_the_month_lands_in_that_month(tmp_path):
    """The reader starts a Codex session at its session_meta payload timestamp, which comes
    before the first record's: 23:59:58 Jan 31 vs 00:00:02 Feb 1 must be January."""
    first = datetime(2026, 2, 1, 0, 0, 2, tzinfo=UTC)
    lines = _shift(_lines("codex/trezo-ai__codex-session.jsonl"), first)
    lines[0] = _codex_meta(lines[0], timestamp="2026-01-31T23:59:58.066Z")
    _write(tmp_path / "inbox", _rollout(first, TREZO), lines)
    parts = _land_and_normalize(tmp_path)
    assert list(parts) == ["2026-01"]
    _assert_placed(parts)


def _fork(parent_start: datetime, fork_at: datetime) -> tuple[list[str], list[str]]:
    """A January rollout and a March fork of it: the fork's session_meta, the parent's
    session_meta and history replayed within one second, then the fork's own turns."""
    parent = _shift(_lines("codex/trezo-ai__codex-session.jsonl"), parent_start)
    own = _shift(_lines("codex/tracelab__codex-example-segment.jsonl"), fork_at)
    child = _codex_meta(own[0], id=CHILD, forked_from_id=TREZO)
    replay = _replayed(parent, fork_at + timedelta(seconds=1))
    return parent, [child, *replay, *own[1:]]


def test_codex_fork_months_later_is_counted_once_with_its_parent(tmp_path):
    jan, mar = datetime(2026, 1, 20, 9, tzinfo=UTC), datetime(2026, 3, 5, 12, tzinfo=UTC)
    parent, fork = _fork(jan, mar)
    _write(tmp_path / "inbox", _rollout(jan, TREZO), parent)
    _write(tmp_path / "inbox", _rollout(mar, CHILD), fork)
    parts = _land_and_normalize(tmp_path)
    _assert_placed(parts)
    steps = [s for part in parts.values() for s in part["steps"]]
    assert sum(s["session_id"] == TREZO for s in steps) == 14  # the parent's own, once


def test_codex_fork_contributed_without_its_parent(tmp_path):
    jan, mar = datetime(2026, 1, 20, 9, tzinfo=UTC), datetime(2026, 3, 5, 12, tzinfo=UTC)
    _, fork = _fork(jan, mar)
    _write(tmp_path / "inbox", _rollout(mar, CHILD), fork)
    _assert_placed(_land_and_normalize(tmp_path))


def test_codex_subagent_spawned_across_the_month_boundary_without_its_parent(tmp_path):
    """The sub-agent's steps belong to its parent's root session, started in January; the
    sub-agent rollout's own records are all in February."""
    parent_start, feb = (
        datetime(2026, 1, 31, 23, 40, tzinfo=UTC),
        datetime(2026, 2, 1, 0, 0, 2, tzinfo=UTC),
    )
    parent = _shift(_lines("codex/trezo-ai__codex-session.jsonl"), parent_start)
    own = _shift(_lines("codex/tracelab__codex-example-segment.jsonl"), feb + timedelta(seconds=3))
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": TREZO, "depth": 1}}}
    child = _codex_meta(
        _replayed(own[:1], feb)[0], id=CHILD, timestamp="2026-01-31T23:59:50.000Z", source=spawn
    )
    rollout = [child, *_replayed(parent[:60], feb), *own[1:]]
    _write(tmp_path / "inbox", _rollout(feb, CHILD), rollout)
    parts = _land_and_normalize(tmp_path)
    assert list(parts) == ["2026-01"]
    _assert_placed(parts)


# -- Claude Code ------------------------------------------------------------------------------


def _chain() -> tuple[list[str], list[str], list[str]]:
    """S1 (January), S2 resumed from it in March (its file starts with S1's history under
    S1's sessionId), and S2's own new records."""
    s1 = _sniffly("ba79134d", S1, datetime(2026, 1, 15, 10, tzinfo=UTC))
    s2 = _sniffly("d3ad4cdc", S2, datetime(2026, 3, 10, 10, tzinfo=UTC))
    return s1, s1 + s2, s2


def test_claude_resume_of_a_compacted_resumed_session_is_counted_once(tmp_path):
    """S3 resumes S2 after S2 was compacted: S3's file starts with the compaction summary and
    S2's records after it, all under S2's sessionId (no S1 record). Those S2 steps are also in
    S2's own file, which starts with S1's history and lands in January."""
    s1, s2_file, s2 = _chain()
    tail = s2[-30:]
    summary = json.loads(next(line for line in s2 if '"type":"user"' in line))
    summary.update(
        isCompactSummary=True,
        uuid="c0c0c0c0-0000-4000-8000-000000000000",
        timestamp=json.loads(tail[0])["timestamp"],
        message={"role": "user", "content": "This session is being continued from a previous"},
    )
    s3 = _sniffly("fed8ce56", S3, datetime(2026, 4, 5, 10, tzinfo=UTC))
    inbox = tmp_path / "inbox"
    _write(inbox, f"{PROJECT}/{S1}.jsonl", s1)
    _write(inbox, f"{PROJECT}/{S2}.jsonl", s2_file)
    _write(inbox, f"{PROJECT}/{S3}.jsonl", [json.dumps(summary), *tail, *s3])
    parts = _land_and_normalize(tmp_path)
    steps = [s for part in parts.values() for s in part["steps"]]
    assert len(steps) == len({s["step_id"] for s in steps}), "S2 steps counted in two partitions"
    _assert_placed(parts)


def test_claude_subagent_of_a_resumed_session_lands_with_its_parent(tmp_path):
    """A Task sub-agent of S2 writes <S2>/subagents/agent-<id>.jsonl under S2's sessionId; S2's
    own file starts with S1's history, so S2 lands in S1's month: its sub-agent must too."""
    s1, s2_file, _ = _chain()
    agent = _sniffly("fed8ce56", S2, datetime(2026, 3, 11, 0, 5, tzinfo=UTC))
    agent = [
        line.replace('"isSidechain":false', '"isSidechain":true').replace(
            '"sessionId":', '"agentId":"a7f3c2","sessionId":'
        )
        for line in agent
    ]
    inbox = tmp_path / "inbox"
    _write(inbox, f"{PROJECT}/{S1}.jsonl", s1)
    _write(inbox, f"{PROJECT}/{S2}.jsonl", s2_file)
    _write(inbox, f"{PROJECT}/{S2}/subagents/agent-a7f3c2.jsonl", agent)
    parts = _land_and_normalize(tmp_path)
    assert list(parts) == ["2026-01"]
    roots = {s["root_session_id"] for s in parts["2026-01"]["steps"]}
    assert roots == {S1, S2}


# -- a file that moves to another month ---------------------------------------------------------


def test_a_partition_emptied_when_its_file_moves_is_rebuilt(tmp_path):
    """A sub-agent file contributed alone lands in its own month (February); when its parent,
    started January 31, arrives later, the file moves to January and February is emptied."""
    from tracelab_pipeline.orchestration.resources import TraceLabConfig
    from tracelab_pipeline.orchestration.sweep import stale_partitions
    from tracelab_pipeline.partitioned.build import build_partition

    config = TraceLabConfig(data_dir=str(tmp_path))
    inbox = Path(config.inbox_url)
    agent = _sniffly("fed8ce56", S1, datetime(2026, 2, 1, 0, 5, tzinfo=UTC))
    agent = [line.replace('"isSidechain":false', '"isSidechain":true') for line in agent]
    _write(inbox, f"{PROJECT}/{S1}/subagents/agent-a7f3c2.jsonl", agent)
    land_inbox(str(inbox), config.landed_dir)
    with Registry(config.landed_dir) as reg:
        build_partition(reg, config.private_dir, "alice", "2026-02")
    assert stale_partitions(config) == []
    parent = _sniffly("ba79134d", S1, datetime(2026, 1, 31, 23, 50, tzinfo=UTC))
    _write(inbox, f"{PROJECT}/{S1}.jsonl", parent)
    land_inbox(str(inbox), config.landed_dir)
    assert {p.key for p in stale_partitions(config)} == {"alice|2026-01", "alice|2026-02"}


# -- open: need a decision ------------------------------------------------------------------


def test_claude_history_copied_under_the_new_session_id_is_counted_once(tmp_path):
    s1 = _sniffly("ba79134d", S1, datetime(2026, 1, 31, 23, 50, tzinfo=UTC))
    s2 = _sniffly("fed8ce56", S2, datetime(2026, 3, 2, 9, tzinfo=UTC))
    inbox = tmp_path / "inbox"
    _write(inbox, f"{PROJECT}/{S1}.jsonl", s1)
    _write(inbox, f"{PROJECT}/{S2}.jsonl", [line.replace(S1, S2) for line in s1] + s2)
    parts = _land_and_normalize(tmp_path)
    _assert_placed(parts)
    steps = parts["2026-01"]["steps"]
    assert len({s["step_id"].rsplit(":", 1)[1] for s in steps}) == len(steps)


def test_a_tracelab_round_export_in_the_inbox_is_kept_aside_and_says_how_to_import_it(
    tmp_path,
):
    """An export holds sessions of many months (and has no top-level timestamp): it lands, is
    not placed in a partition, and the reason names the command that imports it."""
    row = {
        "provider": "codex",
        "session_id": f"codex:{TREZO}",
        "round_index": 0,
        "round_id": "t1:0",
        "input_tokens_total": 5,
        "prefix_tokens": 5,
        "newly_append_tokens": 0,
        "output_tokens": 3,
        "timing_events": [
            {"event_type": "usage_report", "timestamp": "2026-05-01T10:00:02.500Z", "source": "x"}
        ],
        "tools": [],
    }
    _write(tmp_path / "inbox", "carol/export/rounds.jsonl", [json.dumps(row)])
    land_inbox(str(tmp_path / "inbox"), tmp_path / "landed")
    with Registry(tmp_path / "landed") as reg:
        (landed,) = reg.files()
    assert (landed["status"], landed["month"]) == ("unplaced", None)
    assert "tracelab normalize" in landed["status_reason"]
