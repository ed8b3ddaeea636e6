"""Fig 11: prefix-cache hit rate of a step vs the idle gap that preceded it.

Steps, triggers and gaps as TraceLab's cache-hit/idle experiment (tracelab-metrics §3 Fig 11,
prepared in `prep.fd_gap_steps`): user-initiated steps measure the gap from the previous step's
last activity; tool-initiated steps the longest wall duration of the tool calls they answer.
Rows: kind 'point' (at most POINTS per provider x trigger; hit = prefix / (prefix + append)) and
kind 'bin' (per gap bin: steps, token-weighted hit rate, mean step hit rate, steps under 10%).
"""

from __future__ import annotations

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import write_figure_table

POINTS = 15_000
LOW_HIT = 0.10
# Gap bin edges in seconds, half-open [lo, hi).
EDGES = (0, 1, 10, 60, 300, 600, 1800, 3600, 14400)
LABELS = ("<1s", "1-10s", "10s-1m", "1-5m", "5-10m", "10-30m", "30m-1h", "1-4h", ">=4h")


def build(con, *, prepared: bool = False) -> int:
    if not prepared:
        prep.prepare(con, gaps=True)
    bins = ", ".join(
        f"({i}, '{label}', {lo}, {EDGES[i + 1] if i + 1 < len(EDGES) else 'NULL'})"
        for i, (label, lo) in enumerate(zip(LABELS, EDGES, strict=True))
    )
    return write_figure_table(
        con,
        11,
        f"""
        WITH pts AS (
            SELECT contributor, step_id, provider, first_event_trigger AS trigger, gap_s,
                   prefix_tokens, context_l, prefix_tokens / context_l AS hit_rate
            FROM fd_gap_steps WHERE gap_s IS NOT NULL
        ),
        bins AS (SELECT * FROM (VALUES {bins}) AS b(bin_order, label, lo_s, hi_s)),
        binned AS (
            SELECT p.provider, p.trigger, 'bin' AS kind, b.bin_order, b.label,
                   b.lo_s::DOUBLE AS lo_s, b.hi_s::DOUBLE AS hi_s,
                   NULL::DOUBLE AS gap_s, count(*) AS steps,
                   sum(p.prefix_tokens) / sum(p.context_l) AS hit_rate,
                   avg(p.hit_rate) AS mean_step_hit_rate,
                   count(*) FILTER (WHERE p.hit_rate < ?) AS low_hit_steps
            FROM pts p JOIN bins b ON p.gap_s >= b.lo_s AND (b.hi_s IS NULL OR p.gap_s < b.hi_s)
            GROUP BY ALL
        ),
        points AS (
            SELECT provider, trigger, 'point' AS kind, NULL::INTEGER, NULL::VARCHAR,
                   NULL::DOUBLE, NULL::DOUBLE, gap_s, 1::BIGINT, hit_rate, hit_rate,
                   (hit_rate < ?)::INTEGER::BIGINT
            FROM pts
            QUALIFY row_number() OVER (
                PARTITION BY provider, trigger
                ORDER BY hash(contributor || '/' || step_id), step_id) <= ?
        )
        SELECT * FROM binned
        UNION ALL SELECT * FROM points
        ORDER BY provider, trigger, kind, bin_order, gap_s, hit_rate
        """,
        [LOW_HIT, LOW_HIT, POINTS],
    )
