"""Fig 4: output tokens per step, histogram on TraceLab's binary axis (8 bins per doubling).

Axis transform (first tick 16): x' = v/16 below 16, else 1 + log2(v/16); bins are
`linspace(0, x'_max, max(8, ceil(8 x'_max)) + 1)` shared by all providers. Each row also carries
its provider's summary (count, mean, linear-interpolation percentiles).
"""

from __future__ import annotations

from tracelab_pipeline.figure_data.write import write_figure_table

FIRST_TICK = 16


def axis_sql(v: str) -> str:
    t = FIRST_TICK
    return f"CASE WHEN {v} < {t} THEN {v} / {t} ELSE 1 + log2({v} / {t}) END"


def inverse_sql(x: str) -> str:
    return f"CASE WHEN {x} < 1 THEN {x} * {FIRST_TICK} ELSE {FIRST_TICK} * pow(2, {x} - 1) END"


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        4,
        f"""
        WITH v AS (
            SELECT provider, output_tokens::DOUBLE AS tokens,
                   {axis_sql("output_tokens::DOUBLE")} AS x
            FROM steps WHERE output_tokens >= 0
        ),
        axis AS (
            SELECT greatest(max(x), 1e-9) AS x_max,
                   greatest(8, ceil(8 * max(x)))::BIGINT AS n_bins
            FROM v
        ),
        binned AS (
            SELECT v.provider, least(floor(v.x / (a.x_max / a.n_bins)), a.n_bins - 1)::BIGINT AS b
            FROM v, axis a
        ),
        counts AS (SELECT provider, b, count(*) AS steps FROM binned GROUP BY ALL),
        stats AS (
            SELECT provider, count(*) AS provider_steps, avg(tokens) AS mean_tokens,
                   quantile_cont(tokens, 0.5) AS p50_tokens,
                   quantile_cont(tokens, 0.9) AS p90_tokens,
                   quantile_cont(tokens, 0.99) AS p99_tokens,
                   max(tokens) AS max_tokens
            FROM v GROUP BY provider
        ),
        edges AS (
            SELECT c.provider, c.b AS bin_index,
                   c.b * a.x_max / a.n_bins AS lo_axis, (c.b + 1) * a.x_max / a.n_bins AS hi_axis,
                   c.steps
            FROM counts c, axis a
        )
        SELECT e.provider, e.bin_index, e.lo_axis, e.hi_axis,
               {inverse_sql("e.lo_axis")} AS lo_tokens, {inverse_sql("e.hi_axis")} AS hi_tokens,
               e.steps, e.steps / s.provider_steps AS share,
               s.provider_steps, s.mean_tokens, s.p50_tokens, s.p90_tokens, s.p99_tokens,
               s.max_tokens
        FROM edges e JOIN stats s USING (provider)
        ORDER BY provider, bin_index
        """,
    )
