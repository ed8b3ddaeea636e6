"""The data behind every paper figure, computed in DuckDB from the warehouse base tables.

Each module builds one table `paper.figure_NN_<slug>` (names from `catalog.FIGURES`) from
`steps`, `tool_calls` and `timing_events` only. Definitions follow
../shared/docs/reference/tracelab-metrics.md §0 and §3; every module's docstring states its own.
"""

from __future__ import annotations

import importlib

from tracelab_pipeline.catalog import FIGURES
from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import figure_item, qualified_name

# One module per figure, named after its slug, each with `build(con, *, prepared=False)`.
BUILDERS = {
    item.number: importlib.import_module(f"{__name__}.{item.slug}").build for item in FIGURES
}


# Figures whose data needs the shared step facts (and which of them need the idle gaps).
NEEDS_PREP = {3, 6, 10, 11, 12, 13}
NEEDS_GAPS = {10, 11, 12}


def build_figure_data(con, number: int) -> int:
    """Compute one figure's table; return its row count."""
    return BUILDERS[number](con)


def build_selected(con, numbers) -> dict[int, int]:
    """Compute the given figures' tables on one connection, preparing shared facts once."""
    numbers = sorted(numbers)
    if NEEDS_PREP & set(numbers):
        prep.prepare(con, gaps=bool(NEEDS_GAPS & set(numbers)))
    return {n: BUILDERS[n](con, prepared=True) for n in numbers}


def build_all(con) -> dict[int, int]:
    """Compute every figure's table on one connection (shared step facts built once)."""
    return build_selected(con, BUILDERS)


__all__ = [
    "BUILDERS",
    "build_all",
    "build_figure_data",
    "build_selected",
    "figure_item",
    "qualified_name",
]
