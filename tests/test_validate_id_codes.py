"""Id columns reach GX's uniqueness expectations as dictionary codes (runner._id_codes): the
verdicts and counts are those of the strings themselves."""

from __future__ import annotations

import pyarrow as pa
import pytest
from anonymize_helpers import real_partition, set_column
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
from tracelab_pipeline.validate import runner, validate_layers, validate_table

MONTH = "2025-09"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", ""])), max_size=8)))
def test_codes_are_equal_exactly_when_ids_are_in_one_partition(partitions):
    ids = [v for p in partitions for v in p]
    where = [i for i, p in enumerate(partitions) for _ in p]
    # several chunks, as a concatenation of partitions has
    column = pa.chunked_array([pa.array(p, pa.string()) for p in partitions], pa.string())
    codes = runner._id_codes(column, [len(p) for p in partitions])
    assert len(codes) == len(ids)
    for i in range(len(ids)):
        assert (ids[i] is None) == bool(codes.isna()[i])
        for j in range(len(ids)):
            same = ids[i] is not None and ids[i] == ids[j] and where[i] == where[j]
            assert same == (codes.codes[i] == codes.codes[j] and codes.codes[i] >= 0)


def test_only_ids_read_by_uniqueness_and_non_null_alone_are_coded():
    assert runner.coded_ids("steps", "private") == {"step_id"}
    assert runner.coded_ids("tool_calls", "public") == {"step_id", "call_id"}
    assert runner.coded_ids("timing_events", "public") == {"step_id"}


def _copy_row_zero(table: pa.Table, row: int, columns: tuple[str, ...]) -> pa.Table:
    for name in columns:
        values = table.column(name).to_pylist()
        values[row] = values[0]
        table = set_column(table, name, values)
    return table


def _null_at(table: pa.Table, row: int, name: str) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = None
    return set_column(table, name, values)


# table -> breaker, each a duplicate key or a null id
BROKEN_KEYS = {
    "steps": lambda t: _null_at(_copy_row_zero(t, 3, ("step_id",)), 5, "step_id"),
    "tool_calls": lambda t: _null_at(
        _copy_row_zero(_copy_row_zero(t, 1, ("step_id", "call_id")), 2, ("step_id", "tool_index")),
        4,
        "call_id",
    ),
    "timing_events": lambda t: _copy_row_zero(t, 1, ("step_id", "event_index")),
}


def _as_strings(monkeypatch):
    monkeypatch.setattr(runner, "coded_ids", lambda table, layer: frozenset())


def _key_dtypes(monkeypatch) -> dict:
    """Spy: the dtypes of the frames of the keys part GX was given, by table."""
    seen: dict = {}
    real = runner._run

    def spy(table, layer, part, frame, *args, **kwargs):
        if part == "keys":
            seen.setdefault(table, {}).update({c: str(t) for c, t in frame.dtypes.items()})
        return real(table, layer, part, frame, *args, **kwargs)

    monkeypatch.setattr(runner, "_run", spy)
    return seen


def _summary(report):
    return (report.table, report.rows, report.evaluated, report.successful, report.failures)


@pytest.mark.parametrize("layer", ["private", "public"])
@pytest.mark.parametrize("table", sorted(BROKEN_KEYS))
def test_a_partition_alone_gets_the_verdicts_of_the_strings(monkeypatch, layer, table):
    private = real_partition(MONTH)
    tables = private if layer == "private" else _public(private)
    data = BROKEN_KEYS[table](tables[table])
    with monkeypatch.context() as m:
        dtypes = _key_dtypes(m)
        coded = validate_table(table, layer, data, MONTH)
    assert {dtypes[table][c] for c in runner.coded_ids(table, layer)} == {"category"}
    assert not coded.success
    assert all("unique" in k or "not_be_null" in k for k in coded.failures)
    _as_strings(monkeypatch)
    assert _summary(coded) == _summary(validate_table(table, layer, data, MONTH))


def test_a_run_of_both_layers_gets_the_verdicts_of_the_strings(monkeypatch):
    private = real_partition(MONTH)
    other = real_partition("2025-06")
    broken = {t: BROKEN_KEYS[t](private[t]) if t in BROKEN_KEYS else private[t] for t in private}
    layers = {
        # the same ids in two partitions and in both layers: unique per partition and layer
        "private": {"ok": (other, "2025-06"), "copy": (private, MONTH), "bad": (broken, MONTH)},
        "public": {"ok": (_public(other), "2025-06"), "bad": (_public(broken), MONTH)},
    }
    with monkeypatch.context() as m:
        dtypes = _key_dtypes(m)
        coded = validate_layers(layers)
    assert dtypes["steps"]["step_id"] == "category"
    _as_strings(monkeypatch)
    strings = validate_layers(layers)
    for layer, parts in layers.items():
        for key in parts:
            got = [_summary(r) for r in coded[layer][key]]
            assert got == [_summary(r) for r in strings[layer][key]], (layer, key)
            assert all(r.success for r in coded[layer][key]) == (key != "bad"), (layer, key)


def _public(private):
    return anonymize_partition(
        private, Pseudonymizer(b"gx-test-key-0123456789"), Scrubber([])
    ).tables
