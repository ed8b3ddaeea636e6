"""Table 9 — append tokens per step by prefix-length bin.

tracelab-metrics §2 Table 9: half-open bins on prefix tokens in 1024-token units,
[0,1k), [1k,2k), [2k,4k), ... [128k,256k), [256k, inf); stats of append tokens per bin.
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

NAME = "table_09_append_by_prefix_bin"
K = 1024
EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)  # in K
COLUMNS = STAT_COLUMNS + [("lo_tokens", "BIGINT"), ("hi_tokens", "BIGINT")]


def bin_label(i: int) -> str:
    lo = EDGES[i]
    if i == 0:
        return "<1k"
    if i == len(EDGES) - 1:
        return f">{lo}k"
    return f"{lo}–{EDGES[i + 1]}k"


def build(con: duckdb.DuckDBPyConnection) -> int:
    rows = []
    for block, where in SCOPE_FILTERS:
        for i, lo in enumerate(EDGES):
            hi = EDGES[i + 1] * K if i + 1 < len(EDGES) else None
            cond = f"prefix >= {lo * K}" + (f" AND prefix < {hi}" if hi is not None else "")
            s = stats(con, f"SELECT append AS x FROM step_facts WHERE {cond} AND {where}")
            rows.append(
                stat_row(block, bin_label(i), s, "tokens_k", lo_tokens=lo * K, hi_tokens=hi)
            )
    return write_paper_table(con, NAME, COLUMNS, rows)
