"""Property-based: corrupted and truncated real logs (and crafted rollouts of Codex layouts the
fixtures lack) never escape as exceptions, and every line is accounted for (lines_read = used +
ignored + rejected) with file and line for each rejection."""

from __future__ import annotations

import functools
import gzip
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_codex_upstream_shapes import HEADERS, _pre_envelope_lines, full_2026_turn

from tracelab_pipeline.formats import read_log
from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.schema import to_table

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
SOURCES = {p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*/*.jsonl"))} | {
    name: b"".join(json.dumps(r).encode() + b"\n" for r in records)
    for name, records in (
        ("rollout-2026-turn.jsonl", full_2026_turn()),
        ("rollout-pre-envelope.jsonl", _pre_envelope_lines(HEADERS[1])),
    )
}

ODD_VALUES = [
    None,
    -1,
    -(10**12),
    10**25,
    0,
    1.5,
    True,
    "",
    "x",
    [],
    {},
    [1, "a"],
    {"x": 1},
    "1970-01-01T00:00:00Z",
    "not a date",
    "2026-13-45T99:00:00Z",
]
FIELD_HINTS = re.compile(r"token|timestamp|type|id$|Id$|usage|info|payload|message|content|name")
# No coding agent logged before 2023: the readers reject earlier timestamps.
EARLIEST_PLAUSIBLE = datetime(2023, 1, 1, tzinfo=UTC)
TOKEN_COLUMNS = (
    "input_tokens_total",
    "prefix_tokens",
    "append_tokens",
    "output_tokens",
    "reasoning_tokens",
    "uncached_input_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)


def _paths(value, prefix=()):
    """Every key path into a JSON value (dict keys and list positions)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*prefix, i)
            yield from _paths(child, (*prefix, i))


@st.composite
def mutate_field(draw, lines: list[bytes]) -> list[bytes]:
    """Set or delete one field deep inside one record: wrong types, absurd values, missing keys."""
    index = draw(st.integers(0, len(lines) - 1))
    try:
        record = json.loads(lines[index])
    except ValueError:
        return lines
    paths = list(_paths(record))
    if not paths:
        return lines
    # Fields the readers interpret are where wrong types and absurd values hurt; favour them.
    interesting = [p for p in paths if isinstance(p[-1], str) and FIELD_HINTS.search(p[-1])]
    path = draw(st.sampled_from(interesting if interesting and draw(st.booleans()) else paths))
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(st.sampled_from(ODD_VALUES))
    return [*lines[:index], json.dumps(record).encode() + b"\n", *lines[index + 1 :]]


@st.composite
def corrupted(draw) -> tuple[str, bytes]:
    """A real fixture with a few random corruptions applied."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    data = SOURCES[name]
    for op in draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=4)):
        if not data:
            break
        if op == "flip":
            for _ in range(draw(st.integers(1, 8))):
                at = draw(st.integers(0, len(data) - 1))
                data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif op == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif op == "invalid_utf8":
            at = draw(st.integers(0, len(data)))
            data = (
                data[:at]
                + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]))
                + data[at:]
            )
        else:
            lines = data.splitlines(keepends=True)
            if op == "field":
                lines = draw(mutate_field(lines))
            else:
                at = draw(st.integers(0, len(lines) - 1))
                if op == "delete_line":
                    del lines[at]
                elif op == "duplicate_line":
                    lines.insert(draw(st.integers(0, len(lines))), lines[at])
                elif op == "junk_line":
                    junk = draw(st.sampled_from([b"[1, 2]\n", b"42\n", b"null\n", b"\n", b"{\n"]))
                    lines.insert(at, junk)
            data = b"".join(lines)
    return name, data


OPS = ["flip", "truncate", "invalid_utf8", "field", "delete_line", "duplicate_line", "junk_line"]


class Case(NamedTuple):
    name: str
    data: bytes
    complete: bool  # all of the (corrupted) content is there, not cut off inside gzip

    def __repr__(self) -> str:  # failing examples stay readable; the bytes can be megabytes
        return f"Case({self.name!r}, {len(self.data)} bytes, head={self.data[:120]!r})"


@st.composite
def stored(draw) -> Case:
    """Corrupted content as written to disk: plain, gzip, or gzip cut short."""
    name, data = draw(corrupted())
    how = draw(st.sampled_from(["plain", "plain", "gzip", "gzip_truncated"]))
    if how == "plain":
        return Case(name, data, True)
    packed = gzip.compress(data)
    if how == "gzip_truncated":
        packed = packed[: draw(st.integers(0, len(packed)))]
    return Case(name + ".gz", packed, how == "gzip")


def line_count(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def check_file(result, path: Path, expected_lines: int | None) -> None:
    acc = result.accounting
    assert acc.lines_read == acc.used + acc.ignored + len(acc.rejected)
    if expected_lines is not None:
        assert acc.lines_read == expected_lines, "lines went missing"
    numbers = [r["line_number"] for r in acc.rejected]
    assert len(set(numbers)) == len(numbers), "a line was rejected twice"
    for row in acc.rejected:
        assert row["source_file"] == str(path)
        assert 1 <= row["line_number"] <= acc.lines_read
        assert isinstance(row["reason"], str) and row["reason"]


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(stored())
def test_read_log_survives_corruption_and_accounts_for_every_line(case):
    name, data, complete = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        result = read_log(path, "fuzz")
        plain = data if not name.endswith(".gz") else (gzip.decompress(data) if complete else None)
        check_file(result, path, None if plain is None else line_count(plain))
        steps = to_table("steps", result.steps)
        to_table("tool_calls", result.tool_calls)
        to_table("timing_events", result.timing_events)
        if steps.num_rows:
            total = pc.add(steps.column("prefix_tokens"), steps.column("append_tokens"))
            assert pc.all(pc.equal(steps.column("input_tokens_total"), total)).as_py()


@functools.cache
def _absurd_targets(name: str) -> list[tuple[int, tuple, str]]:
    """(line index, key path, kind) of every token count and timestamp in a fixture."""
    found = []
    for i, line in enumerate(SOURCES[name].splitlines()):
        record = json.loads(line)
        for path in _paths(record):
            value = record
            for key in path:
                value = value[key]
            if not isinstance(path[-1], str):
                continue
            if path[-1].endswith("tokens") and type(value) is int:
                found.append((i, path, "tokens"))
            elif path[-1] == "timestamp" and isinstance(value, str):
                found.append((i, path, "timestamp"))
    return found


ABSURD = {
    "tokens": [-1, -4096, -(10**12)],
    "timestamp": ["1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2022-12-31T23:59:59.999Z"],
}


@st.composite
def with_absurd_values(draw) -> tuple[str, bytes]:
    """A real fixture with a few token counts made negative or timestamps moved before 2023."""
    name = draw(st.sampled_from([n for n in sorted(SOURCES) if _absurd_targets(n)]))
    lines = SOURCES[name].splitlines(keepends=True)
    planted = draw(st.lists(st.sampled_from(_absurd_targets(name)), min_size=1, max_size=3))
    for index, path, kind in planted:
        record = json.loads(lines[index])
        parent = record
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(st.sampled_from(ABSURD[kind]))
        lines[index] = json.dumps(record).encode() + b"\n"
    return name, b"".join(lines)


@SETTINGS
@given(with_absurd_values())
def test_absurd_values_never_reach_the_tables(case):
    """Negative token counts and timestamps from before 2023 are rejected, not published."""
    name, data = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        result = read_log(path, "fuzz")
        check_file(result, path, line_count(data))
        for row in result.steps:
            for column in TOKEN_COLUMNS:
                assert row.get(column) is None or row[column] >= 0, (column, row[column])
        for rows in (result.steps, result.tool_calls, result.timing_events):
            for row in rows:
                for value in row.values():
                    if isinstance(value, datetime):
                        assert value >= EARLIEST_PLAUSIBLE, row


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stored(), min_size=1, max_size=3))
def test_normalize_files_survives_corrupted_batches(cases):
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (name, data, _) in enumerate(cases):
            path = Path(tmp) / f"{i}-{name}"
            path.write_bytes(data)
            paths.append(path)
        tables = normalize_files(paths, "fuzz")
        acc = tables.ingest_accounting.to_pylist()
        assert sorted(r["source_file"] for r in acc) == sorted(str(p) for p in paths)
        for row in acc:
            parts = row["records_used"] + row["records_ignored"] + row["records_rejected"]
            assert row["lines_read"] == parts
            assert not (row["error"] or "").startswith("reader crashed"), row["error"]
        assert sum(r["steps"] for r in acc) == tables.steps.num_rows
        ids = tables.steps.column("step_id")
        assert pc.count_distinct(ids).as_py() == len(ids)
        rejected = tables.rejected_records.to_pylist()
        assert len(rejected) == sum(r["records_rejected"] for r in acc)
        lines = {r["source_file"]: r["lines_read"] for r in acc}
        for row in rejected:
            assert 1 <= row["line_number"] <= lines[row["source_file"]]
