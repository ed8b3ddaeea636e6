"""figure_NN_<slug>: every paper figure as PNG/SVG (+ plotted data as CSV) in <data>/figures/.

Each asset reads ONLY its paper.figure_NN_* table, renders with matplotlib (imported inside the
body) and shows a small embedded PNG and a one-line caption in its materialization metadata.
"""

import base64

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.orchestration.automation import downstream_condition
from tracelab_pipeline.orchestration.resources import TraceLabConfig


def _figure_asset(item) -> dg.AssetsDefinition:
    @dg.asset(
        name=item.table_name,
        deps=[dg.AssetKey(f"figure_data_{item.number:02d}_{item.slug}")],
        group_name="figures",
        kinds={"matplotlib", "png"},
        # Reading also opens warehouse.duckdb, which admits one process at a time.
        pool="duckdb_writer",
        automation_condition=downstream_condition(),
        description=(
            f"'{item.title}' rendered from paper.{item.table_name} to "
            f"<data>/figures/{item.table_name}.png/.svg, with the plotted data as .csv."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource, tracelab: TraceLabConfig):
        from tracelab_pipeline.figures import load_figure_data, render_figure

        with duckdb.get_connection() as con:
            df = load_figure_data(con, item.number)
        rendered = render_figure(item.number, df, tracelab.figures_dir)
        b64 = base64.b64encode(rendered.thumbnail_png).decode("ascii")
        status = "" if rendered.enough_data else " (not enough data)"
        context.log.info(f"{rendered.png}{status}")
        return dg.MaterializeResult(
            metadata={
                "figure": dg.MetadataValue.md(
                    f"![{item.title}](data:image/png;base64,{b64})\n\n{rendered.caption}"
                ),
                "caption": dg.MetadataValue.text(rendered.caption),
                "enough_data": rendered.enough_data,
                "dagster/row_count": rendered.rows,
                "png": dg.MetadataValue.path(str(rendered.png)),
                "svg": dg.MetadataValue.path(str(rendered.svg)),
                "csv": dg.MetadataValue.path(str(rendered.csv)),
                "thumbnail_bytes": len(rendered.thumbnail_png),
            }
        )

    return _asset


figure_assets = [_figure_asset(item) for item in FIGURES]
