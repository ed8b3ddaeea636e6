"""Table 12 — fresh tokens and prefill amplification.

tracelab-metrics §2 Table 12 and §5.1. Same pairing as Table 3 (predecessor in O1, first timing
event user message / tool result). Per step: growth = max(0, total - prev total), prior output
= predecessor's output tokens. Paper: fresh = sum growth - sum prior output (NOT clipped per
step, so it can be negative), amplification = sum append / fresh.

Corrected rows beside it: fresh clipped per step to [0, append] (Fig 12's estimator) and the
amplification from it; the count of steps whose unclipped fresh is negative; and, in the Overall
block, the intro's other "amplification" (3.8x: append over ALL steps / growth over paired steps).
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import PROVIDER_COLUMNS, ratio, write_paper_table

NAME = "table_12_fresh_tokens_amplification"

EVENTS = """
SELECT provider, t_first, append,
    greatest(total - prev_total, 0) AS growth,
    prev_output AS prior_output,
    greatest(total - prev_total, 0) - prev_output AS fresh_step
FROM step_facts
WHERE prev_total IS NOT NULL AND t_first IN ('user_message', 'tool_result')
"""

AGG = f"""
SELECT coalesce(provider, 'total') AS scope, coalesce(t_first, 'all') AS trig,
    count(*) AS events, sum(append) AS append, sum(growth) AS growth,
    sum(prior_output) AS prior_output,
    count(*) FILTER (WHERE fresh_step < 0) AS negative_steps,
    sum(least(greatest(fresh_step, 0), append)) AS fresh_clipped
FROM ({EVENTS})
GROUP BY GROUPING SETS ((provider, t_first), (provider), (t_first), ())
"""

BLOCKS = (("Overall", "all"), ("User-initiated", "user_message"), ("Tool-result", "tool_result"))


def build(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.execute(AGG)
    cols = [d[0] for d in cur.description]
    found = {(r[0], r[1]): dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    all_append = dict(
        con.execute(
            "SELECT coalesce(provider, 'total'), sum(append) FROM step_facts "
            "GROUP BY GROUPING SETS ((provider), ())"
        ).fetchall()
    )
    scopes = ("claude", "codex", "total")
    rows = []
    for block, trig in BLOCKS:
        # a scope without paired steps (e.g. no Codex data) has no values at all
        rec = {s: r if (r := found.get((s, trig))) and r["events"] else None for s in scopes}

        def val(fn, rec=rec):
            return {s: (fn(rec[s], s) if rec[s] else None) for s in scopes}

        def fresh(r):
            return r["growth"] - r["prior_output"]

        def add(metric, fn, unit, block=block):
            rows.append({"block": block, "metric": metric, **val(fn), "unit": unit})

        add("Total append tokens", lambda r, s: r["append"], "tokens_m")
        add("Total fresh tokens", lambda r, s: fresh(r), "tokens_m")
        add("Fresh % of append", lambda r, s: ratio(fresh(r), r["append"]), "pct1")
        add("Prefill amplification", lambda r, s: ratio(r["append"], fresh(r)), "ratio1")
        add("Steps (paired events)", lambda r, s: r["events"], "count")
        add("Context growth", lambda r, s: r["growth"], "count")
        add("Prior output", lambda r, s: r["prior_output"], "count")
        add("Corrected: steps with negative fresh", lambda r, s: r["negative_steps"], "count")
        add(
            "Corrected: fresh tokens (clipped per step)",
            lambda r, s: r["fresh_clipped"],
            "tokens_m",
        )
        add(
            "Corrected: prefill amplification (clipped fresh)",
            lambda r, s: ratio(r["append"], r["fresh_clipped"]),
            "ratio1",
        )
        if trig == "all":
            add(
                "Growth-based amplification (intro: all-step append / growth)",
                lambda r, s: ratio(all_append.get(s), r["growth"]),
                "ratio1",
            )
    return write_paper_table(con, NAME, PROVIDER_COLUMNS, rows)
