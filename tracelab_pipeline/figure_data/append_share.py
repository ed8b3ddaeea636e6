"""Fig 2: share of steps vs share of append tokens, by append length (decimal half-open bins)."""

from __future__ import annotations

from tracelab_pipeline.figure_data.write import write_figure_table

# (label, lo, hi): half-open [lo, hi); hi NULL = unbounded.
BINS = (
    ("0", 0, 1),
    ("1-10", 1, 10),
    ("10-100", 10, 100),
    ("100-1k", 100, 1_000),
    ("1k-10k", 1_000, 10_000),
    ("10k-100k", 10_000, 100_000),
    ("100k-500k", 100_000, 500_000),
    (">=500k", 500_000, None),
)
VISIBLE_SHARE = 0.005  # a bin is drawn if it reaches 0.5% in any bar of any panel


def bins_values_sql() -> str:
    rows = ", ".join(
        f"({i}, '{label}', {lo}, {'NULL' if hi is None else hi})"
        for i, (label, lo, hi) in enumerate(BINS)
    )
    return f"(VALUES {rows}) AS b(bin_order, label, lo_tokens, hi_tokens)"


def build(con, *, prepared: bool = False) -> int:
    return write_figure_table(
        con,
        2,
        f"""
        WITH rows_ AS (
            SELECT provider, append_tokens FROM steps
            WHERE prefix_tokens >= 0 AND append_tokens >= 0
            UNION ALL
            SELECT 'all', append_tokens FROM steps
            WHERE prefix_tokens >= 0 AND append_tokens >= 0
        ),
        providers AS (SELECT DISTINCT provider FROM rows_),
        grid AS (SELECT * FROM providers, {bins_values_sql()}),
        counted AS (
            SELECT g.provider, g.bin_order, g.label, g.lo_tokens, g.hi_tokens,
                   count(r.append_tokens) AS steps,
                   coalesce(sum(r.append_tokens), 0)::BIGINT AS append_tokens
            FROM grid g
            LEFT JOIN rows_ r
              ON r.provider = g.provider AND r.append_tokens >= g.lo_tokens
             AND (g.hi_tokens IS NULL OR r.append_tokens < g.hi_tokens)
            GROUP BY ALL
        ),
        shared AS (
            SELECT *,
                steps / nullif(sum(steps) OVER (PARTITION BY provider), 0) AS step_share,
                append_tokens / nullif(sum(append_tokens) OVER (PARTITION BY provider), 0)
                    AS token_share
            FROM counted
        )
        SELECT *,
            max(greatest(coalesce(step_share, 0), coalesce(token_share, 0)))
                OVER (PARTITION BY bin_order) >= {VISIBLE_SHARE} AS shown
        FROM shared
        ORDER BY provider = 'all', provider, bin_order
        """,
    )
