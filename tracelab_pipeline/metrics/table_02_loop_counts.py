"""Table 2 — requests, user-/tool-initiated steps and tool calls per session, request and step.

tracelab-metrics §2 Table 2. Requests are the kept turns of the request state machine (§0.4);
step trigger is the `first_input_event_type` column (T-column), so rows whose first input is
neither a user message nor a tool result count in neither step row. Merged over providers, as
the paper prints it; the extra "LLM steps" row is the intro's "8.8 LLM calls per request".
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import (
    STAT_COLUMNS,
    TOTAL_FIRST,
    stat_row,
    stats,
    write_paper_table,
)

NAME = "table_02_loop_counts"
COLUMNS = STAT_COLUMNS + [("scope", "VARCHAR")]


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows = []
    for scope, where in TOTAL_FIRST:
        sessions = f"SELECT * FROM sessions WHERE {where}"
        requests = f"SELECT * FROM requests WHERE kept AND {where}"
        block_rows = [
            ("Per session", "Requests", sessions, "requests"),
            ("Per session", "User-initiated steps", sessions, "user_steps"),
            ("Per session", "Tool-initiated steps", sessions, "tool_steps"),
            ("Per session", "Tool calls", sessions, "tool_calls"),
            ("Per request", "User-initiated steps", requests, "user_steps"),
            ("Per request", "Tool-initiated steps", requests, "tool_steps"),
            ("Per request", "Tool calls", requests, "tool_calls"),
            ("Per request", "LLM steps (all rows of the request)", requests, "steps"),
            ("Per step", "Tool calls", f"SELECT * FROM step_facts WHERE {where}", "n_tool_calls"),
        ]
        for block, metric, source, column in block_rows:
            s = stats(con, f"SELECT {column} AS x FROM ({source})")
            rows.append(stat_row(block, metric, s, "count", scope=scope))
    return write_paper_table(con, NAME, COLUMNS, rows)
