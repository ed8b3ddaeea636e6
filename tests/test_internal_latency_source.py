"""Where each internal latency came from, on the real fixtures (/work/shared/fixtures/real):
the readers name the source they took it from, and only when they took one."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from landing_helpers import REAL

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.schema import INTERNAL_LATENCY_SOURCES

FIXTURES = sorted(REAL.glob("*/*.jsonl"))
DURATION_KEYS = ("durationMs", "duration_ms", "durationSeconds", "duration_seconds")


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_a_source_is_named_exactly_when_a_latency_was_taken(fixture):
    result = read_log(fixture, "alice")
    for tool in result.tool_calls:
        source = tool["internal_latency_source"]
        assert (source is None) == (tool["internal_latency_ms"] is None), tool["call_id"]
        assert source is None or source in INTERNAL_LATENCY_SOURCES


def _sources(provider: str) -> Counter:
    return Counter(
        t["internal_latency_source"]
        for f in FIXTURES
        if f.parent.name == provider
        for t in read_log(f, "alice").tool_calls
    )


def test_claude_latencies_come_from_tool_use_result():
    # Every Claude internal latency is a toolUseResult duration key (tracelab-ingest §3.4);
    # the fixtures have both kinds of call.
    sources = _sources("claude")
    assert set(sources) == {None, "tool_use_result"}
    assert sources["tool_use_result"] >= 20


def test_claude_source_follows_the_duration_keys_of_the_last_result():
    # sniffly__ba79134d has toolUseResult objects with durationMs: the calls whose (last)
    # result record carries a duration key are the ones marked tool_use_result.
    fixture = REAL / "claude" / "sniffly__ba79134d.jsonl"
    last_result = {}
    for line in fixture.read_bytes().splitlines():
        rec = orjson.loads(line)
        content = (rec.get("message") or {}).get("content")
        if rec.get("type") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                last_result[block["tool_use_id"]] = rec.get("toolUseResult")
    timed = {
        call_id
        for call_id, result in last_result.items()
        if isinstance(result, dict) and any(k in result for k in DURATION_KEYS)
    }
    tools = read_log(fixture, "alice").tool_calls
    marked = {t["call_id"] for t in tools if t["internal_latency_source"] == "tool_use_result"}
    assert timed and marked == timed & {t["call_id"] for t in tools}


def test_codex_latencies_of_the_real_rollouts_come_from_wall_time_lines():
    # The real rollouts (0.114, 0.120) put a "Wall time" line in their exec outputs; none has
    # the JSON outputs or end-event durations our fallbacks read (tests/test_codex.py crafts
    # those), so every timed call is one TraceLab times as well.
    sources = _sources("codex")
    assert set(sources) == {None, "wall_time_line"}
    assert sources["wall_time_line"] >= 40
