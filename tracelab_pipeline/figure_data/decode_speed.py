"""Fig 6: normalized decode speed, Codex pure decode speed and residual TTFT vs context length.

Definitions (tracelab-metrics §3 Fig 6):
- eligible step: a qualifying input event at or before the first output, span = last output -
  that input > 0, output_tokens > 0, context = input_tokens_total > 0;
  normalized speed = output_tokens / span.
- Codex exact-reasoning rows: reasoning > 0, visible = output - reasoning > 0, a reasoning event,
  a text/tool_call event at/after reasoning_end, post = that last output - reasoning_end >= 0.1 s;
  pure decode = visible / post; lambda = sum(post) / sum(visible);
  residual TTFT = (reasoning_end - last input <= reasoning_end) - reasoning * lambda (span > 0).
Rows: kind 'point' (sample of at most POINTS per panel), 'bin' (floor(log2 context) bins with
p25/p50/p90; `shown` when the bin has MIN_BIN_ROWS rows) and 'summary' (one per panel, with
the coefficient of variation behind the paper's "CV > 50 %": population stddev / mean, over the
raw values and over the values capped at the figure's display cap, as TraceLab's variance
table gives both).
"""

from __future__ import annotations

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import write_figure_table

POINTS = 35_000
MIN_BIN_ROWS = 250
MIN_POST_REASONING_S = 0.1
PANELS = ("claude_normalized", "codex_normalized", "codex_pure_decode", "codex_residual_ttft")
DISPLAY_CAP = 160.0  # tok/s; the residual TTFT panel has no CV (it can be negative)


def build(con, *, prepared: bool = False) -> int:
    if not prepared:
        prep.prepare(con)
    return write_figure_table(
        con,
        6,
        """
        WITH eligible AS (
            SELECT *, input_tokens_total::DOUBLE AS context,
                   output_tokens / gen_span_s AS speed
            FROM fd_steps
            WHERE output_tokens > 0 AND gen_span_s > 0 AND input_tokens_total > 0
        ),
        exact AS (
            SELECT *,
                (output_tokens - reasoning_tokens)::DOUBLE AS visible,
                post_reasoning_output_t - reasoning_end_t AS post_s,
                reasoning_end_t - reasoning_input_t AS think_s
            FROM eligible
            WHERE provider = 'codex' AND reasoning_tokens > 0
              AND output_tokens - reasoning_tokens > 0
              AND reasoning_end_t IS NOT NULL
              AND post_reasoning_output_t - reasoning_end_t >= ?
        ),
        lam AS (SELECT sum(post_s) / nullif(sum(visible), 0) AS s_per_token FROM exact),
        values_ AS MATERIALIZED (
            SELECT provider || '_normalized' AS panel, contributor, step_id, context,
                   speed AS value, output_tokens::DOUBLE AS num, gen_span_s AS den
            FROM eligible WHERE provider IN ('claude', 'codex')
            UNION ALL
            SELECT 'codex_pure_decode', contributor, step_id, context, visible / post_s,
                   visible, post_s
            FROM exact
            UNION ALL
            SELECT 'codex_residual_ttft', contributor, step_id, context,
                   think_s - reasoning_tokens * lam.s_per_token, NULL, NULL
            FROM exact, lam WHERE think_s > 0
        ),
        points AS (
            SELECT panel, 'point' AS kind, context AS context_tokens, value,
                   NULL::BIGINT AS rows, NULL::DOUBLE AS p25, NULL::DOUBLE AS p50,
                   NULL::DOUBLE AS p90, NULL::DOUBLE AS p99, NULL::DOUBLE AS weighted,
                   NULL::BOOLEAN AS shown, NULL::DOUBLE AS cv_pct, NULL::DOUBLE AS cv_capped_pct
            FROM values_
            QUALIFY row_number() OVER (
                PARTITION BY panel ORDER BY hash(contributor || '/' || step_id), step_id) <= ?
        ),
        bins AS (
            SELECT panel, 'bin' AS kind, pow(2, floor(log2(context)) + 0.5) AS context_tokens,
                   quantile_cont(value, 0.5) AS value, count(*) AS rows,
                   quantile_cont(value, 0.25) AS p25, quantile_cont(value, 0.5) AS p50,
                   quantile_cont(value, 0.9) AS p90, quantile_cont(value, 0.99) AS p99,
                   sum(num) / nullif(sum(den), 0) AS weighted, count(*) >= ? AS shown,
                   NULL::DOUBLE AS cv_pct, NULL::DOUBLE AS cv_capped_pct
            FROM values_ GROUP BY panel, floor(log2(context))
        ),
        summary AS (
            SELECT panel, 'summary' AS kind, quantile_cont(context, 0.5) AS context_tokens,
                   quantile_cont(value, 0.5) AS value, count(*) AS rows,
                   quantile_cont(value, 0.25) AS p25, quantile_cont(value, 0.5) AS p50,
                   quantile_cont(value, 0.9) AS p90, quantile_cont(value, 0.99) AS p99,
                   -- residual TTFT has no speed; its summary carries lambda (s per token)
                   CASE WHEN panel = 'codex_residual_ttft' THEN (SELECT s_per_token FROM lam)
                        ELSE sum(num) / nullif(sum(den), 0) END AS weighted,
                   true AS shown,
                   CASE WHEN panel <> 'codex_residual_ttft'
                        THEN 100 * stddev_pop(value) / nullif(avg(value), 0) END AS cv_pct,
                   CASE WHEN panel <> 'codex_residual_ttft'
                        THEN 100 * stddev_pop(least(value, ?)) / nullif(avg(least(value, ?)), 0)
                        END AS cv_capped_pct
            FROM values_ GROUP BY panel
        )
        SELECT * FROM summary
        UNION ALL SELECT * FROM bins
        UNION ALL SELECT * FROM points
        ORDER BY panel, kind DESC, context_tokens, value
        """,
        [MIN_POST_REASONING_S, POINTS, MIN_BIN_ROWS, DISPLAY_CAP, DISPLAY_CAP],
    )
