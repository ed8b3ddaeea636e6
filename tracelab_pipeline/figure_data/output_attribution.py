"""Fig 3: output attribution test — is a step's output cached with its context or re-sent?

Pairs consecutive steps of a session (order O2, steps without any timestamped event dropped),
gate `prev input > 0`, `prev output > 0`, `0 <= gap <= 240 s`, and keep previous outputs of at
least MIN_PREV_OUTPUT tokens, as TraceLab's model-merged figure does (tracelab-metrics §3 Fig 3).
One row per pair; the renderer and the report summarise per model group.
"""

from __future__ import annotations

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import write_figure_table

MIN_PREV_OUTPUT = 2_000
MAX_GAP_S = 240.0
TOL_ABS = 512
TOL_REL = 0.10


def build(con, *, prepared: bool = False) -> int:
    if not prepared:
        prep.prepare(con)
    return write_figure_table(
        con,
        3,
        """
        WITH timed AS (SELECT * FROM fd_steps WHERE first_event_t IS NOT NULL),
        pairs AS (
            SELECT
                provider,
                prefix_tokens,
                append_tokens,
                first_input_event_type AS next_input,
                first_event_t,
                lag(model) OVER w AS prev_model,
                lag(input_tokens_total) OVER w AS prev_total,
                lag(output_tokens) OVER w AS prev_output,
                lag(coalesce(last_output_t, first_event_t)) OVER w AS prev_end_t
            FROM timed
            WINDOW w AS (
                PARTITION BY contributor, provider, session_id
                ORDER BY step_index, first_event_t, step_id
            )
        ),
        gated AS (
            SELECT
                CASE WHEN provider = 'claude' THEN 'Claude'
                     ELSE coalesce(prev_model, 'unknown') END AS model_group,
                provider,
                next_input,
                prev_output,
                prefix_tokens - prev_total AS prefix_delta,
                append_tokens AS next_append,
                first_event_t - prev_end_t AS gap_s,
                greatest(?, ? * prev_output) AS tolerance
            FROM pairs
            WHERE prev_total > 0 AND prev_output > 0
              AND first_event_t - prev_end_t BETWEEN 0 AND ?
              AND prev_output >= ?
        )
        SELECT *,
            abs(prefix_delta - prev_output) <= tolerance AS prefix_close,
            prefix_delta < prev_output - tolerance AND next_append >= prev_output - tolerance
                AS append_side_pair
        FROM gated
        ORDER BY model_group, prev_output, prefix_delta, next_append
        """,
        [TOL_ABS, TOL_REL, MAX_GAP_S, MIN_PREV_OUTPUT],
    )


def decision(n: int, prefix_close_pct: float, append_side_pct: float) -> str:
    """TraceLab's decision label for one model group (percentages 0..100)."""
    if n < 50:
        return "not_sure"
    if prefix_close_pct >= 70 and append_side_pct <= 20:
        return "output_cached" + (" (very strong)" if n >= 300 and prefix_close_pct >= 80 else "")
    if append_side_pct >= 70 and prefix_close_pct <= 20:
        return "output_resend" + (" (very strong)" if n >= 300 and append_side_pct >= 90 else "")
    if prefix_close_pct >= 30 and append_side_pct >= 30:
        return "mixed"
    return "not_sure"
