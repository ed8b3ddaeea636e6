"""Helpers shared by the table builders: distribution statistics in SQL, writing paper.* tables.

Every percentile is DuckDB `quantile_cont` = linear interpolation at (n-1)q, like NumPy's
default `np.percentile` that TraceLab uses (tracelab-metrics §0.6). Empty inputs give NULL.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from tracelab_pipeline.warehouse.comments import comment_paper_table

PAPER_SCHEMA = "paper"
QUANTILES = (0.25, 0.5, 0.9, 0.99)
SCOPES = (("Claude", "claude"), ("Codex", "codex"), ("Total", None))


def scope_filter(provider: str | None, column: str = "provider") -> str:
    return "TRUE" if provider is None else f"{column} = '{provider}'"


# (label, SQL filter on `provider`) per scope; Tables 2, 5 and 7 print the Total block first.
SCOPE_FILTERS = tuple((label, scope_filter(provider)) for label, provider in SCOPES)
TOTAL_FIRST = (SCOPE_FILTERS[-1], *SCOPE_FILTERS[:-1])


def stats(con: duckdb.DuckDBPyConnection, values_sql: str, column: str = "x") -> dict:
    """avg, p25, p50, p90, p99, n and sum of `column` over the rows of `values_sql`."""
    q = ", ".join(str(v) for v in QUANTILES)
    n, avg, quantiles, total = con.execute(
        f"SELECT count({column}), avg({column}), quantile_cont({column}, [{q}]), "
        f"sum({column}) FROM ({values_sql}) WHERE {column} IS NOT NULL"
    ).fetchone()
    quantiles = quantiles or [None] * len(QUANTILES)
    return {
        "n": n,
        "avg": avg,
        "p25": quantiles[0],
        "p50": quantiles[1],
        "p90": quantiles[2],
        "p99": quantiles[3],
        "sum": float(total) if total is not None else None,
    }


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den in (None, 0):
        return None
    return num / den


_ARROW = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64()}


def write_paper_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: list[tuple[str, str]],
    rows: list[dict],
    note: str = "",
) -> int:
    """Replace `paper.<name>` with `rows`; `columns` = [(name, 'VARCHAR'|'DOUBLE'|'BIGINT')];
    `note` follows the paper's title in its comment.

    Rows keep their order through a leading `row_no` column, so the table reads like the paper.
    """
    schema = pa.schema(
        [("row_no", pa.int64())] + [(c, _ARROW[t]) for c, t in columns], metadata=None
    )
    data = [{"row_no": i + 1, **{c: r.get(c) for c, _ in columns}} for i, r in enumerate(rows)]
    for row in data:
        for c, t in columns:
            if t == "DOUBLE" and row[c] is not None:
                row[c] = float(row[c])
    table = pa.Table.from_pylist(data, schema=schema)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {PAPER_SCHEMA}")
    view = f"_paper_{name}_arrow"
    con.register(view, table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {PAPER_SCHEMA}.{name} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
    comment_paper_table(con, name, note)  # CREATE OR REPLACE dropped the comments
    return len(rows)


STAT_COLUMNS = [
    ("block", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("avg", "DOUBLE"),
    ("p25", "DOUBLE"),
    ("p50", "DOUBLE"),
    ("p90", "DOUBLE"),
    ("p99", "DOUBLE"),
    ("n", "BIGINT"),
    ("total", "DOUBLE"),
    ("unit", "VARCHAR"),
]


def stat_row(block: str, metric: str, s: dict, unit: str, **extra) -> dict:
    return {
        "block": block,
        "metric": metric,
        "avg": s["avg"],
        "p25": s["p25"],
        "p50": s["p50"],
        "p90": s["p90"],
        "p99": s["p99"],
        "n": s["n"],
        "total": s["sum"],
        "unit": unit,
        **extra,
    }


PROVIDER_COLUMNS = [
    ("block", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("claude", "DOUBLE"),
    ("codex", "DOUBLE"),
    ("total", "DOUBLE"),
    ("unit", "VARCHAR"),
]
