"""figure_data_NN_<slug>: the data behind every paper figure, as DuckDB tables paper.figure_NN_*.

One asset key per figure, computed by one subsettable multi-asset so that the per-step facts
several figures share (event aggregates, session order, idle gaps) are built once per run.
Thin: the SQL lives in `tracelab_pipeline.figure_data`.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.orchestration.automation import downstream_condition

PREVIEW_ROWS = 8


def data_key(item) -> dg.AssetKey:
    return dg.AssetKey(f"figure_data_{item.number:02d}_{item.slug}")


@dg.multi_asset(
    name="figure_data",
    specs=[
        dg.AssetSpec(
            key=data_key(item),
            deps=[dg.AssetKey("warehouse")],
            group_name="paper_figures",
            kinds={"duckdb"},
            automation_condition=downstream_condition(),
            skippable=True,
            description=(
                f"Data behind '{item.title}' (DuckDB table paper.{item.table_name}), computed "
                "in SQL from the warehouse base tables steps, tool_calls and timing_events; "
                "definitions in docs/figures.md."
            ),
        )
        for item in FIGURES
    ],
    can_subset=True,
    pool="duckdb_writer",
)
def figure_data(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    from tracelab_pipeline.figure_data import build_selected

    chosen = [item for item in FIGURES if data_key(item) in context.selected_asset_keys]
    with duckdb.get_connection() as con:
        counts = build_selected(con, [item.number for item in chosen])
        for item in chosen:
            table = f"paper.{item.table_name}"
            preview = con.execute(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}").df()
            context.log.info(f"{table}: {counts[item.number]} row(s)")
            yield dg.MaterializeResult(
                asset_key=data_key(item),
                metadata={
                    "dagster/row_count": counts[item.number],
                    "table": table,
                    "preview": dg.MetadataValue.md(preview.to_markdown(index=False)),
                },
            )
