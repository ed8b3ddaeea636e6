"""The DuckDB warehouse: public base tables plus the derived tables every metric reads.

Tables (schema `main`):
  steps, tool_calls, timing_events  the public Parquet, columns = schema.public_schema(name)
  ingest_accounting, rejected_records  the same, for the data-quality section of the report
  model_prices                      each distinct (provider, model) resolved against pricing.json
  step_facts                        one row per step: O1 order, event/tool aggregates, costs, turn
  requests                          user turns (TraceLab's request state machine); `kept` flag
  human_waits                       every positive human input wait
  sessions                          one row per (contributor, provider, session_id)
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from tracelab_pipeline.metrics.pricing import create_price_table
from tracelab_pipeline.warehouse.comments import comment_derived_tables
from tracelab_pipeline.warehouse.derived import build_derived
from tracelab_pipeline.warehouse.load import ACCOUNTING_TABLES, BASE_TABLES, load_base_table

DERIVED_TABLES = ("model_prices", "step_facts", "requests", "human_waits", "sessions")


def configure(con: duckdb.DuckDBPyConnection) -> None:
    # Month boundaries and displayed times are UTC, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")


def build_warehouse(con: duckdb.DuckDBPyConnection, public_root: str | Path) -> dict[str, int]:
    """(Re)build every warehouse table from the public layer; returns row counts and seconds."""
    configure(con)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    for table in BASE_TABLES + ACCOUNTING_TABLES:
        counts[table] = load_base_table(con, public_root, table)
    create_price_table(con)
    build_derived(con)
    comment_derived_tables(con)
    for table in DERIVED_TABLES:
        counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    counts["seconds"] = round(time.perf_counter() - started, 3)
    return counts


__all__ = ["ACCOUNTING_TABLES", "BASE_TABLES", "DERIVED_TABLES", "build_warehouse", "configure"]
