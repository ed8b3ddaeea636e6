"""A resumed Claude Code session's start and its session-level numbers.

`claude --resume` / `--continue` writes the resumed conversation to a new file under a new
session id, starting with the earlier session's records: under that session's id, or under the
new id. Either way the new session starts at its own first record, not at the copied history,
once the copies are dropped. Real fixtures edited only in ids and timestamps (helpers from
test_partition_placement).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow.compute as pc
import pytest
from _metrics_helpers import write_public
from test_partition_placement import S1, S2, _chain, _sniffly, _write

from tracelab_pipeline.normalize import NormalizedTables, normalize_files
from tracelab_pipeline.warehouse import build_warehouse

JAN = datetime(2026, 1, 31, 23, 50, tzinfo=UTC)
MAR = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _new_id_resume(tmp_path):
    """S1 (January) and S2 resuming it in March, whose file copies S1's records under S2's id."""
    s1 = _sniffly("ba79134d", S1, JAN)
    s2 = _sniffly("fed8ce56", S2, MAR)  # its first record, the prompt, is at MAR
    _write(tmp_path, f"proj/{S1}.jsonl", s1)
    _write(tmp_path, f"proj/{S2}.jsonl", [line.replace(S1, S2) for line in s1] + s2)
    _write(tmp_path, f"alone/{S2}.jsonl", s2)
    proj = tmp_path / "proj"
    return proj / f"{S1}.jsonl", proj / f"{S2}.jsonl", tmp_path / "alone" / f"{S2}.jsonl"


def _starts(tables: NormalizedTables) -> dict[str, set]:
    out: dict[str, set] = {}
    for row in tables.steps.select(["root_session_id", "session_started_at"]).to_pylist():
        out.setdefault(row["root_session_id"], set()).add(row["session_started_at"])
    return out


def _assert_no_step_before_its_start(tables: NormalizedTables) -> None:
    steps = tables.steps
    times = [steps.column(c) for c in ("input_ready_at", "first_output_at", "last_output_at")]
    for column in times:
        early = pc.less(column, steps.column("session_started_at"))
        assert not pc.any(early).as_py()


def test_a_resume_that_copies_history_under_its_new_id_starts_at_its_own_first_record(
    tmp_path,
):
    p1, p2, _ = _new_id_resume(tmp_path)
    for order in ([p1, p2], [p2, p1]):
        tables = normalize_files(order)
        assert _starts(tables) == {S1: {JAN}, S2: {MAR}}
        _assert_no_step_before_its_start(tables)


def _indexes(tables: NormalizedTables, session_id: str) -> list[int]:
    rows = tables.steps.filter(pc.equal(tables.steps.column("session_id"), session_id))
    rows = rows.sort_by("source_line")
    return rows.column("step_index").to_pylist()


def test_a_resume_under_its_new_id_numbers_its_own_steps_from_0(tmp_path):
    """step_index is the position in the thread: the copies dropped, S2's own first step is 0,
    as when its file is read without the copies, and S1's steps keep their numbers."""
    p1, p2, alone = _new_id_resume(tmp_path)
    own = _indexes(normalize_files([alone]), S2)
    earlier = _indexes(normalize_files([p1]), S1)
    assert own == list(range(len(own))) and len(own) > 1
    for order in ([p1, p2], [p2, p1]):
        tables = normalize_files(order)
        assert _indexes(tables, S2) == own
        assert _indexes(tables, S1) == earlier


@pytest.mark.parametrize("copies", [1, 3])
def test_the_streamed_merge_gives_a_resumed_session_the_same_start(tmp_path, monkeypatch, copies):
    """normalize_to_parquet plans in DuckDB on disk, over several key partitions."""
    from tracelab_pipeline.normalize import dedup, normalize_to_parquet

    p1, p2, _ = _new_id_resume(tmp_path)
    monkeypatch.setattr(dedup, "KEYS_PER_PART", copies)
    normalize_to_parquet([p1, p2], tmp_path / "out")
    tables = NormalizedTables.read_parquet(tmp_path / "out")
    assert _starts(tables) == {S1: {JAN}, S2: {MAR}}
    assert _indexes(tables, S2)[0] == 0
    assert tables.steps.equals(normalize_files([p1, p2]).steps)


def test_a_resume_that_copies_history_under_the_old_id_starts_at_its_own_first_record(
    tmp_path,
):
    s1, s2_file, _ = _chain()
    _write(tmp_path, f"proj/{S1}.jsonl", s1)
    _write(tmp_path, f"proj/{S2}.jsonl", s2_file)
    tables = normalize_files([tmp_path / "proj" / f"{S1}.jsonl", tmp_path / "proj" / f"{S2}.jsonl"])
    assert _starts(tables) == {
        S1: {datetime(2026, 1, 15, 10, tzinfo=UTC)},
        S2: {datetime(2026, 3, 10, 10, tzinfo=UTC)},
    }


def test_a_resumed_file_contributed_alone_starts_with_the_history_it_keeps(tmp_path):
    """Without the file it resumed, nothing marks the copied calls as copies: they are the
    session's own, and it starts at the first of them."""
    _, p2, _ = _new_id_resume(tmp_path)
    tables = normalize_files([p2])
    assert _starts(tables) == {S2: {JAN}}
    _assert_no_step_before_its_start(tables)


def _warehouse(tmp_path, tables: NormalizedTables, name: str) -> duckdb.DuckDBPyConnection:
    root = write_public(tables.tables(), tmp_path / name / "public")
    con = duckdb.connect(str(tmp_path / name / "warehouse.duckdb"))
    build_warehouse(con, root)
    return con


def test_a_resumed_session_has_the_duration_and_waits_of_its_own_records(tmp_path):
    """Table 7's session wall clock and human waits: the resumed session as if it had been
    written without the copied history (TraceLab keeps the copies: its B2)."""
    p1, p2, alone = _new_id_resume(tmp_path)
    query = """SELECT steps, first_event_us, wall_s, human_waits, human_s, requests
               FROM sessions WHERE session_id = ?"""
    merged = _warehouse(tmp_path, normalize_files([p1, p2]), "merged")
    own = _warehouse(tmp_path, normalize_files([alone]), "own")
    got, want = (con.execute(query, [S2]).fetchall() for con in (merged, own))
    assert got == want and len(got) == 1
    first_event = datetime.fromtimestamp(got[0][1] / 1e6, UTC)
    assert first_event == MAR


def test_a_chain_of_resumes_lands_together_and_each_session_starts_at_its_own_records(
    tmp_path,
):
    """S1 (January) resumed as S2 (March), S2 resumed as S3 (April), each new file copying
    all calls before it under its own id: one partition (the month the conversation began),
    each session starting at its own first record, every call once."""
    from test_partition_placement import PROJECT, S3, _assert_placed, _land_and_normalize

    from tracelab_pipeline.validate.runner import validate_table

    apr = datetime(2026, 4, 5, 10, tzinfo=UTC)
    s1 = _sniffly("ba79134d", S1, JAN)
    s2 = _sniffly("d3ad4cdc", S2, MAR)
    s3 = _sniffly("fed8ce56", S3, apr)
    inbox = tmp_path / "inbox"
    _write(inbox, f"{PROJECT}/{S1}.jsonl", s1)
    _write(inbox, f"{PROJECT}/{S2}.jsonl", [line.replace(S1, S2) for line in s1] + s2)
    history = [line.replace(S1, S3).replace(S2, S3) for line in s1 + s2]
    _write(inbox, f"{PROJECT}/{S3}.jsonl", history + s3)
    parts = _land_and_normalize(tmp_path)
    assert list(parts) == ["2026-01"]
    _assert_placed(parts)
    steps = parts["2026-01"]["steps"]
    starts: dict[str, set] = {}
    for step in steps:
        starts.setdefault(step["root_session_id"], set()).add(step["session_started_at"])
    assert starts == {S1: {JAN}, S2: {MAR}, S3: {apr}}
    for session, own in ((S1, s1), (S2, s2), (S3, s3)):
        _write(tmp_path, f"own/{session}.jsonl", own)
        alone = normalize_files([tmp_path / "own" / f"{session}.jsonl"]).steps.num_rows
        assert sum(s["session_id"] == session for s in steps) == alone > 0
    table = normalize_files(sorted((tmp_path / "inbox").rglob("*.jsonl")), "alice").steps
    assert validate_table("steps", "private", table, "2026-01").success
