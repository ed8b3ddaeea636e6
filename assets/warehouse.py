"""warehouse: DuckDB base tables over the public Parquet layer plus derived requests/sessions.

Thin: calls `tracelab_pipeline.warehouse.build_warehouse`. Reads only the public layer.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.orchestration.automation import downstream_condition
from tracelab_pipeline.orchestration.resources import TraceLabConfig


@dg.asset(
    name="warehouse",
    deps=[dg.AssetKey("anonymized_steps")],
    group_name="warehouse",
    kinds={"duckdb"},
    pool="duckdb_writer",
    automation_condition=downstream_condition(),
    description=(
        "<data>/warehouse.duckdb rebuilt from the public Parquet layer: base tables steps, "
        "tool_calls, timing_events (public schema), model_prices (pricing.json resolution), "
        "step_facts (per-step order, timing, cost, request), requests (TraceLab's user-turn "
        "state machine), human_waits and sessions. Definitions: docs/metrics.md."
    ),
)
def warehouse(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, tracelab: TraceLabConfig
) -> dg.MaterializeResult:
    from tracelab_pipeline.warehouse import build_warehouse

    with duckdb.get_connection() as con:
        counts = build_warehouse(con, tracelab.public_dir)
        unpriced = con.execute(
            "SELECT provider, coalesce(model, '(none)') FROM model_prices "
            "WHERE match_kind = 'unpriced' ORDER BY ALL"
        ).fetchall()
    context.log.info(f"warehouse built in {counts['seconds']} s: {counts}")
    if unpriced:
        context.log.warning(f"models without a price (no $ for their steps): {unpriced}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts["steps"],
            **{f"rows_{name}": n for name, n in counts.items() if name != "seconds"},
            "build_seconds": counts["seconds"],
            "unpriced_models": dg.MetadataValue.json([f"{p}:{m}" for p, m in unpriced]),
            "public_root": dg.MetadataValue.path(str(tracelab.public_dir)),
        }
    )
