"""Table 8 — prefix, append and output tokens per step, per provider.

tracelab-metrics §2 Table 8: every step, each column independently, values >= 0.
The Total rows are the merged distribution (the paper quotes merged medians in its text).
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import (
    SCOPE_FILTERS,
    STAT_COLUMNS,
    stat_row,
    stats,
    write_paper_table,
)

NAME = "table_08_token_lengths"

BLOCKS = (("Prefix tokens", "prefix"), ("Append tokens", "append"), ("Output tokens", "output"))


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows = []
    for block, column in BLOCKS:
        for label, where in SCOPE_FILTERS:
            s = stats(con, f"SELECT {column} AS x FROM step_facts WHERE {column} >= 0 AND {where}")
            rows.append(stat_row(block, label, s, "tokens"))
    return write_paper_table(con, NAME, STAT_COLUMNS, rows)
