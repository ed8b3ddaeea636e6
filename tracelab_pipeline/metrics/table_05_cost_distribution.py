"""Table 5 — cost per session, request and step, split into append / prefix / output.

tracelab-metrics §2 Table 5 and §0.7. Step units: priced steps. Session units: sessions with at
least one priced step. Request units: every kept turn, summing its priced steps (a turn of only
unpriced steps is a $0 unit). "% cost" = category / total over priced steps, the same for all
three blocks. Append cost includes cache writes.

Paper-compatible table prices every cache write at the 5-minute rate; the corrected table
`table_05_cost_distribution_ttl` prices 1-hour writes at 2x input (architecture §9).
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

NAME = "table_05_cost_distribution"
TTL_NAME = "table_05_cost_distribution_ttl"
COLUMNS = STAT_COLUMNS + [("pct_cost", "DOUBLE"), ("scope", "VARCHAR")]

UNITS = (
    ("Per session", "SELECT * FROM sessions WHERE priced_steps > 0"),
    ("Per request", "SELECT * FROM requests WHERE kept"),
    ("Per step", "SELECT * FROM step_facts WHERE priced"),
)


def _rows(con: duckdb.DuckDBPyConnection, ttl: bool) -> list[dict]:
    append = "cost_append_ttl" if ttl else "cost_append"
    total = "cost_total_ttl" if ttl else "cost_total"
    categories = (
        ("Total", total),
        ("Append tokens", append),
        ("Prefix tokens", "cost_prefix"),
        ("Output tokens", "cost_output"),
    )
    rows = []
    for scope, where in TOTAL_FIRST:
        sums = con.execute(
            f"SELECT sum({total}), sum({append}), sum(cost_prefix), sum(cost_output) "
            f"FROM step_facts WHERE priced AND {where}"
        ).fetchone()
        share = {"Append tokens": sums[1], "Prefix tokens": sums[2], "Output tokens": sums[3]}
        for block, source in UNITS:
            for metric, column in categories:
                s = stats(con, f"SELECT {column} AS x FROM ({source}) WHERE {where}")
                pct = share[metric] / sums[0] if metric in share and sums[0] else None
                rows.append(stat_row(block, metric, s, "usd", pct_cost=pct, scope=scope))
    return rows


def build(con: duckdb.DuckDBPyConnection) -> int:
    n = write_paper_table(con, NAME, COLUMNS, _rows(con, ttl=False))
    write_paper_table(con, TTL_NAME, COLUMNS, _rows(con, ttl=True))
    return n
