"""The data behind every paper figure, computed in DuckDB from the warehouse base tables.

Each module builds one table `paper.figure_NN_<slug>` (names from `catalog.FIGURES`) from
`steps`, `tool_calls` and `timing_events` only. Definitions follow
docs/reference/tracelab-metrics.md §0 and §3; every module's docstring states its own.
"""

from __future__ import annotations

from tracelab_pipeline.figure_data import (
    append_share,
    decode_speed,
    eviction_sweep,
    hit_rate_vs_idle_gap,
    kv_active_ratio,
    output_attribution,
    output_attribution_schematic,
    output_lengths,
    prefix_append,
    prep,
    session_progress,
    tool_latency_by_tool,
    tool_latency_share,
    tool_popularity,
)
from tracelab_pipeline.figure_data.write import figure_item, qualified_name

BUILDERS = {
    1: prefix_append.build,
    2: append_share.build,
    3: output_attribution.build,
    4: output_lengths.build,
    5: output_attribution_schematic.build,
    6: decode_speed.build,
    7: tool_popularity.build,
    8: tool_latency_share.build,
    9: tool_latency_by_tool.build,
    10: session_progress.build,
    11: hit_rate_vs_idle_gap.build,
    12: eviction_sweep.build,
    13: kv_active_ratio.build,
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
