"""table_NN_<slug>: one asset per table of the paper, each a DuckDB table paper.table_NN_<slug>,
plus paper_corrections (paper definition beside the corrected one).

Thin: each asset calls `tracelab_pipeline.metrics` on the warehouse.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import TABLES
from tracelab_pipeline.orchestration.automation import downstream_condition

PREVIEW_ROWS = 40


def _preview(con, table: str) -> dg.MetadataValue:
    df = con.execute(f"SELECT * EXCLUDE (row_no) FROM {table} ORDER BY row_no").df()
    return dg.MetadataValue.md(df.head(PREVIEW_ROWS).to_markdown(index=False, floatfmt=".4g"))


def _table_asset(item) -> dg.AssetsDefinition:
    table = f"paper.{item.table_name}"

    @dg.asset(
        name=item.table_name,
        deps=[dg.AssetKey("warehouse")],
        group_name="paper_tables",
        kinds={"duckdb"},
        pool="duckdb_writer",
        automation_condition=downstream_condition(),
        description=(
            f"Table {item.number} of the paper — {item.title} — as DuckDB table {table}, laid "
            "out like the paper (Claude / Codex / Total where it splits). Definitions: "
            "docs/metrics.md."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        from tracelab_pipeline.metrics import build_table

        with duckdb.get_connection() as con:
            rows = build_table(con, item)
            preview = _preview(con, table)
        context.log.info(f"{table}: {rows} row(s)")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "table": table, "preview": preview}
        )

    return _asset


table_assets = [_table_asset(item) for item in TABLES]


@dg.asset(
    name="paper_corrections",
    deps=[dg.AssetKey("warehouse")],
    group_name="paper_tables",
    kinds={"duckdb"},
    pool="duckdb_writer",
    automation_condition=downstream_condition(),
    description=(
        "paper.corrections: where the paper's definition is weak (duplicate rows, negative "
        "fresh tokens, 5-minute pricing of every cache write, per-step vs per-call tool mean, "
        "two amplification formulas), the paper value beside the corrected one."
    ),
)
def paper_corrections(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    from tracelab_pipeline.metrics.corrections import build

    with duckdb.get_connection() as con:
        rows = build(con)
        preview = _preview(con, "paper.corrections")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "table": "paper.corrections", "preview": preview}
    )
