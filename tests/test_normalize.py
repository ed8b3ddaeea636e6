"""normalize_files: merging files, duplicates, determinism, parallelism, storage, failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tracelab_pipeline.formats.rows import S_MODEL
from tracelab_pipeline.formats.tracelab_rounds import RoundsSink, write_tracelab_rounds
from tracelab_pipeline.normalize import (
    NormalizedTables,
    dedup,
    iter_log_files,
    normalize_files,
    run,
    worker,
)
from tracelab_pipeline.schema import TABLES

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
ALL_FIXTURES = sorted(FIXTURES.glob("*/*.jsonl"))
CLAUDE_SEGMENT = FIXTURES / "claude" / "tracelab__claude-example-segment.jsonl"
CODEX_SEGMENT = FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl"


@pytest.fixture(scope="module")
def all_fixtures() -> NormalizedTables:
    return normalize_files(ALL_FIXTURES)


def accounting_by_file(tables: NormalizedTables) -> dict[str, dict]:
    return {row["source_file"]: row for row in tables.ingest_accounting.to_pylist()}


def test_iter_log_files_recurses_sorts_and_keeps_named_files(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    for name in ("b/deep/x.jsonl", "b/y.jsonl.gz", "a.jsonl", "b/notes.txt", "b/z.json"):
        (tmp_path / name).write_bytes(b"{}\n")
    named = tmp_path / "b" / "z.json"
    missing = tmp_path / "missing.jsonl"
    found = iter_log_files([tmp_path / "b", tmp_path / "a.jsonl", named, missing, tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.jsonl",
        "b/deep/x.jsonl",
        "b/y.jsonl.gz",
        "b/z.json",
        "missing.jsonl",
    ]


def test_tables_follow_schema_and_accounting_adds_up(all_fixtures):
    for name, table in all_fixtures.tables().items():
        assert table.schema.equals(TABLES[name]), name
    acc = all_fixtures.ingest_accounting.to_pylist()
    assert [r["source_file"] for r in acc] == [str(p) for p in ALL_FIXTURES]
    for row in acc:
        used, ignored, rejected = (
            row["records_used"],
            row["records_ignored"],
            row["records_rejected"],
        )
        assert row["lines_read"] == used + ignored + rejected, row["source_file"]
    assert sum(r["steps"] for r in acc) == all_fixtures.steps.num_rows > 0
    assert sum(r["tool_calls"] for r in acc) == all_fixtures.tool_calls.num_rows > 0
    assert all_fixtures.rejected_records.num_rows == sum(r["records_rejected"] for r in acc)


def test_copies_of_the_same_files_are_kept_once(tmp_path, all_fixtures):
    for copy in ("first", "second"):
        shutil.copytree(FIXTURES / "claude", tmp_path / copy / "claude")
        shutil.copytree(FIXTURES / "codex", tmp_path / copy / "codex")
    merged = normalize_files(iter_log_files([tmp_path]))
    single = all_fixtures

    assert merged.steps.num_rows == single.steps.num_rows
    assert merged.tool_calls.num_rows == single.tool_calls.num_rows
    assert merged.timing_events.num_rows == single.timing_events.num_rows
    assert pc.count_distinct(merged.steps.column("step_id")).as_py() == merged.steps.num_rows
    # Ties between equal copies go to the smaller path; the other copy counts the duplicates.
    assert all("/first/" in f for f in merged.steps.column("source_file").to_pylist())
    produced = {
        Path(r["source_file"]).name: r["steps"] for r in single.ingest_accounting.to_pylist()
    }
    for row in merged.ingest_accounting.to_pylist():
        name = Path(row["source_file"]).name
        if "/first/" in row["source_file"]:
            assert (row["steps"], row["duplicate_steps"]) == (produced[name], 0)
        else:
            assert (row["steps"], row["duplicate_steps"], row["tool_calls"]) == (
                0,
                produced[name],
                0,
            )


def _replay(lines: list[dict], **changes) -> bytes:
    """The segment's records as a side question replays them: a sidechain, new request ids,
    the same API messages (and usage, unless `cache_read` is given)."""
    out = []
    for rec in lines:
        rec = {**rec, "isSidechain": True, "agentId": "btw1", **changes.get("extra", {})}
        if rec.get("type") == "assistant":
            rec["requestId"] = "req_replay_" + rec.get("requestId", "")
            if "cache_read" in changes:
                msg = rec["message"]
                usage = {**msg["usage"], "cache_read_input_tokens": changes["cache_read"]}
                rec["message"] = {**msg, "usage": usage}
        out.append(json.dumps(rec))
    return ("\n".join(out) + "\n").encode()


def _segment_records() -> list[dict]:
    return [json.loads(line) for line in CLAUDE_SEGMENT.read_text().splitlines()]


def _counts(tables: NormalizedTables) -> tuple[int, int, int]:
    return tables.steps.num_rows, tables.tool_calls.num_rows, tables.timing_events.num_rows


def test_an_api_call_replayed_in_another_thread_is_counted_once(tmp_path):
    """Claude Code's side questions replay the parent's API messages (same message id and
    usage, new request id) in a sidechain, inline or in a sub-agent file; a resumed log may copy
    history under its new session id. One call, one step: the parent's copy is kept, and the
    replay's tool calls and events go with it."""
    session = _segment_records()[0]["sessionId"]
    parent = tmp_path / "proj" / f"{session}.jsonl"
    parent.parent.mkdir()
    shutil.copy(CLAUDE_SEGMENT, parent)
    alone = normalize_files([parent])
    assert alone.steps.num_rows > 0

    agent = tmp_path / "proj" / session / "subagents" / "agent-btw1.jsonl"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(_replay(_segment_records()))
    tables = normalize_files([agent, parent])
    assert _counts(tables) == _counts(alone)
    assert set(tables.steps.column("source_file").to_pylist()) == {str(parent)}
    assert accounting_by_file(tables)[str(agent)]["duplicate_steps"] == alone.steps.num_rows

    inline = tmp_path / "inline.jsonl"
    inline.write_bytes(CLAUDE_SEGMENT.read_bytes() + _replay(_segment_records()))
    assert _counts(normalize_files([inline])) == _counts(alone)


def test_a_message_id_reused_with_another_input_is_another_call(tmp_path):
    session = _segment_records()[0]["sessionId"]
    parent = tmp_path / "proj" / f"{session}.jsonl"
    parent.parent.mkdir()
    shutil.copy(CLAUDE_SEGMENT, parent)
    agent = tmp_path / "proj" / session / "subagents" / "agent-btw1.jsonl"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(_replay(_segment_records(), cache_read=123))
    alone = normalize_files([parent]).steps.num_rows
    assert normalize_files([agent, parent]).steps.num_rows == 2 * alone


def test_a_step_in_two_files_with_other_input_counts_is_kept_once(tmp_path):
    """One log collected twice, the second copy holding one more record of a response with
    other input counts (an API fault the reader merges and flags): still one step per
    step_id, as before copies were keyed by message id."""
    records = _segment_records()
    first = tmp_path / "a.jsonl"
    shutil.copy(CLAUDE_SEGMENT, first)
    i = next(k for k, r in enumerate(records) if r.get("type") == "assistant")
    extra = json.loads(json.dumps(records[i]))
    usage = extra["message"]["usage"]
    usage["cache_read_input_tokens"] = usage.get("cache_read_input_tokens", 0) + 7
    usage["output_tokens"] = usage.get("output_tokens", 0) + 1000
    second = tmp_path / "b.jsonl"
    lines = [*records[: i + 1], extra, *records[i + 1 :]]
    second.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    ids = normalize_files([first, second]).steps.column("step_id").to_pylist()
    assert len(ids) == len(set(ids)) == normalize_files([first]).steps.num_rows


def test_replayed_history_is_kept_from_the_file_it_belongs_to(tmp_path):
    """A resumed session's file repeats earlier steps before its own; the original keeps them,
    even when the resumed file sorts first."""
    original = tmp_path / "z_original.jsonl"
    shutil.copy(CLAUDE_SEGMENT, original)
    resumed = tmp_path / "a_resumed.jsonl"
    other = FIXTURES / "claude" / "ccviewer__1af7fc5e.jsonl"
    resumed.write_bytes(CLAUDE_SEGMENT.read_bytes() + other.read_bytes())

    alone = normalize_files([original])
    tables = normalize_files([resumed, original])
    acc = accounting_by_file(tables)
    copied = alone.steps.num_rows
    assert copied > 0
    assert acc[str(resumed)]["duplicate_steps"] == copied
    assert acc[str(original)]["steps"] == copied
    kept = tables.steps.filter(
        pc.is_in(tables.steps.column("step_id"), alone.steps.column("step_id").combine_chunks())
    )
    assert set(kept.column("source_file").to_pylist()) == {str(original)}
    assert tables.timing_events.num_rows == (
        alone.timing_events.num_rows + normalize_files([other]).timing_events.num_rows
    )


def test_result_does_not_depend_on_file_order_or_workers(all_fixtures):
    backwards = normalize_files(list(reversed(ALL_FIXTURES)))
    parallel = normalize_files(ALL_FIXTURES, workers=2)
    for name, table in all_fixtures.tables().items():
        assert backwards.tables()[name].equals(table), name
        assert parallel.tables()[name].equals(table), name


@pytest.mark.parametrize("shared_memory", [True, False])
def test_pool_workers_hand_tables_back_through_files_that_are_then_removed(
    all_fixtures, tmp_path, monkeypatch, shared_memory
):
    # Without room in shared memory (here: no such directory) the tables travel pickled.
    monkeypatch.setattr(run, "SHM", str(tmp_path if shared_memory else tmp_path / "missing"))
    used = []
    spill_dir = run._spill_dir

    def recording_spill_dir(input_bytes):
        context = spill_dir(input_bytes)
        used.append(context)
        return context

    monkeypatch.setattr(run, "_spill_dir", recording_spill_dir)
    parallel = normalize_files(ALL_FIXTURES, workers=2)
    for name, table in all_fixtures.tables().items():
        assert parallel.tables()[name].equals(table), name
    assert [hasattr(c, "name") for c in used] == [shared_memory]  # a TemporaryDirectory
    assert list(tmp_path.iterdir()) == []
    cpu = parallel.stats["read_cpu_seconds_by_process"]
    assert 1 <= len(cpu) <= 2  # one worker may take every batch on a busy machine
    assert sum(cpu.values()) == pytest.approx(parallel.stats["read_cpu_seconds"])


def test_a_batch_that_cannot_be_spilled_keeps_its_tables(tmp_path):
    result = worker.read_batch([(0, str(CODEX_SEGMENT))], "t")
    steps = result.tables["steps"]
    result.spill(str(tmp_path / "missing"))  # as when /dev/shm is full: nothing is lost
    assert result.spilled == {} and result.tables["steps"].equals(steps)
    result.spill(str(tmp_path))
    assert result.tables == {} and len(list(tmp_path.iterdir())) == 4
    result.load()
    assert result.tables["steps"].equals(steps) and list(tmp_path.iterdir()) == []


def test_threads_share_the_start_of_their_root_session(all_fixtures):
    rows = all_fixtures.steps.select(
        ["provider", "root_session_id", "session_started_at", "input_ready_at", "first_output_at"]
    ).to_pylist()
    starts: dict[tuple, set] = {}
    for row in rows:
        starts.setdefault((row["provider"], row["root_session_id"]), set()).add(
            row["session_started_at"]
        )
        assert row["session_started_at"] is not None
        for later in (row["input_ready_at"], row["first_output_at"]):
            assert later is None or later >= row["session_started_at"]
    assert all(len(s) == 1 for s in starts.values())


def test_parquet_round_trip_is_exact_and_leaves_no_temp_files(tmp_path, all_fixtures):
    all_fixtures.write_parquet(tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(f"{n}.parquet" for n in TABLES)
    back = NormalizedTables.read_parquet(tmp_path / "out")
    for name, table in all_fixtures.tables().items():
        assert back.tables()[name].equals(table), name


def _corpus_with_copies_and_replays(root: Path) -> tuple[list[str], Path]:
    """Two copies of the fixtures and a resumed file replaying a segment before a broken line."""
    for copy in ("first", "second"):
        shutil.copytree(FIXTURES / "claude", root / copy / "claude")
        shutil.copytree(FIXTURES / "codex", root / copy / "codex")
    other = FIXTURES / "claude" / "ccviewer__1af7fc5e.jsonl"
    resumed = root / "a_resumed.jsonl"
    resumed.write_bytes(CLAUDE_SEGMENT.read_bytes() + b"{broken\n" + other.read_bytes())
    return iter_log_files([root]), resumed


@pytest.mark.parametrize("workers", [1, 2])
def test_streamed_parquet_holds_exactly_the_merged_tables(tmp_path, monkeypatch, workers):
    """normalize_to_parquet (what `tracelab normalize` runs) against normalize_files: copies,
    replayed history and a broken line spread over many small batches."""
    files, resumed = _corpus_with_copies_and_replays(tmp_path / "in")
    monkeypatch.setattr(run, "BATCH_BYTES", 300_000)
    expected = normalize_files(files)
    assert expected.ingest_accounting.column("duplicate_steps").to_pylist().count(0) < len(files)

    summary = run.normalize_to_parquet(files, tmp_path / "out", workers=workers)

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{n}.parquet" for n in TABLES
    )
    back = NormalizedTables.read_parquet(tmp_path / "out")
    for name, table in expected.tables().items():
        assert back.tables()[name].equals(table), name
    assert summary == expected.summary()
    broken_line = len(CLAUDE_SEGMENT.read_bytes().splitlines()) + 1
    assert summary["first_rejected"] == [f"{resumed}:{broken_line}: malformed JSON"]


@pytest.mark.parametrize("copies", [True, False])
def test_the_merge_plan_is_the_same_over_many_key_partitions(tmp_path, monkeypatch, copies):
    """Big corpora are planned in DuckDB one hash partition of the step ids at a time; in
    memory, a corpus without copies is planned in Arrow."""
    if copies:
        files, _ = _corpus_with_copies_and_replays(tmp_path / "in")
    else:
        files = iter_log_files([FIXTURES])
    expected = normalize_files(files)
    monkeypatch.setattr(dedup, "KEYS_PER_PART", 29)
    assert expected.steps.num_rows > 10 * dedup.KEYS_PER_PART

    summary = run.normalize_to_parquet(files, tmp_path / "out")

    back = NormalizedTables.read_parquet(tmp_path / "out")
    for name, table in expected.tables().items():
        assert back.tables()[name].equals(table), name
    assert summary["duplicate_steps"] == expected.summary()["duplicate_steps"]
    assert (summary["duplicate_steps"] > 0) == copies


def test_streamed_round_jsonl_equals_the_export_of_the_merged_tables(tmp_path, monkeypatch):
    files, _ = _corpus_with_copies_and_replays(tmp_path / "in")
    monkeypatch.setattr(run, "BATCH_BYTES", 300_000)
    expected = normalize_files(files)
    write_tracelab_rounds(
        expected.steps, expected.tool_calls, expected.timing_events, tmp_path / "whole.jsonl"
    )

    sink = RoundsSink(tmp_path / "out" / "streamed.jsonl")
    summary = run.normalize_streamed(files, sink, tmp_path / "out")

    streamed = (tmp_path / "out" / "streamed.jsonl").read_bytes()
    assert streamed == (tmp_path / "whole.jsonl").read_bytes()
    assert sink.rounds == expected.steps.num_rows == len(streamed.splitlines())
    assert summary == expected.summary()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["streamed.jsonl"]


def test_a_reader_crash_is_recorded_and_the_rest_proceeds(monkeypatch):
    real_read_log = worker.read_log
    victim = str(CODEX_SEGMENT)

    def crashing_read_log(path, contributor):
        if str(path) == victim:
            raise RuntimeError("boom")
        return real_read_log(path, contributor)

    monkeypatch.setattr(worker, "read_log", crashing_read_log)
    tables = normalize_files([CLAUDE_SEGMENT, CODEX_SEGMENT])
    acc = accounting_by_file(tables)
    crashed = acc[victim]
    assert crashed["error"].startswith("reader crashed: RuntimeError: boom")
    assert crashed["lines_read"] == crashed["records_rejected"] == 72
    assert tables.summary()["unreadable_files"] == {victim: crashed["error"]}
    assert acc[str(CLAUDE_SEGMENT)]["steps"] == tables.steps.num_rows > 0
    lines = tables.rejected_records.filter(
        pc.equal(tables.rejected_records.column("source_file"), victim)
    )
    assert lines.column("line_number").to_pylist() == list(range(1, 73))


def test_missing_and_empty_files_are_accounted(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    missing = tmp_path / "gone.jsonl"
    tables = normalize_files([missing, empty])
    acc = accounting_by_file(tables)
    assert acc[str(missing)]["error"].startswith("cannot read")
    assert acc[str(empty)]["error"] is None and acc[str(empty)]["lines_read"] == 0
    assert list(tables.summary()["unreadable_files"]) == [str(missing)]
    assert tables.steps.num_rows == 0 and tables.steps.schema.equals(TABLES["steps"])


def test_file_hashes_given_by_the_caller_are_recorded():
    tables = normalize_files([CODEX_SEGMENT], file_sha256={str(CODEX_SEGMENT): "ab" * 32})
    assert tables.ingest_accounting.column("file_sha256").to_pylist() == ["ab" * 32]


def _wrong_type(row: list) -> None:
    row[S_MODEL] = {"not": "a string"}


@pytest.mark.parametrize("spoil", [_wrong_type, list.pop], ids=["wrong type", "a value short"])
def test_rows_that_do_not_fit_the_schema_set_only_their_file_aside(monkeypatch, spoil):
    real_read_log = worker.read_log

    def read_log_with_a_bad_row(path, contributor):
        result = real_read_log(path, contributor)
        if str(path) == str(CODEX_SEGMENT):
            spoil(result.rows["steps"][3])
        return result

    monkeypatch.setattr(worker, "read_log", read_log_with_a_bad_row)
    tables = normalize_files([CLAUDE_SEGMENT, CODEX_SEGMENT])
    acc = accounting_by_file(tables)
    assert acc[str(CODEX_SEGMENT)]["error"].startswith("reader crashed: steps row: ")
    assert acc[str(CODEX_SEGMENT)]["steps"] == 0
    assert acc[str(CLAUDE_SEGMENT)]["steps"] == tables.steps.num_rows == 10
    assert set(tables.steps.column("source_file").to_pylist()) == {str(CLAUDE_SEGMENT)}


def read_batch_or_die(batch, contributor, origins=None):
    """Pool task for the test below: the worker process exits hard on a file named victim."""
    if any(Path(path).name.startswith("victim") for _, path in batch):
        os._exit(3)
    return worker.read_batch(batch, contributor, origins)


def test_a_file_that_kills_its_worker_is_recorded_and_the_rest_is_read(tmp_path):
    for name in ("a.jsonl", "victim.jsonl", "z.jsonl"):
        shutil.copy(CODEX_SEGMENT, tmp_path / name)
    shutil.copy(CLAUDE_SEGMENT, tmp_path / "b.jsonl")
    ordered = [str(p) for p in sorted(tmp_path.iterdir())]
    indexed = list(enumerate(ordered))
    bar = run._progress_bar(len(indexed), False)
    read = partial(read_batch_or_die, contributor="t")
    results = list(run._read_in_pool(indexed, "t", 2, bar, read))
    tables = run._merge(ordered, results, {})
    acc = accounting_by_file(tables)
    victim = str(tmp_path / "victim.jsonl")
    assert acc[victim]["error"] == "reader crashed: the worker process died"
    assert acc[victim]["records_rejected"] == acc[victim]["lines_read"] == 72
    assert all(acc[p]["error"] is None for p in ordered if p != victim)
    # The three good copies hold the same steps: one file keeps them, the others count them.
    assert acc[str(tmp_path / "a.jsonl")]["steps"] == 9
    assert acc[str(tmp_path / "z.jsonl")]["duplicate_steps"] == 9
    assert acc[str(tmp_path / "b.jsonl")]["steps"] == 10


def test_workers_that_cannot_start_do_not_cost_the_files(tmp_path):
    """A script without a main guard: every pool worker imports it again and dies starting a
    pool of its own. normalize_files says so and reads the files itself, rather than retrying
    each file in a pool of its own and recording every one of them as crashed."""
    files = [str(p) for p in ALL_FIXTURES[:4]]
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import json, sys\n"
        "from tracelab_pipeline.normalize import normalize_files\n"
        f"tables = normalize_files({files!r}, 't', workers=2)\n"
        "acc = tables.ingest_accounting.to_pylist()\n"
        "print(json.dumps([tables.steps.num_rows, [row['error'] for row in acc]]))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    steps, errors = json.loads(done.stdout.splitlines()[-1])
    assert steps == normalize_files(files, "t").steps.num_rows > 0
    assert errors == [None] * len(files)
    assert "worker processes cannot run here" in done.stderr


def test_a_codex_fork_keeps_replayed_steps_with_the_parent(tmp_path):
    """A forked rollout replays its parent's records before its own turn; the replayed steps
    collide with the parent's and stay with the parent's file even though the fork sorts first."""
    lines = CODEX_SEGMENT.read_text().splitlines()
    meta = json.loads(lines[0])
    parent_id = meta["payload"]["id"]
    meta["payload"].update(id="01a7c9e6-0000-7000-8000-000000000000", forked_from_id=parent_id)
    last_turn = "01a7c9e5-8f20-7a6d-a14c-6e9b27c3f0d1"
    start = next(i for i, line in enumerate(lines) if f'"turn_id":"{last_turn}"' in line)
    own_turn = [
        line.replace(last_turn, "01a7c9e6-1111-7000-8000-000000000000") for line in lines[start:]
    ]
    fork = tmp_path / "a_fork.jsonl"
    fork.write_text("\n".join([json.dumps(meta), *lines, *own_turn]) + "\n")
    parent = tmp_path / "z_parent.jsonl"
    shutil.copy(CODEX_SEGMENT, parent)

    tables = normalize_files([fork, parent])
    acc = accounting_by_file(tables)
    assert (acc[str(parent)]["steps"], acc[str(parent)]["duplicate_steps"]) == (9, 0)
    assert acc[str(fork)]["duplicate_steps"] == 9
    own = tables.steps.filter(pc.equal(tables.steps.column("source_file"), str(fork)))
    assert own.num_rows == acc[str(fork)]["steps"] > 0
    assert set(own.column("session_id").to_pylist()) == {meta["payload"]["id"]}
    assert set(own.column("parent_session_id").to_pylist()) == {parent_id}


def test_landed_copies_keep_the_sub_agent_layout_through_origins(tmp_path):
    """Content-addressed copies lose their names; `origins` gives the path the client wrote,
    so a sub-agent transcript becomes a thread of its parent session, starting when it does."""
    source = FIXTURES / "claude" / "ccviewer__fe5e1c67.jsonl"
    session = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"
    main_lines, agent_lines = [], []
    for line in source.read_bytes().splitlines(keepends=True):
        (agent_lines if b'"isSidechain":true' in line else main_lines).append(line)
    main, agent = tmp_path / "objects" / "3f1a.jsonl", tmp_path / "objects" / "9b2c.jsonl"
    main.parent.mkdir()
    main.write_bytes(b"".join(main_lines))
    agent.write_bytes(b"".join(agent_lines))
    origins = {
        str(main): f"-sample-project/{session}.jsonl",
        str(agent): f"-sample-project/{session}/subagents/agent-a1b2.jsonl",
    }
    tables = normalize_files([main, agent], origins=origins)
    rows = tables.steps.select(
        [
            "source_file",
            "session_id",
            "root_session_id",
            "parent_session_id",
            "is_sidechain",
            "agent_id",
            "project",
            "session_started_at",
        ]
    ).to_pylist()
    agent_rows = [r for r in rows if r["source_file"] == str(agent)]
    main_rows = [r for r in rows if r["source_file"] == str(main)]
    assert agent_rows and main_rows
    assert {r["agent_id"] for r in agent_rows} == {"a1b2"}
    assert all(r["is_sidechain"] and r["parent_session_id"] == session for r in agent_rows)
    assert {r["root_session_id"] for r in rows} == {session}
    assert {r["project"] for r in rows} == {"-sample-project"}
    assert len({r["session_started_at"] for r in rows}) == 1
    # the same with a second copy of the main file: repeated step ids are planned in DuckDB
    copy = tmp_path / "objects" / "77aa.jsonl"
    copy.write_bytes(main.read_bytes())
    origins[str(copy)] = origins[str(main)]
    again = normalize_files([main, agent, copy], origins=origins)
    assert again.steps.num_rows == tables.steps.num_rows
    assert set(again.steps.column("session_started_at").to_pylist()) == {
        rows[0]["session_started_at"]
    }

    without = normalize_files([agent])  # the object's own path says nothing of the layout
    assert "a1b2" not in without.steps.column("agent_id").to_pylist()
    assert set(without.steps.column("project").to_pylist()) == {"objects"}


def test_a_raw_log_is_kept_over_its_tracelab_round_export(tmp_path):
    """The export lacks fields (request ids, stop reasons, branches); it loses even when it
    sorts first and holds as many of the session's steps."""
    raw = tmp_path / "z_raw.jsonl"
    shutil.copy(FIXTURES / "claude" / "ccviewer__5c0375b4.jsonl", raw)
    alone = normalize_files([raw])
    export = tmp_path / "a_export.jsonl"
    write_tracelab_rounds(alone.steps, alone.tool_calls, alone.timing_events, export)
    assert normalize_files([export]).steps.column("request_id").null_count > 0

    tables = normalize_files([export, raw])
    acc = accounting_by_file(tables)
    assert acc[str(export)]["duplicate_steps"] == alone.steps.num_rows > 0
    assert acc[str(raw)]["duplicate_steps"] == 0
    for column in ("request_id", "stop_reason", "git_branch"):
        assert tables.steps.column(column).equals(alone.steps.column(column))
    assert tables.tool_calls.num_rows == alone.tool_calls.num_rows
