"""One builder per paper table: each reads the warehouse and writes `paper.table_NN_<slug>`.

Definitions: docs/metrics.md (our catalogue) and ../shared/docs/reference/tracelab-metrics.md
(TraceLab).
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType

import duckdb

from tracelab_pipeline import catalog


def table_module(item: catalog.Item) -> ModuleType:
    return importlib.import_module(f"{__name__}.{item.table_name}")


def build_table(con: duckdb.DuckDBPyConnection, item: catalog.Item) -> int:
    """Write `paper.<item.table_name>` (and its corrected companions); returns its row count."""
    con.execute("SET TimeZone = 'UTC'")
    return table_module(item).build(con)


def build_all_tables(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Every paper table plus the corrections summary; returns seconds per table."""
    from tracelab_pipeline.metrics.corrections import build as build_corrections

    timings: dict[str, float] = {}
    for item in catalog.TABLES:
        started = time.perf_counter()
        build_table(con, item)
        timings[item.table_name] = time.perf_counter() - started
    started = time.perf_counter()
    build_corrections(con)
    timings["corrections"] = time.perf_counter() - started
    return timings
