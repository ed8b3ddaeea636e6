"""Fig 9: latency distribution of each provider's 12 most-called tools.

Candidates are display names (MCP folded, rare tools collapsed) with at least one positive
effective latency; the top TOP by calls are kept, then ordered by median latency, slowest
first. Ties keep TraceLab's insertion order, alphabetical with "Other" last (tracelab-metrics
§3 Fig 9), not first appearance. Percentiles are linear interpolation over positive latencies.
"""

from __future__ import annotations

from tracelab_pipeline.figure_data.tools import CALLS_CTE, OTHER
from tracelab_pipeline.figure_data.write import write_figure_table

TOP = 12


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        9,
        f"""
        WITH {CALLS_CTE},
        per_tool AS (
            SELECT provider, display_name AS tool_name, count(*) AS calls,
                   count(*) FILTER (WHERE effective_ms > 0) AS latency_count,
                   quantile_cont(effective_ms, [0.05, 0.25, 0.5, 0.75, 0.95])
                       FILTER (WHERE effective_ms > 0) AS q,
                   avg(effective_ms) FILTER (WHERE effective_ms > 0) AS mean_ms
            FROM calls GROUP BY provider, display_name
        ),
        top AS (
            SELECT * FROM per_tool WHERE latency_count > 0
            QUALIFY row_number() OVER (
                PARTITION BY provider ORDER BY calls DESC, tool_name = '{OTHER}', tool_name
            ) <= {TOP}
        )
        SELECT provider,
            row_number() OVER (
                PARTITION BY provider
                ORDER BY q[3] DESC, calls DESC, tool_name = '{OTHER}', tool_name
            ) AS position,
            tool_name, calls, latency_count,
            q[1] AS p5_ms, q[2] AS p25_ms, q[3] AS p50_ms, q[4] AS p75_ms, q[5] AS p95_ms,
            mean_ms
        FROM top
        ORDER BY provider, position
        """,
    )
