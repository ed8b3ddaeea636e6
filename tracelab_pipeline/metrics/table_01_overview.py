"""Table 1 — trace overview: scope, activity, price and token totals, model mix.

tracelab-metrics §2 Table 1. Model-mix labels are not produced by any TraceLab script (its open
question Q1); ours: drop the `claude-` prefix and a trailing `-YYYYMMDD` date, show every model
with at least 2% of its provider's steps (at most 5), the rest as "Other".
"""

from __future__ import annotations

import re

import duckdb

from tracelab_pipeline.metrics.common import (
    PROVIDER_COLUMNS,
    SCOPES,
    scope_filter,
    write_paper_table,
)

NAME = "table_01_overview"
COLUMNS = PROVIDER_COLUMNS + [
    ("claude_text", "VARCHAR"),
    ("codex_text", "VARCHAR"),
    ("total_text", "VARCHAR"),
]

MIX_MIN_SHARE = 0.02
MIX_MAX_MODELS = 5


def model_label(model: str | None) -> str:
    if not model:
        return "(none)"
    label = re.sub(r"-\d{8}$", "", model)
    return label.removeprefix("claude-")


def _model_mix(con: duckdb.DuckDBPyConnection, provider: str) -> str:
    rows = con.execute(
        "SELECT model, count(*) FROM step_facts WHERE provider = ? GROUP BY model", [provider]
    ).fetchall()
    shares: dict[str, int] = {}
    for model, n in rows:
        shares[model_label(model)] = shares.get(model_label(model), 0) + n
    total = sum(shares.values())
    if not total:
        return ""
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [(m, n) for m, n in ranked if n / total >= MIX_MIN_SHARE][:MIX_MAX_MODELS]
    other = total - sum(n for _, n in shown)
    parts = [f"{m} {100 * n / total:.1f}%" for m, n in shown]
    if other:
        parts.append(f"Other {100 * other / total:.1f}%")
    return " ".join(parts)


def _window(con: duckdb.DuckDBPyConnection, provider: str | None) -> str:
    where = scope_filter(provider, "f.provider")
    lo, hi = con.execute(
        f"""
        SELECT min(lo), max(hi) FROM (
            SELECT min(min_event_us) AS lo, max(max_event_us) AS hi FROM step_facts f
            WHERE {where}
            UNION ALL
            SELECT least(min(epoch_us(t.emitted_at)), min(epoch_us(t.result_at))),
                   greatest(max(epoch_us(t.emitted_at)), max(epoch_us(t.result_at)))
            FROM tool_calls t JOIN step_facts f USING (contributor, step_id) WHERE {where}
        )"""
    ).fetchone()
    if lo is None:
        return ""
    fmt = con.execute(
        "SELECT strftime(make_timestamp(?), '%b %Y'), strftime(make_timestamp(?), '%b %Y')",
        [lo, hi],
    ).fetchone()
    return f"{fmt[0]}–{fmt[1]}"


def build(con: duckdb.DuckDBPyConnection) -> int:
    values: dict[str, dict] = {}
    texts: dict[str, dict] = {}
    for label, provider in SCOPES:
        key = label.lower()
        where = scope_filter(provider)
        steps = con.execute(
            f"""SELECT count(*), count(DISTINCT contributor), count(DISTINCT session_no),
                sum(n_tool_calls), sum(cost_total), sum(total), sum(append), sum(prefix),
                sum(output), sum(reasoning), count(*) FILTER (WHERE priced),
                count(DISTINCT model)
            FROM step_facts WHERE {where}"""
        ).fetchone()
        values[key] = dict(
            zip(
                (
                    "steps",
                    "users",
                    "sessions",
                    "tool_calls",
                    "price",
                    "input",
                    "append",
                    "prefix",
                    "output",
                    "reasoning",
                    "priced",
                    "models",
                ),
                steps,
                strict=True,
            )
        )
        texts[key] = {"window": _window(con, provider)}
        texts[key]["mix"] = (
            _model_mix(con, provider) if provider else f"{values[key]['models']} models"
        )
    # Claude does not report reasoning tokens separately ("—" in the paper).
    values["claude"]["reasoning"] = None

    def row(block, metric, field, unit):
        return {
            "block": block,
            "metric": metric,
            **{k: values[k][field] for k in ("claude", "codex", "total")},
            "unit": unit,
        }

    def text_row(block, metric, field):
        return {
            "block": block,
            "metric": metric,
            "unit": "text",
            **{f"{k}_text": texts[k][field] for k in ("claude", "codex", "total")},
        }

    priced_share = {
        k: (values[k]["priced"] / values[k]["steps"] if values[k]["steps"] else None)
        for k in values
    }
    rows = [
        text_row("Models", "Model mix (% within provider)", "mix"),
        row("Scope & activity", "Sessions", "sessions", "count"),
        row("Scope & activity", "Distinct users", "users", "count"),
        text_row("Scope & activity", "Observation window", "window"),
        row("Scope & activity", "LLM steps", "steps", "count"),
        row("Scope & activity", "Tool calls", "tool_calls", "count"),
        row("Scope & activity", "Est. API price equiv.", "price", "usd_k"),
        row("Tokens", "Total input tokens", "input", "tokens_bm"),
        row("Tokens", "Append tokens", "append", "tokens_bm"),
        row("Tokens", "Prefix tokens", "prefix", "tokens_bm"),
        row("Tokens", "Output tokens (incl. reasoning)", "output", "tokens_bm"),
        row("Tokens", "Reasoning tokens", "reasoning", "tokens_bm"),
        {
            "block": "Pricing coverage",
            "metric": "Priced steps",
            **priced_share,
            "unit": "pct",
        },
        row("Pricing coverage", "Distinct models", "models", "count"),
    ]
    return write_paper_table(con, NAME, COLUMNS, rows)
