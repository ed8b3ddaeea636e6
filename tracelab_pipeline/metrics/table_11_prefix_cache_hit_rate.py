"""Table 11 — token-weighted prefix-cache hit rate by step type.

tracelab-metrics §2 Table 11: rate = sum prefix / sum (prefix + append) over steps with
prefix + append > 0. "Overall" = every such step (session-first steps and any trigger);
user / tool rows = steps whose FIRST timing event is a user message / tool result.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import PROVIDER_COLUMNS, SCOPE_FILTERS, write_paper_table

NAME = "table_11_prefix_cache_hit_rate"

ROWS = (
    ("Prefix cache-hit rate", "TRUE"),
    ("Prefix hit rate (user-initiated)", "t_first = 'user_message'"),
    ("Prefix hit rate (tool-result)", "t_first = 'tool_result'"),
)


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows = []
    for metric, where in ROWS:
        values = {}
        for label, scope in SCOPE_FILTERS:
            values[label.lower()] = con.execute(
                f"SELECT sum(prefix) / sum(prefix + append) FROM step_facts "
                f"WHERE prefix + append > 0 AND {where} AND {scope}"
            ).fetchone()[0]
        rows.append({"block": "", "metric": metric, **values, "unit": "pct1"})
    return write_paper_table(con, NAME, PROVIDER_COLUMNS, rows)
