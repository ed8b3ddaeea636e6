"""table_NN_<slug>: one asset per table of the paper, each a DuckDB table paper.table_NN_<slug>,
plus paper_corrections (paper definition beside the corrected one).

Thin: each asset calls `tracelab_pipeline.metrics` on the warehouse.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import TABLES
from tracelab_pipeline.metrics import build_table
from tracelab_pipeline.metrics.corrections import build as build_corrections
from tracelab_pipeline.orchestration.automation import downstream_condition

PREVIEW_ROWS = 40


def _preview(con, table: str) -> dg.MetadataValue:
    df = con.execute(f"SELECT * EXCLUDE (row_no) FROM {table} ORDER BY row_no").df()
    return dg.MetadataValue.md(df.head(PREVIEW_ROWS).to_markdown(index=False, floatfmt=".4g"))


def _paper_asset(name: str, table: str, description: str, build) -> dg.AssetsDefinition:
    """An asset that runs `build(con)` on the warehouse, writing DuckDB table `table`."""

    @dg.asset(
        name=name,
        deps=[dg.AssetKey("warehouse")],
        group_name="paper_tables",
        kinds={"duckdb"},
        pool="duckdb_writer",
        automation_condition=downstream_condition(),
        description=description,
    )
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        with duckdb.get_connection() as con:
            rows = build(con)
            preview = _preview(con, table)
        context.log.info(f"{table}: {rows} row(s)")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "table": table, "preview": preview}
        )

    return _asset


def _table_asset(item) -> dg.AssetsDefinition:
    table = f"paper.{item.table_name}"
    return _paper_asset(
        item.table_name,
        table,
        f"Table {item.number} of the paper — {item.title} — as DuckDB table {table}, laid out "
        "like the paper (Claude / Codex / Total where it splits). Definitions: docs/metrics.md.",
        lambda con: build_table(con, item),
    )


table_assets = [_table_asset(item) for item in TABLES]

paper_corrections = _paper_asset(
    "paper_corrections",
    "paper.corrections",
    "paper.corrections: where the paper's definition is weak (duplicate rows, negative "
    "fresh tokens, 5-minute pricing of every cache write, per-step vs per-call tool mean, "
    "two amplification formulas), the paper value beside the corrected one.",
    build_corrections,
)
