"""Table 3 — context growth and reduction between consecutive steps of a session.

tracelab-metrics §2 Table 3 and §0.8. A step is an event iff it has a predecessor in its session
(O1 order; every row counts as predecessor) and its FIRST timing event is a user message or a
tool result (T-first-event). raw delta = total input(cur) - total input(prev); reductions
r = -delta: micro r <= 1,024, major r >= 64,000 (decimal), ordinary in between.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import PROVIDER_COLUMNS, write_paper_table

NAME = "table_03_context_growth"
MICRO_MAX = 1_024
MAJOR_MIN = 64_000

EVENTS = """
SELECT provider, t_first,
    total - prev_total AS delta
FROM step_facts
WHERE prev_total IS NOT NULL AND t_first IN ('user_message', 'tool_result')
"""

AGG = f"""
SELECT coalesce(provider, 'total') AS scope, coalesce(t_first, 'all') AS trig,
    count(*) AS steps,
    count(*) FILTER (WHERE delta > 0) AS positive,
    count(*) FILTER (WHERE delta = 0) AS zero,
    count(*) FILTER (WHERE delta < 0) AS negative,
    count(*) FILTER (WHERE delta < 0 AND -delta <= {MICRO_MAX}) AS micro,
    count(*) FILTER (WHERE delta < 0 AND -delta > {MICRO_MAX} AND -delta < {MAJOR_MIN}) AS ordinary,
    count(*) FILTER (WHERE delta < 0 AND -delta >= {MAJOR_MIN}) AS major,
    sum(delta) FILTER (WHERE delta > 0) AS growth
FROM ({EVENTS})
GROUP BY GROUPING SETS ((provider, t_first), (provider), (t_first), ())
"""

BLOCKS = (
    ("All steps", "all"),
    ("User-initiated steps", "user_message"),
    ("Tool-initiated steps", "tool_result"),
)


def build(con: duckdb.DuckDBPyConnection) -> int:
    cols = [d[0] for d in con.execute(AGG).description]
    found = {(r[0], r[1]): dict(zip(cols, r, strict=True)) for r in con.execute(AGG).fetchall()}
    empty = dict.fromkeys(cols, 0)

    def cell(scope, trig, fn):
        rec = found.get((scope, trig), empty)
        return fn(rec)

    def pct(field):
        return lambda r: r[field] / r["steps"] if r["steps"] else None

    metrics = (
        ("Steps", lambda r: r["steps"], "count"),
        ("Positive (growth) %", pct("positive"), "pct2"),
        ("Negative (reduction) %", pct("negative"), "pct2"),
        ("Micro %", pct("micro"), "pct2"),
        ("Ordinary %", pct("ordinary"), "pct2"),
        ("Major reduction %", pct("major"), "pct2"),
        (
            "Avg positive growth",
            lambda r: r["growth"] / r["positive"] if r["positive"] else None,
            "count",
        ),
        ("Zero change %", pct("zero"), "pct2"),
        ("Total context increase", lambda r: r["growth"] or 0, "count"),
        ("Micro reductions", lambda r: r["micro"], "count"),
        ("Major reductions", lambda r: r["major"], "count"),
    )
    rows = []
    for block, trig in BLOCKS:
        for metric, fn, unit in metrics:
            rows.append(
                {
                    "block": block,
                    "metric": metric,
                    "unit": unit,
                    **{k: cell(k, trig, fn) for k in ("claude", "codex", "total")},
                }
            )
    return write_paper_table(con, NAME, PROVIDER_COLUMNS, rows)
