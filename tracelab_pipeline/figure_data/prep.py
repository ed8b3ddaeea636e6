"""Per-step facts shared by several figures, as connection-local TEMP tables.

Built from the warehouse base tables only (`steps`, `tool_calls`, `timing_events`), never from
the derived `requests`/`sessions` tables. Times are float seconds since the epoch.

Session key is (contributor, provider, session_id); a session's steps are ordered TraceLab's
way "O2" (tracelab-metrics §0.2): by `step_index`, then the first timestamp (first timestamped
event in list order, else the earliest tool time, else -inf), then `step_id` so ties are
deterministic (we have no file order: results must not depend on it).

The string keys are joined once, to integer keys (`sk` per step, `sid` per session); every later
join, group and window runs on those integers.
"""

from __future__ import annotations

INPUT_TYPES = "('user_message', 'tool_result')"
OUTPUT_TYPES = "('reasoning', 'text', 'tool_call')"

_KEYS = """
CREATE OR REPLACE TEMP TABLE fd_keys AS
SELECT
    contributor, step_id,
    row_number() OVER (ORDER BY contributor, step_id) AS sk,
    dense_rank() OVER (ORDER BY contributor, provider, session_id) AS sid
FROM steps
"""

_EV = """
CREATE OR REPLACE TEMP TABLE fd_ev AS
SELECT k.sk, k.sid, e.event_index, e.event_type, e.tool_call_id,
       epoch_us(e."timestamp") / 1e6 AS t
FROM timing_events e
JOIN fd_keys k USING (contributor, step_id)
"""

_EVENTS = f"""
CREATE OR REPLACE TEMP TABLE fd_events AS
WITH agg AS (
    SELECT
        sk,
        arg_min(t, event_index) FILTER (WHERE t IS NOT NULL) AS first_event_t,
        min(t) AS min_event_t,
        max(t) AS max_event_t,
        min(t) FILTER (WHERE event_type IN {OUTPUT_TYPES}) AS first_output_t,
        max(t) FILTER (WHERE event_type IN {OUTPUT_TYPES}) AS last_output_t,
        max(t) FILTER (WHERE event_type = 'reasoning') AS reasoning_end_t,
        bool_or(event_type = 'user_message') AS has_user_message,
        -- end of the leading run of tool_result events (list order); a BIGINT, as a plain 1 is
        -- an INTEGER that cannot shift by 62 (a step of tool results only raised)
        coalesce(min(event_index) FILTER (WHERE event_type <> 'tool_result'), 1::BIGINT << 62)
            AS leading_results_end
    FROM fd_ev
    GROUP BY sk
)
SELECT
    a.*,
    max(e.t) FILTER (WHERE e.event_type IN {INPUT_TYPES} AND e.t <= a.first_output_t)
        AS input_ready_t,
    max(e.t) FILTER (WHERE e.event_type IN {INPUT_TYPES} AND e.t <= a.reasoning_end_t)
        AS reasoning_input_t,
    max(e.t) FILTER (WHERE e.event_type IN ('text', 'tool_call') AND e.t >= a.reasoning_end_t)
        AS post_reasoning_output_t
FROM agg a
JOIN fd_ev e USING (sk)
GROUP BY ALL
"""

_CALLS = """
CREATE OR REPLACE TEMP TABLE fd_calls AS
SELECT k.sk, k.sid, c.call_id,
       epoch_us(c.emitted_at) / 1e6 AS emitted_t, epoch_us(c.result_at) / 1e6 AS result_t
FROM tool_calls c
JOIN fd_keys k USING (contributor, step_id)
"""

_STEPS = """
CREATE OR REPLACE TEMP TABLE fd_steps AS
WITH tools AS (
    SELECT
        sk,
        least(min(emitted_t), min(result_t)) AS min_tool_t,
        greatest(max(emitted_t), max(result_t)) AS max_tool_t
    FROM fd_calls
    GROUP BY sk
),
joined AS (
    SELECT
        k.sk,
        k.sid,
        s.contributor,
        s.provider,
        s.session_id,
        s.step_id,
        s.step_index,
        s.source_line,
        s.model,
        s.prefix_tokens,
        s.append_tokens,
        s.output_tokens,
        s.reasoning_tokens,
        s.input_tokens_total,
        s.first_input_event_type,
        s.after_compaction,
        CASE s.first_event_type WHEN 'user_message' THEN 'user' WHEN 'tool_result' THEN 'tool' END
            AS first_event_trigger,
        s.prefix_tokens + s.append_tokens AS context_l,
        e.first_event_t,
        e.first_output_t,
        e.last_output_t,
        e.reasoning_end_t,
        e.input_ready_t,
        e.reasoning_input_t,
        e.post_reasoning_output_t,
        e.leading_results_end,
        coalesce(e.has_user_message, false) AS has_user_message,
        coalesce(e.first_event_t, t.min_tool_t) AS sort_t,
        coalesce(e.first_event_t, least(e.min_event_t, t.min_tool_t)) AS first_activity_t,
        greatest(e.max_event_t, t.max_tool_t) AS last_activity_t,
        CASE WHEN e.last_output_t - e.input_ready_t > 0 THEN e.last_output_t - e.input_ready_t END
            AS gen_span_s
    FROM steps s
    JOIN fd_keys k USING (contributor, step_id)
    LEFT JOIN fd_events e USING (sk)
    LEFT JOIN tools t USING (sk)
)
SELECT
    *,
    row_number() OVER w AS seq,
    lag(context_l) OVER w AS prev_context_l,
    lag(output_tokens) OVER w AS prev_output_tokens,
    lag(last_activity_t) OVER w AS prev_last_activity_t
FROM joined
WINDOW w AS (PARTITION BY sid ORDER BY step_index, sort_t NULLS FIRST, step_id)
"""

# Tool-initiated gap (Fig 11/12): the longest `result_at - emitted_at` among the calls answered by
# the step's leading run of tool_result events, looked up among calls emitted by EARLIER steps of
# the same session (latest earlier emitter wins when an id repeats).
_TOOL_GAPS = """
CREATE OR REPLACE TEMP TABLE fd_tool_gaps AS
WITH answered AS (
    SELECT s.sk, s.sid, s.seq, ev.tool_call_id
    FROM fd_ev ev
    JOIN fd_steps s USING (sk)
    WHERE ev.event_type = 'tool_result'
      AND ev.event_index < s.leading_results_end
      AND ev.tool_call_id IS NOT NULL
),
emitted AS (
    SELECT c.sid, s.seq AS emit_seq, c.call_id, c.result_t - c.emitted_t AS duration_s
    FROM fd_calls c
    JOIN fd_steps s USING (sk)
),
matched AS (
    SELECT a.sk, m.duration_s
    FROM answered a
    JOIN emitted m ON m.sid = a.sid AND m.call_id = a.tool_call_id AND m.emit_seq < a.seq
    QUALIFY row_number() OVER (PARTITION BY a.sk, a.tool_call_id ORDER BY m.emit_seq DESC) = 1
)
SELECT sk, max(duration_s) AS tool_gap_s
FROM matched
WHERE duration_s >= 0
GROUP BY sk
"""

# Steps eligible for the idle-gap experiments (Fig 11/12), with their measurable gap if any.
_GAP_STEPS = """
CREATE OR REPLACE TEMP TABLE fd_gap_steps AS
SELECT
    s.*,
    CASE
        WHEN s.first_event_trigger = 'user' THEN
            CASE WHEN s.seq > 1 AND s.first_activity_t - s.prev_last_activity_t >= 0
                 THEN s.first_activity_t - s.prev_last_activity_t END
        ELSE g.tool_gap_s
    END AS gap_s
FROM fd_steps s
LEFT JOIN fd_tool_gaps g USING (sk)
WHERE s.first_event_trigger IS NOT NULL
  AND s.prefix_tokens IS NOT NULL AND s.append_tokens IS NOT NULL
  AND s.context_l > 0
"""


def prepare(con, *, gaps: bool = False) -> None:
    """Create the TEMP tables `fd_keys`, `fd_ev`, `fd_calls`, `fd_events`, `fd_steps` (and,
    with gaps, `fd_tool_gaps`, `fd_gap_steps`)."""
    for sql in (_KEYS, _EV, _CALLS, _EVENTS, _STEPS):
        con.execute(sql)
    if gaps:
        con.execute(_TOOL_GAPS)
        con.execute(_GAP_STEPS)
