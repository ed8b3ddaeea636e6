"""The GX shortcuts (validate/gx_speedups.py) give GX's own answers on every expectation we run."""

from __future__ import annotations

import datetime as dt
import enum

import numpy as np
import pytest
from anonymize_helpers import real_partition, replace_first

from tracelab_pipeline.validate import gx_speedups, validate_partition, validate_partitions
from tracelab_pipeline.validate.runner import _context, _validation, month_window
from tracelab_pipeline.validate.suites import LAYERS, PARTS, VALIDATED_TABLES

MONTH = "2025-09"


@pytest.fixture(scope="module", autouse=True)
def speedups():
    _context()
    assert gx_speedups.apply(), "GX is pinned to the version the shortcuts were written for"
    yield
    gx_speedups.apply()


def _suite_expectations():
    for layer in LAYERS:
        for table in VALIDATED_TABLES:
            for part in PARTS:
                for batched in (False, True):
                    suite, _ = _validation(table, layer, part, batched)
                    yield from suite.expectations


def test_kwargs_shortcuts_equal_gx_on_every_expectation():
    seen = 0
    for e in _suite_expectations():
        seen += 1
        originals = gx_speedups.ORIGINALS
        assert e._get_domain_kwargs() == originals["domain_kwargs"](e)
        assert e._get_success_kwargs() == originals["success_kwargs"](e)
        for runtime in (None, {"result_format": "BOOLEAN_ONLY"}, {"result_format": "BASIC"}):
            fast, gx = e._get_runtime_kwargs(runtime), originals["runtime_kwargs"](e, runtime)
            assert fast == gx and list(fast) == list(gx), type(e).__name__
    assert seen > 100


def test_no_gx_expectation_overrides_the_replaced_methods():
    from great_expectations.expectations.expectation import Expectation
    from great_expectations.expectations.registry import _registered_expectations

    names = ("_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs")
    for cls in _registered_expectations.values():
        for name in names:
            assert getattr(cls, name) is getattr(Expectation, name), (cls.__name__, name)


class _Kind(enum.StrEnum):
    A = "a"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        3,
        True,
        2.5,
        float("nan"),
        (1, "b", None),
        [None, [1, {"k": None}]],
        {"a": None, 1: [1, "b"], "c": {"d": (None, 2)}},
        np.int64(7),
        _Kind.A,
        {"x": np.float64(0.1), "y": dt.date(2025, 1, 2)},
    ],
)
def test_plain_json_equals_gx_conversion(value):
    gx = gx_speedups.ORIGINALS["convert_to_json_serializable"]
    fast = gx_speedups.plain_json(value)
    expected = gx(value)
    if isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(fast)
    else:
        assert fast == expected and type(fast) is type(expected)


def test_plain_json_equals_gx_on_every_expectations_kwargs():
    gx = gx_speedups.ORIGINALS["convert_to_json_serializable"]
    for e in _suite_expectations():
        kwargs = e.configuration.kwargs
        assert gx_speedups.plain_json(kwargs) == gx(kwargs)


def test_parameter_lookup_equals_gx_parser():
    gx = gx_speedups.ORIGINALS["parse_suite_parameter"]
    window = month_window(MONTH)
    for name in window:
        assert gx_speedups.parse_suite_parameter(name, window) == gx(name, window)
    # expressions and unknown names still go through GX's parser, errors included
    assert gx_speedups.parse_suite_parameter("month_start + 1", window) == gx(
        "month_start + 1", window
    )
    from great_expectations.exceptions import SuiteParameterError

    with pytest.raises(SuiteParameterError):
        gx_speedups.parse_suite_parameter("late_start", window)


def _broken_steps():
    private = real_partition(MONTH)
    steps = private["steps"]
    steps = replace_first(steps, "output_tokens", -5)
    steps = replace_first(steps, "provider", "cursor")
    steps = replace_first(steps, "session_started_at", dt.datetime(2025, 8, 31, tzinfo=dt.UTC))
    private["steps"] = replace_first(steps, "step_id", steps.column("step_id")[1].as_py())
    return private


def _reports(tables):
    return [
        (r.table, r.evaluated, r.successful, r.failures)
        for r in validate_partition("private", tables, MONTH)
    ]


def test_whole_validations_agree_with_and_without_the_shortcuts():
    clean, broken = real_partition(MONTH), _broken_steps()
    batch = {"a": (clean, MONTH), "b": (broken, MONTH)}
    fast = (_reports(clean), _reports(broken), validate_partitions("private", batch))
    gx_speedups.remove()
    try:
        assert not gx_speedups.ORIGINALS
        plain = (_reports(clean), _reports(broken), validate_partitions("private", batch))
    finally:
        gx_speedups.apply()
    assert fast == plain
    assert fast[1][0][3] == {
        "expect_column_values_to_be_between:output_tokens": 1,
        "expect_column_values_to_be_in_set:provider": 1,
        "expect_column_values_to_be_between:session_started_at": 1,
        "expect_column_values_to_be_unique:step_id": 2,
    }
