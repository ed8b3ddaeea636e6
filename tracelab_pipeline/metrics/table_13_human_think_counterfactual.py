"""Table 13 — human-thinking cache counterfactual (upper bound of what retained cache saves).

tracelab-metrics §2 Table 13. For a step whose first timing event is a user message and that has
a predecessor in its session (O1): growth = max(0, total - prev total), counterfactual append =
min(append, growth), the rest moves to prefix (total unchanged). Every other step is unchanged.
Claude cache writes shrink first: w' = min(max(0, w - shifted), cf_append). Costs use the
paper's pricing (5-minute write rate) over priced steps; unpriced steps count in tokens only.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import PROVIDER_COLUMNS, ratio, write_paper_table

NAME = "table_13_human_think_counterfactual"
COLUMNS = PROVIDER_COLUMNS + [
    ("claude_pct", "DOUBLE"),
    ("codex_pct", "DOUBLE"),
    ("total_pct", "DOUBLE"),
]

STEPS = """
WITH s AS (
    SELECT *,
        t_first = 'user_message' AND prev_total IS NOT NULL AS cf_step,
        least(greatest(coalesce(cache_write_tokens, 0), 0), append) AS w
    FROM step_facts
), c AS (
    SELECT *,
        CASE WHEN cf_step THEN least(append, greatest(total - prev_total, 0)) ELSE append END
            AS cf_append
    FROM s
), d AS (
    SELECT *,
        least(greatest(w - (append - cf_append), 0), cf_append) AS cf_w
    FROM c
)
SELECT provider, cf_step, priced, append, cf_append,
    cost_total AS obs_cost,
    CASE WHEN priced THEN
        ((cf_append - cf_w) * price_input + cf_w * coalesce(price_cache_write_5m, price_input)
         + (total - cf_append) * price_cache_read + output * price_output) / 1e6 END AS cf_cost
FROM d
"""


def build(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.execute(
        f"""SELECT coalesce(provider, 'total'),
            count(*) FILTER (WHERE cf_step),
            sum(append), sum(cf_append),
            sum(append) FILTER (WHERE cf_step),
            sum(obs_cost), sum(cf_cost),
            avg(obs_cost - cf_cost) FILTER (
                WHERE cf_step AND cf_append < append AND obs_cost - cf_cost > 0),
            count(*) FILTER (WHERE cf_step AND cf_append < append)
        FROM ({STEPS}) GROUP BY GROUPING SETS ((provider), ())"""
    )
    keys = (
        "user_steps",
        "append",
        "cf_append",
        "user_append",
        "obs_cost",
        "cf_cost",
        "avg_saved",
        "reduced_steps",
    )
    found = {r[0]: dict(zip(keys, r[1:], strict=True)) for r in cur.fetchall()}
    empty = dict.fromkeys(keys)
    v = {s: found.get(s, empty) for s in ("claude", "codex", "total")}

    def reduction(observed, after):
        """observed - counterfactual, in the units of `observed`."""
        return lambda r: None if r[observed] is None or r[after] is None else r[observed] - r[after]

    def row(metric, fn, unit, pct=None):
        r = {"block": "", "metric": metric, "unit": unit}
        for s, rec in v.items():
            r[s] = fn(rec)
            if pct:
                r[f"{s}_pct"] = ratio(r[s], pct(rec))
        return r

    append_cut = reduction("append", "cf_append")
    cost_cut = reduction("obs_cost", "cf_cost")
    rows = [
        row("User steps w/ predecessor", lambda r: r["user_steps"], "count"),
        row("Observed append", lambda r: r["append"], "tokens_bm"),
        row("Append after retained cache", lambda r: r["cf_append"], "tokens_bm"),
        row("Append reduction", append_cut, "tokens_bm", pct=lambda r: r["append"]),
        row("Observed total cost", lambda r: r["obs_cost"], "usd_int"),
        row("Cost after retained cache", lambda r: r["cf_cost"], "usd_int"),
        row("Cost reduction", cost_cut, "usd_int", pct=lambda r: r["obs_cost"]),
        row("Avg saved / reduced step", lambda r: r["avg_saved"], "usd_small"),
        row(
            "Append reduction, share of user-step append",
            lambda r: ratio(append_cut(r), r["user_append"]),
            "pct1",
        ),
        row("Reduced steps", lambda r: r["reduced_steps"], "count"),
    ]
    return write_paper_table(con, NAME, COLUMNS, rows)
