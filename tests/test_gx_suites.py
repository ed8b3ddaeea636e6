"""GX suites as code: real partitions pass; each injected broken invariant is caught by name."""

from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from anonymize_helpers import real_partition, replace_first, set_column

from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
from tracelab_pipeline.schema import INTERNAL_LATENCY_SOURCES
from tracelab_pipeline.validate import validate_partition, validate_table
from tracelab_pipeline.validate.suites import expectations

MONTH = "2025-09"


@pytest.fixture(scope="module")
def private():
    return real_partition(MONTH)


@pytest.fixture(scope="module")
def public(private):
    return anonymize_partition(
        private, Pseudonymizer(b"gx-test-key-0123456789"), Scrubber([])
    ).tables


@pytest.mark.parametrize("month", ["2025-06", "2026-04"])
def test_real_partitions_pass_both_layers(month):
    private = real_partition(month)
    public = anonymize_partition(
        private, Pseudonymizer(b"gx-test-key-0123456789"), Scrubber([])
    ).tables
    for layer, tables in (("private", private), ("public", public)):
        reports = validate_partition(layer, tables, month)
        assert [r.table for r in reports] == ["steps", "tool_calls", "timing_events"]
        for r in reports:
            assert r.success, (layer, r.table, r.failures)
            assert r.evaluated >= 10 and r.successful == r.evaluated


def test_suites_cover_what_the_issue_asks():
    kinds = {(e.kind, e.kwargs.get("column")) for e in expectations("steps", "public")}
    assert ("ExpectTableColumnsToMatchSet", None) in kinds
    assert ("ExpectColumnValuesToNotBeNull", "step_id") in kinds
    assert ("ExpectColumnValuesToBeUnique", "step_id") in kinds
    assert ("ExpectColumnValuesToBeBetween", "output_tokens") in kinds
    assert ("ExpectColumnPairValuesToBeEqual", None) in kinds
    assert ("ExpectColumnValuesToBeInSet", "provider") in kinds
    assert ("ExpectColumnValuesToBeInSet", "trigger") in kinds
    assert ("ExpectColumnValuesToBeBetween", "session_started_at") in kinds
    events = {(e.kind, e.kwargs.get("column")) for e in expectations("timing_events", "private")}
    assert ("ExpectColumnValuesToBeInSet", "event_type") in events
    latencies = {
        e.kwargs.get("column")
        for e in expectations("tool_calls", "public")
        if e.kind == "ExpectColumnValuesToBeBetween"
    }
    assert {"wall_latency_ms", "internal_latency_ms"} <= latencies
    sources = [
        e.kwargs["value_set"]
        for e in expectations("tool_calls", "public")
        if e.kind == "ExpectColumnValuesToBeInSet"
        and e.kwargs["column"] == "internal_latency_source"
    ]
    assert sources == [list(INTERNAL_LATENCY_SOURCES)]


def _first_plus_one(t: pa.Table) -> pa.Table:
    values = t.column("input_tokens_total").to_pylist()
    return set_column(t, "input_tokens_total", [values[0] + 1, *values[1:]])


def _null_first(t: pa.Table, column: str, row: int = 0) -> pa.Table:
    i = t.schema.get_field_index(column)
    values = t.column(column).to_pylist()
    values[row] = None
    return t.set_column(i, pa.field(column, t.schema.field(column).type), pa.array(values))


def _copy_first(t: pa.Table, row: int, columns: tuple[str, ...]) -> pa.Table:
    for column in columns:
        values = t.column(column).to_pylist()
        values[row] = values[0]
        t = set_column(t, column, values)
    return t


# table -> breakers (each touches its own column of the first rows) and the exact failures expected
BREAKS = {
    "steps": (
        [
            _first_plus_one,
            lambda t: replace_first(t, "step_id", t.column("step_id")[1].as_py()),
            lambda t: replace_first(t, "output_tokens", -5),
            lambda t: replace_first(t, "microcompact_tokens_saved", -100),
            lambda t: replace_first(t, "provider", "cursor"),
            lambda t: replace_first(
                t, "session_started_at", dt.datetime(2025, 8, 31, 23, 59, tzinfo=dt.UTC)
            ),
        ],
        {
            "expect_column_pair_values_to_be_equal:input_tokens_total=__prefix_plus_append": 1,
            "expect_column_values_to_be_unique:step_id": 2,
            "expect_column_values_to_be_between:output_tokens": 1,
            "expect_column_values_to_be_between:microcompact_tokens_saved": 1,
            "expect_column_values_to_be_in_set:provider": 1,
            "expect_column_values_to_be_between:session_started_at": 1,
        },
    ),
    "tool_calls": (
        [
            lambda t: replace_first(t, "wall_latency_ms", -40, where=lambda v: v is not None),
            lambda t: _null_first(t, "call_id"),
            lambda t: _copy_first(t, 2, ("step_id", "tool_index")),
            lambda t: replace_first(t, "internal_latency_source", "stopwatch"),
        ],
        {
            "expect_column_values_to_be_in_set:internal_latency_source": 1,
            "expect_column_values_to_be_between:wall_latency_ms": 1,
            "expect_column_values_to_not_be_null:call_id": 1,
            "expect_compound_columns_to_be_unique:step_id,tool_index": 2,
        },
    ),
    "timing_events": (
        [
            lambda t: replace_first(t, "event_type", "screenshot"),
            lambda t: replace_first(
                t,
                "timestamp",
                dt.datetime(2024, 12, 31, tzinfo=dt.UTC),
                where=lambda v: v is not None,
            ),
            lambda t: _null_first(t, "contributor", row=3),
        ],
        {
            "expect_column_values_to_be_in_set:event_type": 1,
            "expect_column_values_to_be_between:timestamp": 1,
            "expect_column_values_to_not_be_null:contributor": 1,
        },
    ),
}


@pytest.mark.parametrize("layer", ["private", "public"])
@pytest.mark.parametrize("table", sorted(BREAKS))
def test_injected_broken_invariants_are_caught(private, public, layer, table):
    breakers, expected = BREAKS[table]
    data = (private if layer == "private" else public)[table]
    assert validate_table(table, layer, data, MONTH).success  # unbroken, it passes
    for breaker in breakers:
        data = breaker(data)
    report = validate_table(table, layer, data, MONTH)
    assert not report.success
    assert report.failures == expected


def test_extra_column_is_caught_on_the_public_layer(public):
    steps = public["steps"].append_column("cwd", pa.array(["/x"] * public["steps"].num_rows))
    report = validate_table("steps", "public", steps, MONTH)
    assert report.failures == {"expect_table_columns_to_match_set": -1}


@pytest.mark.parametrize("layer", ["private", "public"])
def test_injected_wrong_types_fail_the_suite_by_name(private, public, layer):
    """int64 as double (nulls included: pandas alone would call both float64), a timestamp
    as text, int64 as int32: each fails the type expectation, which names the column."""
    tables = private if layer == "private" else public
    calls = tables["tool_calls"]
    assert calls.column("internal_latency_ms").null_count > 0  # the ambiguous case is covered
    report = validate_table(
        "tool_calls", layer, _cast(calls, "internal_latency_ms", pa.float64()), MONTH
    )
    assert report.failures == {"expect_table_column_types_to_match:internal_latency_ms": -1}

    events = _cast(tables["timing_events"], "timestamp", pa.string())
    report = validate_table("timing_events", layer, events, MONTH)
    assert "expect_table_column_types_to_match:timestamp" in report.failures
    # the window expectation cannot compare text with its bounds: it fails too, by name
    assert set(report.failures) <= {
        "expect_table_column_types_to_match:timestamp",
        "expect_column_values_to_be_between:timestamp",
    }

    steps = _cast(tables["steps"], "step_index", pa.int32())
    report = validate_table("steps", layer, steps, MONTH)
    assert report.failures == {"expect_table_column_types_to_match:step_index": -1}


def _cast(t: pa.Table, column: str, type_: pa.DataType) -> pa.Table:
    i = t.schema.get_field_index(column)
    return t.set_column(i, pa.field(column, type_), t.column(i).cast(type_))


def test_schema_part_checks_every_column_type():
    for layer in ("private", "public"):
        for table in ("steps", "tool_calls", "timing_events"):
            described = expectations(table, layer)
            (types,) = [e for e in described if e.kind == "ExpectTableColumnTypesToMatch"]
            (columns,) = [e for e in described if e.kind == "ExpectTableColumnsToMatchSet"]
            assert set(types.kwargs["column_types"]) == set(columns.kwargs["column_set"])
            assert types.kwargs["column_types"]["step_id"] == "string[pyarrow]"


def test_reports_never_carry_raw_values(private):
    raw = private["steps"].column("session_id")[0].as_py()
    steps = replace_first(private["steps"], "provider", "cursor-" + raw)
    report = validate_table("steps", "private", steps, MONTH)
    assert report.failures
    assert raw not in json.dumps(report.__dict__)


def test_gx_runs_without_a_project_folder(tmp_path, private):
    before = set(os.listdir(os.getcwd()))
    validate_table("tool_calls", "private", private["tool_calls"], MONTH)
    assert set(os.listdir(os.getcwd())) == before
    assert not (tmp_path / "gx").exists()
    assert pc.sum(private["tool_calls"].column("input_chars")).as_py() > 0


def test_a_run_of_partitions_is_validated_in_one_pass(private):
    from tracelab_pipeline.validate import validate_partitions

    runs = {m: (real_partition(m), m) for m in ("2025-06", MONTH, "2026-04")}
    # the same partition twice under two keys: step ids repeat across partitions, not within
    runs["copy"] = (private, MONTH)
    reports = validate_partitions("private", runs)
    for key, rs in reports.items():
        assert [r.table for r in rs] == ["steps", "tool_calls", "timing_events"]
        assert all(r.success and r.batch_partitions == 4 for r in rs), key
        assert [r.rows for r in rs] == [
            runs[key][0][t].num_rows for t in ("steps", "tool_calls", "timing_events")
        ]


def test_a_failure_in_a_run_is_named_for_its_partition_only(private, public):
    from tracelab_pipeline.validate import validate_partitions

    for layer, tables in (("private", private), ("public", public)):
        broken = dict(tables)
        for table, (breakers, _) in BREAKS.items():
            for breaker in breakers:
                broken[table] = breaker(broken[table])
        other = real_partition("2025-06")
        if layer == "public":
            other = anonymize_partition(
                other, Pseudonymizer(b"gx-test-key-0123456789"), Scrubber([])
            ).tables
        # a session of 2025-06 is outside 2025-09's window but inside its own partition's
        reports = validate_partitions(
            layer, {"ok": (other, "2025-06"), "bad": (broken, MONTH), "ok2": (tables, MONTH)}
        )
        assert all(r.success for r in reports["ok"] + reports["ok2"])
        assert {r.table: r.failures for r in reports["bad"]} == {
            t: expected for t, (_, expected) in BREAKS.items()
        }


def test_window_is_per_partition_in_one_pass(private):
    from tracelab_pipeline.validate import validate_partitions

    # 2025-09's data filed under 2025-10 breaks that partition's window, whoever runs beside it
    reports = validate_partitions("private", {"a": (private, MONTH), "b": (private, "2025-10")})
    assert all(r.success for r in reports["a"])
    steps = reports["b"][0].failures
    assert (
        steps["expect_column_values_to_be_between:session_started_at"] == private["steps"].num_rows
    )


@pytest.mark.parametrize("column", ["last_output_at", "session_started_at"])
@pytest.mark.parametrize(("late", "caught"), [("400 days", False), ("2 days ahead", True)])
def test_a_conversation_continued_long_after_passes_and_a_future_time_is_caught(
    private, column, late, caught
):
    """Timestamps may run any time past the partition's month (a resumed Codex rollout; a
    Claude Code session resumed from one of the month's sessions starts later, a year on for
    a conversation continued that long); after what the readers accept (a day past now) is
    not a session, it is a broken clock."""
    if late == "400 days":
        value = pc.max(private["steps"].column(column)).as_py() + dt.timedelta(days=400)
    else:
        value = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    steps = replace_first(private["steps"], column, value)
    (report,) = [
        r
        for r in validate_partition("private", {**private, "steps": steps}, MONTH)
        if r.table == "steps"
    ]
    assert report.failures == (
        {f"expect_column_values_to_be_between:{column}": 1} if caught else {}
    )
