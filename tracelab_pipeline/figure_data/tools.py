"""SQL shared by the tool figures (7, 8, 9): calls with provider, display name and latency."""

from __future__ import annotations

RARE_CALLS = 20
OTHER = "Other (<20 calls/tool)"

# One row per tool call: provider from its step; `effective_ms` = runner-reported latency if
# present, else wall latency (TraceLab's "effective tool latency"); `display_name` folds MCP tools
# into 'mcp' and tools with fewer than RARE_CALLS calls of that provider into OTHER.
CALLS_CTE = f"""
calls_raw AS (
    SELECT
        s.provider,
        coalesce(c.tool_name, '(unnamed)') AS tool_name,
        CASE WHEN starts_with(coalesce(c.tool_name, ''), 'mcp_') THEN 'mcp'
             ELSE coalesce(c.tool_name, '(unnamed)') END AS alias,
        coalesce(c.is_error, false) AS is_error,
        coalesce(c.internal_latency_ms, c.wall_latency_ms)::DOUBLE AS effective_ms,
        row_number() OVER (
            ORDER BY c.emitted_at NULLS LAST, c.contributor, c.step_id, c.tool_index
        ) AS ordinal
    FROM tool_calls c
    JOIN steps s USING (contributor, step_id)
),
calls AS (
    SELECT *,
        CASE WHEN count(*) OVER (PARTITION BY provider, alias) < {RARE_CALLS} THEN '{OTHER}'
             ELSE alias END AS display_name
    FROM calls_raw
)
"""
