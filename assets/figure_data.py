"""figure_data_NN_<slug>: the data behind every paper figure, as DuckDB tables paper.figure_NN_*.

Thin: each asset calls `tracelab_pipeline.figure_data.build_figure_data` on the warehouse.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.orchestration.automation import downstream_condition

PREVIEW_ROWS = 8


def _figure_data_asset(item) -> dg.AssetsDefinition:
    table = f"paper.{item.table_name}"

    @dg.asset(
        name=f"figure_data_{item.number:02d}_{item.slug}",
        deps=[dg.AssetKey("warehouse")],
        group_name="paper_figures",
        kinds={"duckdb"},
        pool="duckdb_writer",
        automation_condition=downstream_condition(),
        description=(
            f"Data behind '{item.title}' (DuckDB table {table}), computed in SQL from the "
            "warehouse base tables steps, tool_calls and timing_events; definitions follow "
            "docs/reference/tracelab-metrics.md §3."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        from tracelab_pipeline.figure_data import build_figure_data

        with duckdb.get_connection() as con:
            rows = build_figure_data(con, item.number)
            preview = con.execute(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}").df()
        context.log.info(f"{table}: {rows} row(s)")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "table": table,
                "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
            }
        )

    return _asset


figure_data_assets = [_figure_data_asset(item) for item in FIGURES]
