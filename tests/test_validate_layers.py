"""Both layers in one GX pass (validate_layers): same verdicts and counts as each layer alone."""

from __future__ import annotations

import pyarrow as pa
import pytest
from anonymize_helpers import real_partition, replace_first
from test_gx_suites import BREAKS

from tracelab_pipeline.anonymize import Pseudonymizer, Scrubber, anonymize_partition
from tracelab_pipeline.validate import runner, validate_layers, validate_partitions

MONTH = "2025-09"


def _public(private):
    return anonymize_partition(
        private, Pseudonymizer(b"gx-test-key-0123456789"), Scrubber([])
    ).tables


@pytest.fixture
def runs(monkeypatch):
    """(table, layer, part) of every GX run, spied on the real runner."""
    seen = []
    real = runner._run

    def spy(table, layer, part, *args, **kwargs):
        seen.append((table, layer, part))
        return real(table, layer, part, *args, **kwargs)

    monkeypatch.setattr(runner, "_run", spy)
    return seen


def _broken(tables):
    broken = dict(tables)
    for table, (breakers, _) in BREAKS.items():
        for breaker in breakers:
            broken[table] = breaker(broken[table])
    return broken


def test_one_partition_both_layers_in_one_value_pass(runs):
    private = real_partition(MONTH)
    public = _public(private)
    reports = validate_layers(
        {"private": {"p": (private, MONTH)}, "public": {"p": (public, MONTH)}}
    )
    for layer in ("private", "public"):
        assert [r.table for r in reports[layer]["p"]] == ["steps", "tool_calls", "timing_events"]
        assert all(r.success and r.evaluated >= 10 for r in reports[layer]["p"])
    # per table: the schema part of each layer, then each value part once for both layers
    assert len(runs) == 3 * 4
    assert sorted({part for *_, part in runs}) == ["keys", "numbers", "schema"]
    assert {(t, layer) for t, layer, part in runs if part == "schema"} == {
        (t, layer)
        for t in ("steps", "tool_calls", "timing_events")
        for layer in ("private", "public")
    }


@pytest.mark.parametrize("bad_layer", ["private", "public"])
def test_a_broken_layer_is_reported_exactly_as_alone(bad_layer):
    private = real_partition(MONTH)
    public = _public(private)
    other = real_partition("2025-06")
    layers = {
        "private": {"ok": (other, "2025-06"), "x": (private, MONTH)},
        "public": {"ok": (_public(other), "2025-06"), "x": (public, MONTH)},
    }
    layers[bad_layer]["x"] = (_broken(layers[bad_layer]["x"][0]), MONTH)
    together = validate_layers(layers)
    alone = {layer: validate_partitions(layer, parts) for layer, parts in layers.items()}
    for layer in layers:
        for key in ("ok", "x"):
            got = [(r.table, r.evaluated, r.successful, r.failures) for r in together[layer][key]]
            want = [(r.table, r.evaluated, r.successful, r.failures) for r in alone[layer][key]]
            assert got == want, (layer, key)
    assert {r.table: r.failures for r in together[bad_layer]["x"]} == {
        t: expected for t, (_, expected) in BREAKS.items()
    }
    good = "public" if bad_layer == "private" else "private"
    assert all(r.success for r in together[good]["x"] + together[good]["ok"])


def test_numbers_equal_in_both_layers_are_validated_once(monkeypatch, runs):
    """The anonymizer passes numbers through as they are: the public rows join the numbers
    part only where a column it reads differs from the private twin's."""
    private = real_partition(MONTH)
    public = _public(private)
    rows = []
    real = runner._to_frame

    def spy(columns, *args, **kwargs):
        rows.append(columns.num_rows)
        return real(columns, *args, **kwargs)

    monkeypatch.setattr(runner, "_to_frame", spy)
    layers = {"private": {"p": (private, MONTH)}, "public": {"p": (public, MONTH)}}
    assert all(r.success for rs in validate_layers(layers)["public"].values() for r in rs)
    n = {t: private[t].num_rows for t in ("steps", "tool_calls", "timing_events")}
    # per table: keys over both layers, numbers over the private rows alone
    assert rows == [v for t in n.values() for v in (2 * t, t)]

    # Equal values in other buffers (a copy) are the same data; one changed value is not,
    # and the public rows are validated and the break reported.
    rows.clear()
    steps = public["steps"]
    copied = steps.set_column(
        steps.schema.get_field_index("output_tokens"),
        "output_tokens",
        pa.array(steps.column("output_tokens").to_pylist(), pa.int64()),
    )
    broken = replace_first(steps, "output_tokens", -5)
    for table, doubled in ((copied, False), (broken, True)):
        rows.clear()
        layers["public"]["p"] = ({**public, "steps": table}, MONTH)
        reports = validate_layers(layers)
        assert rows[1] == (2 if doubled else 1) * n["steps"]
        assert [r.success for r in reports["public"]["p"]] == [not doubled, True, True]
