"""report: every paper table (and figure) in one HTML page and a Markdown twin, with the paper's
published values beside ours when the input is the paper's corpus.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.catalog import FIGURES, TABLES
from tracelab_pipeline.orchestration.automation import report_condition
from tracelab_pipeline.orchestration.resources import TraceLabConfig

MAX_METADATA_MARKDOWN = 60_000


class ReportConfig(dg.Config):
    # "auto": compare with the paper when the corpus is paper-sized; "on" / "off" force it.
    paper_comparison: str = "auto"


@dg.asset(
    name="report",
    # The data-quality section reads the warehouse's ingest accounting directly, and counts
    # of uploads and landed files (an unreadable upload changes no partition) from landing.
    deps=[dg.AssetKey(item.table_name) for item in TABLES]
    + [dg.AssetKey("paper_corrections")]
    + [dg.AssetKey(item.table_name) for item in FIGURES]
    + [dg.AssetKey("warehouse"), dg.AssetKey("landed_files")],
    group_name="report",
    kinds={"html", "markdown"},
    # Reading opens warehouse.duckdb, which admits one process at a time.
    pool="duckdb_writer",
    automation_condition=report_condition(),
    description=(
        "<data>/report/report.html and report.md: every paper table formatted as in the paper, "
        "figures next to their tables, and (TraceLab release or `paper` preset) the paper's "
        "published value beside ours with the difference; then the data's quality: lines "
        "read, used, ignored and rejected per provider and contributor pseudonym, top "
        "rejection reasons and ignored record types, unreadable files, logs with no steps, and "
        "counts of uploads not landed and landed files in no partition."
    ),
)
def report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    duckdb: DuckDBResource,
    tracelab: TraceLabConfig,
) -> dg.MaterializeResult:
    from tracelab_pipeline.report import COMPARISON_MODES, build_report

    if config.paper_comparison not in COMPARISON_MODES:
        raise dg.Failure(f"paper_comparison must be auto, on or off, not {config.paper_comparison}")
    with duckdb.get_connection() as con:
        result = build_report(
            con,
            tracelab.data_path,
            compare=COMPARISON_MODES[config.paper_comparison],
            landed_dir=tracelab.landed_dir,
        )
    context.log.info(f"report written to {result.html_path}")
    markdown = result.markdown
    if len(markdown) > MAX_METADATA_MARKDOWN:
        markdown = markdown[:MAX_METADATA_MARKDOWN] + "\n\n… (truncated; see report.md)"
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(result.html_path)),
            "markdown_path": dg.MetadataValue.path(str(result.md_path)),
            "report": dg.MetadataValue.md(markdown),
            "compared_with_paper": result.compared,
            "figures_embedded": len(result.figures_found),
            "figures_missing": dg.MetadataValue.json(result.figures_missing),
            "tables_missing": dg.MetadataValue.json(result.tables_missing),
            **_quality_metadata(result.quality),
        }
    )


def _quality_metadata(quality) -> dict:
    """The data-quality totals, as numbers (the report has the reasons)."""
    if quality is None or not quality.available:
        return {}
    t = quality.total
    out = {
        "lines_read": t["lines_read"],
        "lines_rejected": t["rejected"],
        "files_with_rejected_lines": t["files_with_rejections"],
        "unreadable_files": t["unreadable_files"],
        "logs_without_steps": t["logs_without_steps"],
    }
    if quality.landing is not None:
        from tracelab_pipeline.landing.counts import drops_not_landed

        out["uploads_not_landed"] = drops_not_landed(quality.landing["drops"])
        out["landed_files_in_no_partition"] = quality.landing["files"]["unplaced"]
    return out
