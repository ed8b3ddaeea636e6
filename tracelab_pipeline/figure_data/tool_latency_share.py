"""Fig 8: per latency bin, its share of tool calls vs its share of total tool time.

Positive effective latencies only; half-open millisecond bins; providers plus 'all'.
"""

from __future__ import annotations

from tracelab_pipeline.figure_data.shares import binned_shares_sql
from tracelab_pipeline.figure_data.tools import CALLS_CTE
from tracelab_pipeline.figure_data.write import write_figure_table

BINS = (
    ("<10ms", 0, 10),
    ("10-100ms", 10, 100),
    ("100ms-1s", 100, 1_000),
    ("1-10s", 1_000, 10_000),
    ("10s-1m", 10_000, 60_000),
    ("1-10m", 60_000, 600_000),
    ("10m-1h", 600_000, 3_600_000),
    (">=1h", 3_600_000, None),
)


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        8,
        binned_shares_sql(
            ctes=CALLS_CTE,
            source="calls WHERE effective_ms > 0",
            value="effective_ms",
            carry="is_error",
            extra="count(*) FILTER (WHERE r.is_error) AS error_calls",
            bins=BINS,
            unit="ms",
            count=("calls", "call_share"),
            weight=("latency_ms", "latency_share"),
        ),
    )
