"""Run the suites in-process with an ephemeral GX context (no project folder, no progress bars).

GX is imported lazily (the import alone takes seconds) and its objects are built once per process;
each run only passes a new DataFrame and the partition window. Reports name failing expectations
and counts only: GX's `partial_unexpected_list` holds raw values, which may be private.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.validate.suites import (
    LATE_SLACK_DAYS,
    PREFIX_PLUS_APPEND,
    VALIDATED_TABLES,
    expectations,
)


@dataclass
class SuiteReport:
    table: str
    layer: str
    rows: int
    evaluated: int
    successful: int
    # expectation label -> unexpected count (or -1 when GX reports no count, e.g. column set)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return not self.failures


@functools.cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@functools.cache
def _validation(table: str, layer: str):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context()
    name = f"tracelab_{layer}_{table}"
    source = context.data_sources.add_pandas(name)
    batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("partition")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in expectations(table, layer):
        suite.add_expectation(getattr(gxe, expectation.kind)(**expectation.kwargs))
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )


def month_window(month: str) -> dict:
    """Run-time parameters of the timestamp expectations for partition month 'YYYY-MM'."""
    import pandas as pd

    start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return {
        "month_start": pd.Timestamp(start),
        "month_end": pd.Timestamp(end),
        "late_end": pd.Timestamp(end + dt.timedelta(days=LATE_SLACK_DAYS)),
    }


def _frame(table: str, data: pa.Table):
    import pandas as pd

    if table == "steps" and {"prefix_tokens", "append_tokens"} <= set(data.column_names):
        data = data.append_column(
            PREFIX_PLUS_APPEND, pc.add(data.column("prefix_tokens"), data.column("append_tokens"))
        )
    # Nullable Int64 keeps integer columns integral when they hold nulls.
    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}
    return data.to_pandas(types_mapper=mapping.get)


def validate_table(table: str, layer: str, data: pa.Table, month: str) -> SuiteReport:
    result = _validation(table, layer).run(
        batch_parameters={"dataframe": _frame(table, data)},
        expectation_parameters=month_window(month),
        result_format="BASIC",
    )
    failures: dict[str, int] = {}
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        label = _label(config.type, config.kwargs)
        count = r.result.get("unexpected_count") if r.result else None
        failures[label] = int(count) if count is not None else -1
    stats = result.statistics
    return SuiteReport(
        table=table,
        layer=layer,
        rows=data.num_rows,
        evaluated=int(stats["evaluated_expectations"]),
        successful=int(stats["successful_expectations"]),
        failures=failures,
    )


def _label(kind: str, kwargs: dict) -> str:
    if "column_A" in kwargs:
        return f"{kind}:{kwargs['column_A']}={kwargs['column_B']}"
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or ())
    return f"{kind}:{column}" if column else kind


def validate_partition(layer: str, tables: dict[str, pa.Table], month: str) -> list[SuiteReport]:
    return [validate_table(t, layer, tables[t], month) for t in VALIDATED_TABLES if t in tables]
