"""Table 4 — compaction detection.

tracelab-metrics §2 Table 4. Per session in O1 order, total = prefix + append, trigger =
`first_input_event_type` (T-column). For a row i >= 1 with a user/tool trigger: (1) major
reduction total[i-1] - total[i] >= 64,000; (2) near peak total[i-1] >= 0.75 * session max (over
all rows); (3) slow recovery: at least one row follows and none of total[i+1..i+3] reaches
0.75 * total[i-1]. Compaction = (1) and (2) and (3), attributed to row i's trigger.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import PROVIDER_COLUMNS, SCOPE_FILTERS, write_paper_table

NAME = "table_04_compaction"
COLUMNS = PROVIDER_COLUMNS + [
    ("claude_pct", "DOUBLE"),
    ("codex_pct", "DOUBLE"),
    ("total_pct", "DOUBLE"),
]
MIN_DROP = 64_000
NEAR_MAX = 0.75
REBOUND = 0.75

EVENTS = f"""
CREATE OR REPLACE TEMP TABLE _compaction_events AS
WITH s AS (
    SELECT session_no, provider, step_pk, total, t_col,
        lag(total) OVER w AS prev,
        lead(total, 1) OVER w AS n1, lead(total, 2) OVER w AS n2, lead(total, 3) OVER w AS n3,
        max(total) OVER (PARTITION BY session_no) AS session_max
    FROM step_facts
    WINDOW w AS (PARTITION BY session_no ORDER BY step_pk)
)
SELECT session_no, provider, step_pk, t_col,
    prev - total >= {MIN_DROP} AS major,
    prev - total >= {MIN_DROP}
        AND prev >= {NEAR_MAX} * session_max
        AND n1 IS NOT NULL
        AND NOT (coalesce(n1 >= {REBOUND} * prev, false)
                 OR coalesce(n2 >= {REBOUND} * prev, false)
                 OR coalesce(n3 >= {REBOUND} * prev, false)) AS compaction
FROM s
WHERE prev IS NOT NULL AND t_col IN ('user_message', 'tool_result')
"""

PER_SESSION = """
SELECT s.provider, s.session_no, count(e.step_pk) AS compactions
FROM sessions s LEFT JOIN _compaction_events e ON e.session_no = s.session_no AND e.compaction
GROUP BY s.provider, s.session_no
"""


def build(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(EVENTS)
    out: dict[str, dict] = {}
    for label, where in SCOPE_FILTERS:
        sessions, with_one, avg_all, avg_one, p90, p99 = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE compactions >= 1), avg(compactions),
                avg(compactions) FILTER (WHERE compactions >= 1),
                quantile_cont(compactions, 0.9) FILTER (WHERE compactions >= 1),
                quantile_cont(compactions, 0.99) FILTER (WHERE compactions >= 1)
            FROM ({PER_SESSION}) WHERE {where}"""
        ).fetchone()
        major, comp, user, tool = con.execute(
            f"""SELECT count(*) FILTER (WHERE major), count(*) FILTER (WHERE compaction),
                count(*) FILTER (WHERE compaction AND t_col = 'user_message'),
                count(*) FILTER (WHERE compaction AND t_col = 'tool_result')
            FROM _compaction_events WHERE {where}"""
        ).fetchone()
        out[label.lower()] = dict(
            sessions=sessions,
            with_one=with_one,
            avg_all=avg_all,
            avg_one=avg_one,
            p90=p90,
            p99=p99,
            major=major,
            comp=comp,
            user=user,
            tool=tool,
        )
    con.execute("DROP TABLE _compaction_events")

    def row(block, metric, field, unit, pct_of=None):
        r = {"block": block, "metric": metric, "unit": unit}
        for k, v in out.items():
            r[k] = v[field]
            if pct_of:
                r[f"{k}_pct"] = v[field] / v[pct_of] if v[pct_of] else None
        return r

    rows = [
        row("", "Sessions", "sessions", "count"),
        row("", "Major reductions (64k drop)", "major", "count"),
        row("", "of which compactions", "comp", "count", pct_of="major"),
        row("", "Sessions with ≥1 compaction", "with_one", "count", pct_of="sessions"),
        row("Compactions per session", "Avg (all sessions)", "avg_all", "avg3"),
        row("Compactions per session", "Avg (sessions with ≥1)", "avg_one", "avg2"),
        row("Compactions per session", "P90 (sessions with ≥1)", "p90", "int"),
        row("Compactions per session", "P99 (sessions with ≥1)", "p99", "int"),
        row("Trigger", "User-initiated", "user", "count", pct_of="comp"),
        row("Trigger", "Tool-initiated", "tool", "count", pct_of="comp"),
    ]
    # the trigger split is a share of user + tool compactions (all of them, by construction)
    return write_paper_table(con, NAME, COLUMNS, rows)
