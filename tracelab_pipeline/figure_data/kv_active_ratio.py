"""KV active ratio (figure 13 here; paper §7.4): share of time a session's KV is decoding.

active(T) = G / (G + sum of tool latencies <= T + sum of human waits <= T) per provider, with
G = sum of positive generation spans; values above T are excluded, not capped (this is the
repo's kv_cache_active_ratio, unlike Fig 12's min(g, T)). Tool latency = positive effective
latency of each call. Human wait (tracelab-metrics §0.5): within a session, events ordered by
step (O1: step_index, log line) then timestamp; every user_message waits from the previous
event, kept if > 0.
"""

from __future__ import annotations

import math

import numpy as np

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.tools import CALLS_CTE
from tracelab_pipeline.figure_data.write import write_figure_table

LANDMARKS = {60: "1m", 300: "5m", 600: "10m", 1800: "30m", 3600: "1h"}


def thresholds() -> list[float]:
    decades = math.log10(3600)
    grid = np.logspace(0, decades, max(64, math.ceil(decades * 64)) + 1)
    return sorted({round(float(t), 9) for t in grid} | {float(t) for t in LANDMARKS})


def build(con, *, prepared: bool = False) -> int:
    import pyarrow as pa

    if not prepared:
        prep.prepare(con)
    ts = thresholds()
    con.register(
        "fd_thresholds",
        pa.table(
            {
                "timeout_s": ts,
                "label": [LANDMARKS.get(int(t)) if t in LANDMARKS else None for t in ts],
            }
        ),
    )
    try:
        return write_figure_table(con, 13, _SQL)
    finally:
        con.unregister("fd_thresholds")


_SQL = f"""
WITH {CALLS_CTE},
tool_waits AS (
    SELECT provider, 'tool' AS source, effective_ms / 1000 AS wait_s
    FROM calls WHERE effective_ms > 0
),
events AS (
    SELECT s.provider, s.sid, s.step_index, s.source_line, s.sk, e.event_index, e.event_type, e.t
    FROM fd_ev e JOIN fd_steps s USING (sk)
    WHERE e.t IS NOT NULL
),
human_waits AS (
    -- waits are carried in the warehouse's O1 step order (step_index, source_line, step_id),
    -- as Table 7's human waits: a step_index tie is broken by the log line, not the id; sk
    -- follows step_id within a session
    SELECT provider, 'human' AS source, wait_s FROM (
        SELECT provider, event_type,
            t - lag(t) OVER (
                PARTITION BY sid ORDER BY step_index, source_line NULLS LAST, sk, t, event_index
            ) AS wait_s
        FROM events)
    WHERE event_type = 'user_message' AND wait_s > 0
),
waits AS (SELECT * FROM tool_waits UNION ALL SELECT * FROM human_waits),
counts AS (
    SELECT provider, count(*) FILTER (WHERE source = 'tool') AS tool_calls,
           count(*) FILTER (WHERE source = 'human') AS human_waits
    FROM waits GROUP BY provider
),
by_value AS (
    SELECT provider, source, wait_s, sum(wait_s) AS total FROM waits GROUP BY ALL
),
cumulative AS (
    SELECT provider, source, wait_s,
        sum(total) OVER (PARTITION BY provider, source ORDER BY wait_s ROWS UNBOUNDED PRECEDING)
            AS cum_s
    FROM by_value
),
generation AS (
    SELECT provider, sum(gen_span_s) AS generation_s FROM fd_steps
    WHERE provider IN ('claude', 'codex') GROUP BY provider
),
grid AS (
    SELECT g.provider, g.generation_s, src.source, x.timeout_s, x.label
    FROM generation g, (VALUES ('tool'), ('human')) AS src(source), fd_thresholds x
),
swept AS (
    SELECT grid.*, coalesce(c.cum_s, 0) AS waited_s
    FROM grid
    ASOF LEFT JOIN cumulative c
      ON c.provider = grid.provider AND c.source = grid.source AND grid.timeout_s >= c.wait_s
)
SELECT provider, timeout_s, any_value(label) AS label,
    coalesce(any_value(n.tool_calls), 0) AS tool_calls,
    coalesce(any_value(n.human_waits), 0) AS human_waits,
    any_value(generation_s) AS generation_s,
    sum(waited_s) FILTER (WHERE source = 'tool') AS tool_s,
    sum(waited_s) FILTER (WHERE source = 'human') AS human_s,
    any_value(generation_s) / nullif(any_value(generation_s) + sum(waited_s), 0)
        AS kv_active_ratio
FROM swept
LEFT JOIN counts n USING (provider)
GROUP BY provider, timeout_s
ORDER BY provider, timeout_s
"""
