"""DuckDB `COMMENT ON` descriptions, so a researcher who only has warehouse.duckdb can read
what each table and column means (`duckdb_tables()` / `duckdb_columns()`, column `comment`).

`CREATE OR REPLACE` drops a table's comments, so every writer comments right after creating.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline import catalog

BASE_TABLE_DOCS = {
    "steps": "one row per model call (step); public layer, ids pseudonymized; tokens are tokens",
    "tool_calls": "one row per tool call of a step; latencies in ms",
    "timing_events": "timestamped events of a step (input, reasoning, text, tool call, usage)",
    "ingest_accounting": "one row per log file read: lines_read = used + ignored + rejected, "
    "ignored record types and rejection reasons with counts; no path",
    "rejected_records": "one row per rejected line: line number and reason (a quoted raw value "
    "as <VALUE>); no path, no raw line",
}

# Columns the data contract leaves undescribed (their name says it there).
BASE_COLUMN_DOCS = {
    "ingest_accounting": {
        "records_used": "lines that fed a step, tool call or timing event",
        "records_ignored": "lines read and deliberately not used (see ignored_by_type)",
        "records_rejected": "lines that could not be used (see rejected_by_reason)",
        "tool_calls": "tool calls produced from this file",
    },
    "rejected_records": {"reason": "why the line was rejected"},
}

DERIVED_TABLE_DOCS = {
    "model_prices": "each distinct (provider, model) resolved against pricing.json; USD per MTok",
    "step_facts": "one row per step: O1 order, event/tool aggregates (seconds), costs (USD), turn",
    "requests": "user turns (TraceLab request state machine); times in s, USD; `kept` flag",
    "human_waits": "every positive human input wait (wait_s, seconds)",
    "sessions": "one row per (contributor, provider, session_id); times in s, costs in USD",
}

# Columns shared by the paper.* tables (metrics/common.py layouts).
PAPER_COLUMN_DOCS = {
    "row_no": "row order as in the paper (1-based)",
    "block": "section of the paper table this row belongs to",
    "metric": "row label, as in the paper",
    "avg": "mean, in `unit`",
    "p25": "25th percentile, in `unit`",
    "p50": "median, in `unit`",
    "p90": "90th percentile, in `unit`",
    "p99": "99th percentile, in `unit`",
    "n": "number of observations the statistics are over",
    "total": "sum (stat tables) or all-provider value (claude/codex tables), in `unit`",
    "unit": "display format of the row (pct, duration, tokens, usd, ...); values are stored"
    " in base units: fractions, seconds, tokens, USD (docs/metrics.md)",
    "claude": "value for Claude Code, in `unit`",
    "codex": "value for Codex CLI, in `unit`",
    "scope": "which population the row covers",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_table(con: duckdb.DuckDBPyConnection, qualified: str, text: str) -> None:
    con.execute(f"COMMENT ON TABLE {qualified} IS {_literal(text)}")


def comment_columns(con: duckdb.DuckDBPyConnection, qualified: str, docs: dict[str, str]) -> None:
    """Comment every column of `qualified` that `docs` describes (others are left alone)."""
    schema_name, _, table = qualified.rpartition(".")
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
            [schema_name or "main", table.strip('"')],
        ).fetchall()
    }
    for column, doc in docs.items():
        if column in present:
            con.execute(f'COMMENT ON COLUMN {qualified}."{column}" IS {_literal(doc)}')


def comment_base_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Table and column descriptions from schema.public_schema (the data contract's docs)."""
    qualified = f'"{table}"'
    comment_table(con, qualified, BASE_TABLE_DOCS.get(table, table))
    from tracelab_pipeline.anonymize.pseudonyms import public_column_docs

    docs = {name: doc for name, doc in public_column_docs(table).items() if doc}
    docs = {**BASE_COLUMN_DOCS.get(table, {}), **docs}
    comment_columns(con, f"main.{table}", docs)


def comment_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, text in DERIVED_TABLE_DOCS.items():
        comment_table(con, f"main.{table}", text)


def comment_paper_item(
    con: duckdb.DuckDBPyConnection, item: catalog.Item, name: str = "", note: str = ""
) -> None:
    """Comment `paper.<name or item.table_name>` with the paper's title (then `note`) and
    shared columns."""
    name = name or item.table_name
    kind = "Table" if item.kind == "table" else "Figure"
    text = f"paper {kind} {item.number}: {item.title}; definitions in docs/metrics.md"
    if item.kind == "figure":
        text = f"paper {kind} {item.number}: {item.title}; columns in docs/figures.md"
    comment_table(con, f"paper.{name}", text + note)
    comment_columns(con, f"paper.{name}", PAPER_COLUMN_DOCS)


# paper.* tables that are not one of the paper's tables.
OTHER_PAPER_TABLE_DOCS = {
    "corrections": "paper definition beside the corrected one; see docs/metrics.md",
}


def comment_paper_table(con: duckdb.DuckDBPyConnection, name: str, note: str = "") -> None:
    """Comment `paper.<name>`: a paper table or one of its companions (`<table_name>_ttl`)
    with the paper's title (then `note`, what sets a companion apart), others from
    OTHER_PAPER_TABLE_DOCS; shared columns either way."""
    item = next(
        (i for i in catalog.TABLES if name == i.table_name or name.startswith(i.table_name + "_")),
        None,
    )
    if item is not None:
        comment_paper_item(con, item, name, note)
        return
    comment_table(con, f"paper.{name}", OTHER_PAPER_TABLE_DOCS.get(name, name))
    comment_columns(con, f"paper.{name}", PAPER_COLUMN_DOCS)
