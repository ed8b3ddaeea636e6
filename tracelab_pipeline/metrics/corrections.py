"""`paper.corrections`: every place where the paper's definition is weak, its value beside ours.

One row per (table, metric, scope): `paper_value` follows the paper/TraceLab definition (what the
paper tables hold), `corrected_value` the corrected definition named in `correction`
(tracelab-metrics §5-§6, architecture §9).
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import SCOPE_FILTERS, ratio, write_paper_table
from tracelab_pipeline.metrics.table_07_timing import TOOL_LATENCY

NAME = "corrections"
COLUMNS = [
    ("table_name", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("scope", "VARCHAR"),
    ("paper_value", "DOUBLE"),
    ("corrected_value", "DOUBLE"),
    ("unit", "VARCHAR"),
    ("correction", "VARCHAR"),
]


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows: list[dict] = []

    def add(table, metric, scope, paper, corrected, unit, correction):
        rows.append(
            dict(
                table_name=table,
                metric=metric,
                scope=scope,
                paper_value=paper,
                corrected_value=corrected,
                unit=unit,
                correction=correction,
            )
        )

    dedup = "duplicate rows removed (same contributor, provider and round id; first kept)"
    ttl = "1-hour cache writes priced at 2x input instead of the 5-minute rate (1.25x)"
    for scope, where in SCOPE_FILTERS:
        r = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE NOT is_duplicate),
                sum(append), sum(append) FILTER (WHERE NOT is_duplicate),
                sum(cost_total), sum(cost_total) FILTER (WHERE NOT is_duplicate),
                sum(cost_total_ttl), sum(cost_append), sum(cost_append_ttl),
                avg(tool_s), count(*) FILTER (WHERE is_duplicate)
            FROM step_facts WHERE {where}"""
        ).fetchone()
        add("table_01_overview", "LLM steps", scope, r[0], r[1], "count", dedup)
        add("table_01_overview", "Append tokens", scope, r[2], r[3], "tokens_bm", dedup)
        add("table_01_overview", "Est. API price equiv.", scope, r[4], r[5], "usd_k", dedup)
        add("table_01_overview", "Duplicate steps", scope, 0, r[10], "count", dedup)
        add(
            "table_05_cost_distribution",
            "Total cost (priced steps)",
            scope,
            r[4],
            r[6],
            "usd_int",
            ttl,
        )
        add(
            "table_05_cost_distribution",
            "Append cost (incl. cache writes)",
            scope,
            r[7],
            r[8],
            "usd_int",
            ttl,
        )
        per_call = con.execute(f"SELECT avg(x) FROM ({TOOL_LATENCY}) WHERE {where}").fetchone()[0]
        add(
            "table_07_timing",
            "Average tool latency",
            scope,
            r[9],
            per_call,
            "duration",
            "paper text's 'average tool-call latency' is the per-STEP mean of tool time; "
            "corrected = mean over individual calls with positive latency",
        )
        f = con.execute(
            f"""SELECT sum(append), sum(greatest(total - prev_total, 0)) - sum(prev_output),
                sum(least(greatest(greatest(total - prev_total, 0) - prev_output, 0), append)),
                sum(greatest(total - prev_total, 0))
            FROM step_facts
            WHERE prev_total IS NOT NULL AND t_first IN ('user_message', 'tool_result')
              AND {where}"""
        ).fetchone()
        all_append = r[2]
        add(
            "table_12_fresh_tokens_amplification",
            "Total fresh tokens",
            scope,
            f[1],
            f[2],
            "tokens_m",
            "fresh clipped per step to [0, append] instead of summing negatives",
        )
        add(
            "table_12_fresh_tokens_amplification",
            "Prefill amplification",
            scope,
            ratio(f[0], f[1]),
            ratio(f[0], f[2]),
            "ratio1",
            "amplification from per-step clipped fresh tokens",
        )
        add(
            "table_12_fresh_tokens_amplification",
            "Prefill amplification (two formulas)",
            scope,
            ratio(f[0], f[1]),
            ratio(all_append, f[3]),
            "ratio1",
            "paper Table 12 (append / fresh) vs the intro's 3.8x (append over all steps / "
            "positive growth over paired steps)",
        )
        q = con.execute(
            f"""SELECT avg(user_steps + tool_steps), avg(steps) FROM requests
            WHERE kept AND {where}"""
        ).fetchone()
        add(
            "table_02_loop_counts",
            "Steps per request",
            scope,
            q[0],
            q[1],
            "avg1",
            "user- + tool-initiated (Table 2) vs every step of the request (intro's 8.8)",
        )
    return write_paper_table(con, NAME, COLUMNS, rows)
