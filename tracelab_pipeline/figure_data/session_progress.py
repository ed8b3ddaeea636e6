"""Fig 10: the first steps of one example session — prefix, append, hit rate, idle gaps.

The example is chosen by rule, not by hand: sessions of 40..220 steps with at least 2 user
steps and 10 tool steps are preferred, then those whose first STEPS steps contain a
user-initiated cache miss (hit < 50%) after an idle gap of at least 5 minutes (the paper's
point: a human pause costs a large fresh prefill), then the biggest such miss, then length;
ties by session id. Compaction markers: the step follows a compaction boundary, or the context
drops by >= 8k tokens and >= 25% from at least 32k and stays that low for the next 3 steps.
"""

from __future__ import annotations

from tracelab_pipeline.figure_data import prep
from tracelab_pipeline.figure_data.write import write_figure_table

STEPS = 40
IDLE_MISS_GAP_S = 300
IDLE_MISS_HIT = 0.5


def build(con, *, prepared: bool = False) -> int:
    if not prepared:
        prep.prepare(con, gaps=True)
    return write_figure_table(
        con,
        10,
        """
        WITH s AS (
            SELECT f.*, g.gap_s,
                f.prefix_tokens / nullif(f.context_l, 0) AS hit_rate,
                max(f.context_l) OVER (
                    PARTITION BY f.sid ORDER BY f.seq
                    ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) AS next3_max_l
            FROM fd_steps f
            LEFT JOIN fd_gap_steps g USING (sk)
        ),
        sessions AS (
            SELECT sid, any_value(contributor) AS contributor,
                any_value(session_id) AS session_id, count(*) AS n_steps,
                count(*) FILTER (WHERE has_user_message) AS user_steps,
                count(*) FILTER (WHERE first_event_trigger = 'tool') AS tool_steps,
                max(append_tokens) FILTER (
                    WHERE seq <= ? AND first_event_trigger = 'user' AND gap_s >= ?
                      AND hit_rate < ?) AS idle_miss_append
            FROM s GROUP BY sid
        ),
        chosen AS (
            SELECT sid FROM sessions
            ORDER BY (n_steps BETWEEN 40 AND 220 AND user_steps >= 2 AND tool_steps >= 10) DESC,
                     idle_miss_append IS NOT NULL DESC, idle_miss_append DESC NULLS LAST,
                     n_steps DESC, session_id, contributor
            LIMIT 1
        )
        SELECT
            s.provider, s.session_id, s.seq AS step, s.first_event_trigger AS trigger,
            s.has_user_message, s.prefix_tokens, s.append_tokens, s.output_tokens,
            s.context_l AS input_tokens, s.hit_rate, s.gap_s AS idle_gap_s,
            s.first_activity_t - min(s.first_activity_t) OVER () AS start_s,
            coalesce(s.after_compaction, false)
                OR coalesce(s.prev_context_l >= 32000
                    AND s.prev_context_l - s.context_l >= 8000
                    AND s.context_l <= 0.75 * s.prev_context_l
                    AND coalesce(s.next3_max_l <= 0.75 * s.prev_context_l
                                 AND s.prev_context_l - s.next3_max_l >= 8000, true), false)
                AS compaction
        FROM s JOIN chosen USING (sid)
        WHERE s.seq <= ?
        ORDER BY step
        """,
        [STEPS, IDLE_MISS_GAP_S, IDLE_MISS_HIT, STEPS],
    )
