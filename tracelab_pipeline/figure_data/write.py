"""Write one figure's data as `paper.figure_NN_<slug>` (replaced atomically)."""

from __future__ import annotations

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.warehouse.comments import comment_paper_item


def figure_item(number: int):
    return next(item for item in FIGURES if item.number == number)


def qualified_name(number: int) -> str:
    return f"paper.{figure_item(number).table_name}"


def write_figure_table(con, number: int, select_sql: str, params: list | None = None) -> int:
    """Replace the figure's table with the result of `select_sql`; return its row count."""
    name = qualified_name(number)
    con.execute("CREATE SCHEMA IF NOT EXISTS paper")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {select_sql}", params or [])
        comment_paper_item(con, figure_item(number))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
