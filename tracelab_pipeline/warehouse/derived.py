"""Derived warehouse tables: per-step facts, requests (user turns), human waits, sessions.

Definitions follow docs/reference/tracelab-metrics.md §0 (the TraceLab analysis side):

* Session = (contributor, provider, session_id). TraceLab keys on its provider-prefixed
  session_id; adding the contributor keeps two contributors' equal ids apart.
* O1 "file order" within a session = (step_index, source_line, step_id). TraceLab walks its
  merged JSONL in line order; within one session that is the step order our readers assign.
* The request state machine (§0.4) is a running count of trigger rows per session (a window
  function), so no Python walk is needed: a row with a trigger opens turn k+1, every later row
  of the session folds into the open turn, rows before the first trigger belong to none.
* Timestamps are kept as integer epoch microseconds (`*_us`) like TraceLab's `epoch_us`.
"""

from __future__ import annotations

import duckdb

OUTPUT_TYPES = "('reasoning', 'text', 'tool_call')"
INPUT_TYPES = "('user_message', 'tool_result')"

# Integer keys first: every later join, group and window runs on step_pk / session_no instead of
# the long pseudonymous id strings.
STEP_KEYS = """
CREATE OR REPLACE TEMP TABLE _step_keys AS
WITH sess AS (
    SELECT contributor, provider, session_id,
        row_number() OVER (ORDER BY contributor, provider, session_id) AS session_no
    FROM (SELECT DISTINCT contributor, provider, session_id FROM steps)
)
SELECT s.contributor, s.step_id, sess.session_no,
    row_number() OVER (
        ORDER BY sess.session_no, s.step_index, s.source_line NULLS LAST, s.step_id
    ) AS step_pk
FROM steps s JOIN sess USING (contributor, provider, session_id)
"""

EVENTS_KEYED = """
CREATE OR REPLACE TEMP TABLE _events AS
SELECT k.step_pk, k.session_no, e.event_index, e.event_type, epoch_us(e."timestamp") AS ts
FROM timing_events e JOIN _step_keys k USING (contributor, step_id)
"""

STEP_EVENTS = f"""
CREATE OR REPLACE TEMP TABLE _step_events AS
WITH firsts AS (
    SELECT step_pk,
        count(*) AS n_events,
        min(ts) FILTER (WHERE event_type IN {OUTPUT_TYPES}) AS first_output_us,
        max(ts) FILTER (WHERE event_type IN {OUTPUT_TYPES}) AS last_output_us,
        min(ts) AS min_event_us,
        max(ts) AS max_event_us,
        arg_min(ts, event_index) FILTER (WHERE ts IS NOT NULL) AS first_event_ts_us,
        max(ts) FILTER (WHERE event_type = 'reasoning') AS reasoning_end_us,
        count(*) FILTER (WHERE event_type = 'user_message') AS n_user_messages
    FROM _events GROUP BY step_pk
), inputs AS (
    SELECT e.step_pk,
        max(e.ts) FILTER (WHERE e.event_type IN {INPUT_TYPES}) AS input_ready_us,
        max(e.ts) FILTER (WHERE e.event_type = 'user_message') AS trigger_us
    FROM _events e JOIN firsts f USING (step_pk)
    WHERE e.event_type IN {INPUT_TYPES} AND e.ts <= f.first_output_us
    GROUP BY e.step_pk
)
SELECT f.*, i.input_ready_us, i.trigger_us
FROM firsts f LEFT JOIN inputs i USING (step_pk)
"""

STEP_TOOLS = """
CREATE OR REPLACE TEMP TABLE _step_tools AS
SELECT k.step_pk,
    count(*) AS n_tool_calls,
    -- effective latency = runner-reported if present, else wall; only positive values count
    coalesce(sum(eff) FILTER (WHERE eff > 0), 0) / 1000.0 AS tool_s,
    coalesce(sum(wall_latency_ms) FILTER (WHERE wall_latency_ms > 0), 0) / 1000.0 AS tool_wall_s
FROM (
    SELECT contributor, step_id, wall_latency_ms,
        coalesce(internal_latency_ms, wall_latency_ms) AS eff
    FROM tool_calls
) t JOIN _step_keys k USING (contributor, step_id)
GROUP BY k.step_pk
"""

STEP_FACTS_BASE = """
CREATE OR REPLACE TEMP TABLE _step_facts_base AS
SELECT
    k.step_pk, k.session_no, s.contributor, s.step_id, s.provider, s.session_id,
    s.contributor || '|' || s.provider || '|' || s.session_id AS session_key,
    s.root_session_id, s.is_sidechain, s.step_index, s.round_id, s.model,
    s.prefix_tokens AS prefix, s.append_tokens AS append, s.output_tokens AS output,
    s.reasoning_tokens AS reasoning, s.prefix_tokens + s.append_tokens AS total,
    s.cache_write_tokens, s.cache_write_5m_tokens, s.cache_write_1h_tokens,
    s.first_event_type AS t_first, s.first_input_event_type AS t_col, s.trigger,
    coalesce(e.n_events, 0) AS n_events, coalesce(e.n_user_messages, 0) AS n_user_messages,
    e.first_output_us, e.last_output_us, e.input_ready_us, e.trigger_us,
    e.min_event_us, e.max_event_us, e.first_event_ts_us, e.reasoning_end_us,
    CASE WHEN e.last_output_us - e.input_ready_us > 0
        THEN (e.last_output_us - e.input_ready_us) / 1e6 END AS gen_s,
    coalesce(t.n_tool_calls, 0) AS n_tool_calls,
    coalesce(t.tool_s, 0.0) AS tool_s,
    coalesce(t.tool_wall_s, 0.0) AS tool_wall_s,
    p.match_kind <> 'unpriced' AS priced,
    p.price_group, p.match_kind AS price_match,
    p.price_input, p.price_cache_write_5m, p.price_cache_write_1h, p.price_cache_read,
    p.price_output
FROM steps s
JOIN _step_keys k USING (contributor, step_id)
LEFT JOIN _step_events e USING (step_pk)
LEFT JOIN _step_tools t USING (step_pk)
LEFT JOIN model_prices p ON p.provider = s.provider AND p.model IS NOT DISTINCT FROM s.model
"""

# Cost (tracelab-metrics §0.7). Paper: every cache write at the 5-minute rate. Corrected: the
# 1-hour share at 2x input (`cache_write_1h_tokens`), the rest at the 5-minute rate.
STEP_FACTS = """
CREATE OR REPLACE TABLE step_facts AS
WITH w AS (
    SELECT *,
        least(greatest(coalesce(cache_write_tokens, 0), 0), append) AS write_tokens
    FROM _step_facts_base
), w2 AS (
    SELECT *,
        least(greatest(coalesce(cache_write_1h_tokens, 0), 0), write_tokens) AS write_1h_tokens
    FROM w
), c AS (
    SELECT *,
        CASE WHEN priced THEN
            ((append - write_tokens) * price_input
             + write_tokens * coalesce(price_cache_write_5m, price_input)) / 1e6 END
            AS cost_append,
        CASE WHEN priced THEN prefix * price_cache_read / 1e6 END AS cost_prefix,
        CASE WHEN priced THEN output * price_output / 1e6 END AS cost_output,
        CASE WHEN priced THEN
            ((append - write_tokens) * price_input
             + (write_tokens - write_1h_tokens) * coalesce(price_cache_write_5m, price_input)
             + write_1h_tokens * coalesce(price_cache_write_1h, 2 * price_input)) / 1e6 END
            AS cost_append_ttl
    FROM w2
), ordered AS (
    SELECT *,
        cost_append + cost_prefix + cost_output AS cost_total,
        cost_append_ttl + cost_prefix + cost_output AS cost_total_ttl,
        row_number() OVER w AS seq,
        lag(total) OVER w AS prev_total,
        lag(output) OVER w AS prev_output,
        -- request state machine: the k-th trigger row of a session opens turn k
        sum(CASE WHEN trigger_us IS NOT NULL THEN 1 ELSE 0 END) OVER (
            w ROWS UNBOUNDED PRECEDING) AS turn_no
    FROM c
    WINDOW w AS (PARTITION BY session_no ORDER BY step_pk)
), first_copy AS (
    -- corrected metrics drop repeated copies of one LLM call (same contributor/provider/
    -- round id, e.g. resume or sub-agent replays); the first copy in O1 order is kept
    SELECT min(step_pk) AS first_pk, contributor, provider, round_id
    FROM _step_facts_base GROUP BY contributor, provider, round_id HAVING count(*) > 1
)
SELECT o.* EXCLUDE (turn_no),
    CASE WHEN o.turn_no > 0 THEN o.turn_no END AS turn_no,
    coalesce(o.step_pk <> d.first_pk, false) AS is_duplicate
FROM ordered o
LEFT JOIN first_copy d USING (contributor, provider, round_id)
ORDER BY o.step_pk
"""

REQUESTS = """
CREATE OR REPLACE TABLE requests AS
WITH g AS (
    SELECT session_no,
        turn_no,
        any_value(session_key) AS session_key,
        any_value(contributor) AS contributor,
        any_value(provider) AS provider,
        any_value(session_id) AS session_id,
        max(trigger_us) FILTER (WHERE seq = first_seq) AS start_us,
        max(last_output_us) AS end_us,
        count(*) AS steps,
        count(*) FILTER (WHERE t_col = 'user_message') AS user_steps,
        count(*) FILTER (WHERE t_col = 'tool_result') AS tool_steps,
        sum(n_tool_calls) AS tool_calls,
        coalesce(sum(gen_s), 0) AS gen_s,
        sum(tool_s) AS tool_s,
        coalesce(sum(cost_append), 0) AS cost_append,
        coalesce(sum(cost_prefix), 0) AS cost_prefix,
        coalesce(sum(cost_output), 0) AS cost_output,
        coalesce(sum(cost_total), 0) AS cost_total,
        coalesce(sum(cost_append_ttl), 0) AS cost_append_ttl,
        coalesce(sum(cost_total_ttl), 0) AS cost_total_ttl,
        count(*) FILTER (WHERE priced) AS priced_steps,
        min(step_pk) AS first_step_pk
    FROM (
        SELECT *, min(seq) OVER (PARTITION BY session_no, turn_no) AS first_seq
        FROM step_facts WHERE turn_no IS NOT NULL
    )
    GROUP BY session_no, turn_no
)
SELECT *,
    (end_us - start_us) / 1e6 AS e2e_s,
    -- TraceLab keeps a turn only if it has an end strictly after its start
    coalesce(end_us > start_us, false) AS kept
FROM g
ORDER BY first_step_pk
"""

HUMAN_WAITS = """
CREATE OR REPLACE TABLE human_waits AS
WITH lagged AS (
    -- events of a session in O1 row order, each row's events stably sorted by time; the
    -- previous event of any type (carried across rows) is where the human wait starts
    SELECT *, lag(ts) OVER (PARTITION BY session_no ORDER BY step_pk, ts, event_index) AS prev_ts
    FROM _events WHERE ts IS NOT NULL
)
SELECT l.session_no, f.session_key, f.provider, l.step_pk, l.ts AS message_us,
    (l.ts - l.prev_ts) / 1e6 AS wait_s
FROM lagged l JOIN step_facts f USING (step_pk)
WHERE l.event_type = 'user_message' AND l.prev_ts IS NOT NULL AND l.ts > l.prev_ts
"""

SESSIONS = """
CREATE OR REPLACE TABLE sessions AS
WITH f AS (
    SELECT session_no,
        any_value(session_key) AS session_key,
        any_value(contributor) AS contributor,
        any_value(provider) AS provider,
        any_value(session_id) AS session_id,
        any_value(root_session_id) AS root_session_id,
        bool_or(is_sidechain) AS is_sidechain,
        count(*) AS steps,
        count(*) FILTER (WHERE t_col = 'user_message') AS user_steps,
        count(*) FILTER (WHERE t_col = 'tool_result') AS tool_steps,
        sum(n_tool_calls) AS tool_calls,
        min(min_event_us) AS first_event_us,
        max(max_event_us) AS last_event_us,
        coalesce(sum(gen_s), 0) AS gen_s,
        sum(tool_s) AS tool_s,
        sum(prefix) AS prefix_tokens,
        sum(append) AS append_tokens,
        sum(output) AS output_tokens,
        count(*) FILTER (WHERE priced) AS priced_steps,
        sum(cost_append) AS cost_append,
        sum(cost_prefix) AS cost_prefix,
        sum(cost_output) AS cost_output,
        sum(cost_total) AS cost_total,
        sum(cost_append_ttl) AS cost_append_ttl,
        sum(cost_total_ttl) AS cost_total_ttl,
        min(step_pk) AS first_step_pk
    FROM step_facts GROUP BY session_no
), r AS (
    SELECT session_no, count(*) AS requests FROM requests WHERE kept GROUP BY session_no
), h AS (
    SELECT session_no, count(*) AS human_waits, sum(wait_s) AS human_s,
        sum(least(wait_s, 3600)) AS human_capped_s
    FROM human_waits GROUP BY session_no
)
SELECT f.*,
    (f.last_event_us - f.first_event_us) / 1e6 AS wall_s,
    coalesce(r.requests, 0) AS requests,
    coalesce(h.human_waits, 0) AS human_waits,
    coalesce(h.human_s, 0) AS human_s,
    coalesce(h.human_capped_s, 0) AS human_capped_s
FROM f LEFT JOIN r USING (session_no) LEFT JOIN h USING (session_no)
ORDER BY first_step_pk
"""


def build_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Create step_facts, requests, human_waits and sessions from the base tables."""
    steps = (STEP_KEYS, EVENTS_KEYED, STEP_EVENTS, STEP_TOOLS, STEP_FACTS_BASE, STEP_FACTS)
    for sql in (*steps, REQUESTS, HUMAN_WAITS, SESSIONS):
        con.execute(sql)
    for temp in ("_step_keys", "_events", "_step_events", "_step_tools", "_step_facts_base"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
