"""Table 7 — timing distribution per session, session with human waits capped at 1 h, request,
step, and individual latency.

tracelab-metrics §2 Table 7 and §0.5. Generation = observable generation span (0 when absent);
tool = sum of positive effective latencies (runner-reported, else wall) of a step's calls;
human = positive waits before user messages, carried across a session's steps. Session wall
clock = last - first timing event (tool timestamps excluded); sessions with wall <= 0 dropped.
The capped block's total is human_capped + gen + tool, not wall clock.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import (
    STAT_COLUMNS,
    TOTAL_FIRST,
    ratio,
    stat_row,
    stats,
    write_paper_table,
)

NAME = "table_07_timing"
COLUMNS = STAT_COLUMNS + [("share", "DOUBLE"), ("scope", "VARCHAR")]

# every positive effective latency (runner-reported, else wall), in seconds, with its provider
TOOL_LATENCY = """
SELECT f.provider, coalesce(t.internal_latency_ms, t.wall_latency_ms) / 1000.0 AS x
FROM tool_calls t JOIN step_facts f USING (contributor, step_id)
WHERE coalesce(t.internal_latency_ms, t.wall_latency_ms) > 0
"""


# (metric, column, whether it gets a share of the block total) per block of rows.
SESSION = (
    ("Total elapsed", "wall_s", False),
    ("Human thinking", "human_s", True),
    ("LLM generation", "gen_s", True),
    ("Tool execution", "tool_s", True),
)
SESSION_CAPPED = (
    ("Total", "capped_total", False),
    ("Human thinking", "human_capped_s", True),
    ("LLM generation", "gen_s", True),
    ("Tool execution", "tool_s", True),
)
REQUEST = (
    ("Total (response time)", "e2e_s", False),
    ("LLM generation", "gen_s", True),
    ("Tool execution", "tool_s", True),
)
STEP = (
    ("LLM generation", "g", True),
    ("Tool execution", "tool_s", True),
)


def _block(con, block, source, metrics, share_den):
    out = []
    results = [(m, stats(con, f"SELECT {expr} AS x FROM ({source})")) for m, expr, _ in metrics]
    den = con.execute(f"SELECT sum({share_den}) FROM ({source})").fetchone()[0]
    for (metric, s), (_, _, shared) in zip(results, metrics, strict=True):
        share = ratio(s["sum"], den) if shared else None
        out.append(stat_row(block, metric, s, "duration", share=share))
    return out


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows = []
    for scope, where in TOTAL_FIRST:
        sessions = f"SELECT * FROM sessions WHERE wall_s > 0 AND {where}"
        capped = f"SELECT *, human_capped_s + gen_s + tool_s AS capped_total FROM ({sessions})"
        requests = f"SELECT * FROM requests WHERE kept AND {where}"
        steps = f"SELECT coalesce(gen_s, 0) AS g, tool_s FROM step_facts WHERE {where}"
        blocks = (
            ("Per session", sessions, SESSION, "wall_s"),
            ("Per session, human capped (1h)", capped, SESSION_CAPPED, "capped_total"),
            ("Per request", requests, REQUEST, "e2e_s"),
            ("Per step", steps, STEP, "g + tool_s"),
        )
        block_rows = []
        for block, source, metrics, share_den in blocks:
            block_rows += _block(con, block, source, metrics, share_den)
        individual = [
            ("Human thinking", f"SELECT wait_s AS x FROM human_waits WHERE {where}"),
            ("LLM generation", f"SELECT gen_s AS x FROM step_facts WHERE gen_s > 0 AND {where}"),
            ("Tool execution", f"SELECT x FROM ({TOOL_LATENCY}) WHERE {where}"),
        ]
        for metric, source in individual:
            block_rows.append(
                stat_row("Per individual latency", metric, stats(con, source), "duration")
            )
        for r in block_rows:
            r["scope"] = scope
        rows += block_rows
    return write_paper_table(con, NAME, COLUMNS, rows)
