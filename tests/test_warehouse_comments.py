"""A researcher who only has warehouse.duckdb can read what every table and column means."""

from __future__ import annotations

import duckdb
from _metrics_helpers import TRACELAB_SEGMENTS, read_rows, write_public

from tracelab_pipeline import catalog, schema
from tracelab_pipeline.warehouse import BASE_TABLES, DERIVED_TABLES, build_warehouse


def _built(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    build_warehouse(con, write_public(read_rows(TRACELAB_SEGMENTS), tmp_path / "public"))
    return con


def _table_comments(con, schema_name: str) -> dict[str, str | None]:
    rows = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = ?", [schema_name]
    ).fetchall()
    return dict(rows)


def test_base_and_derived_tables_and_base_columns_are_commented(tmp_path):
    con = _built(tmp_path)
    tables = _table_comments(con, "main")
    for name in BASE_TABLES + DERIVED_TABLES:
        assert tables[name], name
    for name in BASE_TABLES:
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ?",
                [name],
            ).fetchall()
        )
        assert list(comments) == schema.public_schema(name).names
        assert all(comments.values()), [c for c, v in comments.items() if not v]
    cols = "SELECT comment FROM duckdb_columns() WHERE table_name = ? AND column_name = ?"
    # Ids are described as what the public layer holds (pseudonyms), units as the contract says.
    assert (
        con.execute(cols, ["steps", "session_id"]).fetchone()[0].startswith("keyed pseudonym (ses_")
    )
    assert con.execute(cols, ["steps", "project"]).fetchone()[0].startswith("keyed pseudonym")
    # A rebuild (CREATE OR REPLACE drops comments) keeps them.
    build_warehouse(con, tmp_path / "public")
    assert _table_comments(con, "main")["steps"] == tables["steps"]


def test_paper_tables_carry_the_paper_title(tmp_path):
    from tracelab_pipeline.metrics import build_all_tables

    con = _built(tmp_path)
    build_all_tables(con)
    tables = _table_comments(con, "paper")
    for item in catalog.TABLES:
        assert tables[item.table_name].startswith(f"paper Table {item.number}: {item.title}")
    assert tables["table_05_cost_distribution_ttl"].startswith("paper Table 5:")
    # the table the paper's Table 10 is compared with says how it differs from Table 10
    own, companion = (
        tables["table_10_codex_tool_overhead"],
        tables["table_10_codex_tool_overhead_tracelab_way"],
    )
    assert companion.startswith(own) and companion != own
    assert "calls timed the TraceLab way, compared with the paper in place of" in companion
    assert tables["corrections"]
    unit = con.execute(
        "SELECT comment FROM duckdb_columns() "
        "WHERE table_name = 'table_07_timing' AND column_name = 'unit'"
    ).fetchone()[0]
    assert "unit" in unit


def test_figure_tables_carry_the_figure_title(tmp_path):
    from tracelab_pipeline.figure_data import build_all
    from tracelab_pipeline.metrics import build_all_tables

    con = _built(tmp_path)
    build_all_tables(con)
    build_all(con)
    tables = _table_comments(con, "paper")
    for item in catalog.FIGURES:
        assert tables[item.table_name].startswith(f"paper Figure {item.number}: {item.title}")
