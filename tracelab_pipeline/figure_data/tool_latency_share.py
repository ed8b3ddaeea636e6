"""Fig 8: per latency bin, its share of tool calls vs its share of total tool time.

Positive effective latencies only; half-open millisecond bins; providers plus 'all'.
"""

from __future__ import annotations

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
VISIBLE_SHARE = 0.005


def build(con, *, prepared: bool = False) -> int:
    bins = ", ".join(
        f"({i}, '{label}', {lo}, {'NULL' if hi is None else hi})"
        for i, (label, lo, hi) in enumerate(BINS)
    )
    return write_figure_table(
        con,
        8,
        f"""
        WITH {CALLS_CTE},
        positive AS (
            SELECT provider, effective_ms, is_error FROM calls WHERE effective_ms > 0
            UNION ALL
            SELECT 'all', effective_ms, is_error FROM calls WHERE effective_ms > 0
        ),
        grid AS (
            SELECT * FROM (SELECT DISTINCT provider FROM positive),
                (VALUES {bins}) AS b(bin_order, label, lo_ms, hi_ms)
        ),
        counted AS (
            SELECT g.provider, g.bin_order, g.label, g.lo_ms, g.hi_ms,
                   count(p.effective_ms) AS calls,
                   count(*) FILTER (WHERE p.is_error) AS error_calls,
                   coalesce(sum(p.effective_ms), 0) AS latency_ms
            FROM grid g
            LEFT JOIN positive p
              ON p.provider = g.provider AND p.effective_ms >= g.lo_ms
             AND (g.hi_ms IS NULL OR p.effective_ms < g.hi_ms)
            GROUP BY ALL
        ),
        shared AS (
            SELECT *,
                calls / nullif(sum(calls) OVER (PARTITION BY provider), 0) AS call_share,
                latency_ms / nullif(sum(latency_ms) OVER (PARTITION BY provider), 0)
                    AS latency_share
            FROM counted
        )
        SELECT *,
            max(greatest(coalesce(call_share, 0), coalesce(latency_share, 0)))
                OVER (PARTITION BY bin_order) >= {VISIBLE_SHARE} AS shown
        FROM shared
        ORDER BY provider = 'all', provider, bin_order
        """,
    )
