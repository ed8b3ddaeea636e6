"""Fig 7: tool popularity — calls per tool and provider, ranked (ties: first appearance)."""

from __future__ import annotations

from tracelab_pipeline.figure_data.tools import CALLS_CTE
from tracelab_pipeline.figure_data.write import write_figure_table


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        7,
        f"""
        WITH {CALLS_CTE},
        per_tool AS (
            SELECT provider, display_name AS tool_name, count(*) AS calls,
                   count(*) FILTER (WHERE is_error) AS error_calls, min(ordinal) AS first_seen
            FROM calls GROUP BY provider, display_name
        ),
        per_provider AS (
            SELECT provider, count(*) AS provider_calls,
                   count(DISTINCT tool_name) AS distinct_tools
            FROM calls GROUP BY provider
        ),
        -- the paper's "top 3" share counts RAW tool names (paper_macros), not the folded
        -- display names: MCP tools together or "Other" are never one of the three
        top3 AS (
            SELECT provider, sum(n) AS top3_calls FROM (
                SELECT provider, tool_name, count(*) AS n FROM calls GROUP BY provider, tool_name
                QUALIFY row_number() OVER (PARTITION BY provider ORDER BY n DESC, tool_name) <= 3
            ) GROUP BY provider
        )
        SELECT t.provider,
            row_number() OVER (
                PARTITION BY t.provider
                -- "Other (<20 calls/tool)" ranks by its calls like any tool (TraceLab Fig 7)
                ORDER BY t.calls DESC, t.first_seen
            ) AS rank,
            t.tool_name, t.calls, t.error_calls,
            t.calls / p.provider_calls AS share,
            p.provider_calls, p.distinct_tools, x.top3_calls / p.provider_calls AS top3_share
        FROM per_tool t JOIN per_provider p USING (provider) JOIN top3 x USING (provider)
        ORDER BY provider, rank
        """,
    )
