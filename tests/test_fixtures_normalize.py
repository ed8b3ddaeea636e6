"""Every real fixture goes through normalize_files cleanly (none of them has a malformed line)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from tracelab_pipeline.normalize import normalize_files

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
ALL_FIXTURES = sorted(FIXTURES.glob("*/*.jsonl"))


@pytest.fixture(scope="module")
def tables():
    return normalize_files(ALL_FIXTURES)


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_is_read_without_rejections(tables, path):
    row = next(r for r in tables.ingest_accounting.to_pylist() if r["source_file"] == str(path))
    assert row["error"] is None
    assert row["provider"] == path.parent.name
    assert row["records_rejected"] == 0, row["rejected_by_reason"]
    assert row["lines_read"] == len(path.read_bytes().splitlines())
    assert row["lines_read"] == row["records_used"] + row["records_ignored"]
    assert row["duplicate_steps"] == 0
    if path.name == "claude-code-transcripts__sample_codex_session.jsonl":
        assert row["steps"] == 0  # no token_count records at all
    else:
        assert row["steps"] > 0


def test_no_rejected_records_and_unique_step_ids(tables):
    assert tables.rejected_records.num_rows == 0
    ids = tables.steps.column("step_id")
    assert pc.count_distinct(ids).as_py() == len(ids)


def test_input_total_is_prefix_plus_append_everywhere(tables):
    steps = tables.steps
    total = pc.add(steps.column("prefix_tokens"), steps.column("append_tokens"))
    assert pc.all(pc.equal(steps.column("input_tokens_total"), total)).as_py()
    for column in ("prefix_tokens", "append_tokens", "output_tokens"):
        assert pc.min(steps.column(column)).as_py() >= 0


def test_children_point_at_existing_rows(tables):
    step_ids = set(tables.steps.column("step_id").to_pylist())
    assert set(tables.tool_calls.column("step_id").to_pylist()) <= step_ids
    assert set(tables.timing_events.column("step_id").to_pylist()) <= step_ids
    calls = pc.sum(tables.steps.column("tool_call_count")).as_py()
    assert calls == tables.tool_calls.num_rows


def test_tracelab_segments_step_counts(tables):
    """tracelab-ingest §12: the published example segments hold 10 Claude and 9 Codex steps."""
    by_file = {r["source_file"]: r["steps"] for r in tables.ingest_accounting.to_pylist()}
    assert by_file[str(FIXTURES / "claude" / "tracelab__claude-example-segment.jsonl")] == 10
    assert by_file[str(FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl")] == 9
