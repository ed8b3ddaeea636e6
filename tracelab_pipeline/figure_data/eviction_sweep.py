"""Fig 12: eviction-timeout sweep — achievable hit rate, storage ratio R, prefill amplification.

Covered steps (tracelab-metrics §3 Fig 12): eligible as Fig 11, with a previous step and a
measurable gap g. Per step: L = prefix + append; fresh = clip(max(0, L - L_prev) - prev output,
0, append) (clipped per step); cacheable = L - fresh. For each timeout tau:
hit = sum_{g<=tau} cacheable / sum L; A = (sum fresh + sum_{g>tau} cacheable) / sum fresh;
redundant = 1 - 1/A; R = sum min(g, tau) / G with G = sum of positive generation spans over ALL
steps of the scope; kv_active = 1 / (1 + R). Cumulative sums over steps sorted by g are matched
to each tau with an ASOF join, so the sweep costs one sort.
"""

from __future__ import annotations

import numpy as np

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import write_figure_table

LANDMARKS = {
    1: "1s",
    60: "1m",
    300: "5m",
    600: "10m",
    1800: "30m",
    3600: "1h",
    7200: "2h",
    14400: "4h",
}


def timeouts() -> list[float]:
    grid = np.logspace(0, np.log10(14400), 260)
    return sorted({round(float(t), 9) for t in grid} | {float(t) for t in LANDMARKS})


def build(con, *, prepared: bool = False) -> int:
    import pyarrow as pa

    if not prepared:
        prep.prepare(con, gaps=True)
    taus = pa.table(
        {
            "timeout_s": timeouts(),
            "label": [LANDMARKS.get(int(t)) if t in LANDMARKS else None for t in timeouts()],
        }
    )
    con.register("fd_timeouts", taus)
    try:
        return write_figure_table(con, 12, _SQL)
    finally:
        con.unregister("fd_timeouts")


_SQL = """
WITH covered AS (
    SELECT provider, gap_s AS g, context_l::DOUBLE AS l, prefix_tokens::DOUBLE AS prefix,
           append_tokens::DOUBLE AS append,
           least(greatest(greatest(0, context_l - coalesce(prev_context_l, 0))
                          - coalesce(prev_output_tokens, 0), 0), append_tokens)::DOUBLE AS fresh
    FROM fd_gap_steps
    WHERE seq > 1 AND gap_s IS NOT NULL
),
scoped AS (
    SELECT provider AS scope, * EXCLUDE (provider) FROM covered
    UNION ALL SELECT 'all', * EXCLUDE (provider) FROM covered
),
generation AS (
    SELECT provider AS scope, sum(gen_span_s) AS g_total FROM fd_steps GROUP BY provider
    UNION ALL SELECT 'all', sum(gen_span_s) FROM fd_steps
),
totals AS (
    SELECT scope, count(*) AS covered_steps, sum(l) AS sum_l, sum(fresh) AS sum_fresh,
           sum(l - fresh) AS sum_cacheable, sum(prefix) AS sum_prefix, sum(append) AS sum_append
    FROM scoped GROUP BY scope
),
by_gap AS (
    SELECT scope, g, sum(l - fresh) AS cacheable, sum(g) AS g_sum, count(*) AS n
    FROM scoped GROUP BY scope, g
),
cumulative AS (
    SELECT scope, g,
        sum(cacheable) OVER w AS cum_cacheable, sum(g_sum) OVER w AS cum_g, sum(n) OVER w AS cum_n
    FROM by_gap
    WINDOW w AS (PARTITION BY scope ORDER BY g ROWS UNBOUNDED PRECEDING)
),
grid AS (SELECT t.scope, x.timeout_s, x.label FROM totals t, fd_timeouts x),
swept AS (
    SELECT
        grid.scope, grid.timeout_s, grid.label,
        coalesce(c.cum_cacheable, 0) AS hit_cacheable,
        coalesce(c.cum_g, 0) + grid.timeout_s * (t.covered_steps - coalesce(c.cum_n, 0))
            AS capped_gap_s,
        t.*  EXCLUDE (scope),
        gen.g_total
    FROM grid
    ASOF LEFT JOIN cumulative c ON c.scope = grid.scope AND grid.timeout_s >= c.g
    JOIN totals t ON t.scope = grid.scope
    LEFT JOIN generation gen ON gen.scope = grid.scope
),
metrics AS (
    SELECT scope, timeout_s, label,
        hit_cacheable / nullif(sum_l, 0) AS hit_rate,
        (sum_fresh + sum_cacheable - hit_cacheable) / nullif(sum_fresh, 0)
            AS prefill_amplification,
        capped_gap_s / nullif(g_total, 0) AS storage_ratio,
        covered_steps, sum_fresh AS fresh_tokens, sum_l AS context_tokens,
        sum_cacheable / nullif(sum_l, 0) AS optimal_hit_rate,
        sum_prefix / nullif(sum_l, 0) AS real_hit_rate,
        sum_append / nullif(sum_fresh, 0) AS observed_prefill_amplification,
        g_total AS generation_s
    FROM swept
)
SELECT *,
    1 - 1 / prefill_amplification AS redundant_prefill_ratio,
    1 / (1 + storage_ratio) AS kv_active_ratio,
    first_value(timeout_s) OVER (
        PARTITION BY scope ORDER BY abs(hit_rate - real_hit_rate), timeout_s
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS effective_eviction_s
FROM metrics
ORDER BY scope, timeout_s
"""
