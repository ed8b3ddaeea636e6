"""The report: paper-formatted tables, the paper's values beside ours, figures embedded."""

from __future__ import annotations

import base64

import pytest
from _metrics_helpers import tracelab_example_warehouse

from tracelab_pipeline import catalog
from tracelab_pipeline.metrics import build_all_tables
from tracelab_pipeline.report import build_report, should_compare
from tracelab_pipeline.report.format import duration, fmt, fmt_diff, money, money_k, tokens_k
from tracelab_pipeline.report.tables import (
    comparison,
    paper_values,
    print_resolution,
    within_tolerance,
)

# 1x1 transparent PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    con = tracelab_example_warehouse(data)
    build_all_tables(con)
    figures = data / "figures"
    figures.mkdir()
    (figures / "figure_11_hit_rate_vs_idle_gap.png").write_bytes(PNG)
    report = build_report(con, data, compare=True)
    yield con, data, report
    con.close()


def test_files_written_with_every_table(built):
    _, data, report = built
    assert report.md_path == data / "report" / "report.md"
    md = report.md_path.read_text()
    page = report.html_path.read_text()
    for item in catalog.TABLES:
        title = f"Table {item.number} — {item.title}"
        assert title in md
        assert title in page
    assert "Corrections" in md


def test_paper_values_beside_ours(built):
    _, _, report = built
    rates = {
        (d["row"], d["column"]): d for d in report.comparisons["table_11_prefix_cache_hit_rate"]
    }
    total = rates[("Prefix cache-hit rate", "total")]
    assert (total["ours"], total["paper"], total["difference"]) == ("92.1%", "95.7%", "-3.6 pt")
    assert "| Prefix cache-hit rate | total | 92.1% | 95.7% | -3.6 pt | -3.7% | off |" in (
        report.markdown
    )
    assert total["within_tolerance"] is False
    ok, judged = report.within_tolerance
    assert 0 <= ok < judged


def test_every_paper_value_matches_a_row_of_ours(built):
    """Labels in paper_values.json must name real rows/columns, or a comparison is silently
    empty."""
    _, _, report = built
    spec = paper_values()
    assert set(spec) == {item.table_name for item in catalog.TABLES}
    missing = [
        (name, d["row"], d["column"])
        for name, diffs in report.comparisons.items()
        for d in diffs
        if not d["found"]
    ]
    assert missing == []
    assert set(report.comparisons) == set(spec)


def test_figures_embedded_next_to_tables(built):
    _, _, report = built
    assert report.figures_found == ["figure_11_hit_rate_vs_idle_gap"]
    assert len(report.figures_missing) == len(catalog.FIGURES) - 1
    assert "](../figures/figure_11_hit_rate_vs_idle_gap.png)" in report.markdown
    assert base64.b64encode(PNG).decode() in report.html_path.read_text()
    md = report.markdown
    # Fig 11 sits in the prefix-cache section between Table 11 and Table 12
    assert md.index("Table 11 —") < md.index("figure_11_hit_rate") < md.index("Table 12 —")


def test_no_comparison_for_small_corpus(built, tmp_path):
    con, _, _ = built
    assert not should_compare(con, None)  # 19 steps is not the paper's corpus
    report = build_report(con, tmp_path, compare=None)
    assert not report.compared and report.comparisons == {}
    assert "Beside the paper" not in report.markdown


def test_paper_formats():
    assert fmt(2.5, "half_even") == "2"  # Table 2 prints Python round()
    assert fmt(3.5, "half_even") == "4"
    assert money(178.4) == "$178" and money(13.44) == "$13.4" and money(0.614) == "$0.61"
    assert duration(8.2 * 3600) == "8.2h" and duration(306) == "5.1m" and duration(0) == "0.0s"
    assert fmt(0.9231, "pct1") == "92.3%" and fmt(None, "pct1") == "–"
    # thousands start at 1,000; a difference of zero is signed like a positive one
    assert (money_k(999.99), money_k(1000)) == ("$999.99", "$1.0K")
    assert (tokens_k(999), tokens_k(1000)) == ("999", "1.0K")
    assert fmt_diff(5, 5, "count") == ("+0", "+0.0%") and fmt_diff(3, 5, "count")[0] == "-2"


def test_cli_builds_warehouse_tables_and_report(tmp_path):
    from _metrics_helpers import TRACELAB_SEGMENTS, read_rows, write_public
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    write_public(read_rows(TRACELAB_SEGMENTS), tmp_path / "public", "month=2026-06/contributor=x")
    result = CliRunner().invoke(main, ["metrics", "--data", str(tmp_path), "--compare", "on"])
    assert result.exit_code == 0, result.output
    assert "warehouse: 19 steps, 2 sessions, 5 requests" in result.output
    assert "compared with the paper" in result.output
    assert (tmp_path / "report" / "report.md").is_file()
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM paper.table_11_prefix_cache_hit_rate").fetchone()
    assert n == (3,)


def test_cli_refuses_a_public_layer_that_does_not_exist(tmp_path):
    """A mistyped --data or --public gave an empty warehouse and report, and exit 0; a --data
    that cannot be created gave a traceback."""
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    runner = CliRunner()
    typo = tmp_path / "pubilc"
    result = runner.invoke(main, ["metrics", "--data", str(tmp_path), "--public", str(typo)])
    assert result.exit_code == 1 and f"{typo} not found" in result.output
    result = runner.invoke(main, ["metrics", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and f"{tmp_path / 'nowhere' / 'public'} not found" in result.output
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert not (tmp_path / "nowhere").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "steps.parquet").write_bytes(b"")  # only has to be found
    args = ["metrics", "--data", str(blocker / "d"), "--public", str(tmp_path / "public")]
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and f"cannot create {blocker / 'd'}" in result.output


def test_a_value_that_prints_as_the_papers_is_within_tolerance():
    dollars = paper_values()["table_05_cost_distribution"]["printed"]
    assert [print_resolution(v, dollars) for v in (0.01, 9.7, 13.4, 178)] == [
        0.005,
        0.005,
        0.05,
        0.5,
    ]
    assert print_resolution(0.01, None) == 0.0
    # $0.0124 prints as the paper's $0.01 although it is 24 % above it; $0.016 does not.
    assert within_tolerance(0.0124, 0.01, "usd", "avg", print_resolution(0.01, dollars))
    assert not within_tolerance(0.016, 0.01, "usd", "avg", print_resolution(0.01, dollars))
    assert not within_tolerance(0.0124, 0.01, "usd", "avg")
    assert not within_tolerance(210, 178, "usd", "p50", print_resolution(178, dollars))
    # the limits themselves are inside: 15 % (35 % for a P99)
    assert within_tolerance(115, 100, "count", "avg") and not within_tolerance(
        116, 100, "count", "avg"
    )
    assert within_tolerance(135, 100, "count", "p99") and not within_tolerance(
        136, 100, "count", "p99"
    )


def test_a_p99_named_in_the_row_gets_the_p99_tolerance():
    # Table 4 prints its quantiles as rows; the P99 row is +-35 %, the P90 row +-15 %.
    rows = [
        {"block": "Compactions per session", "metric": "P90 (sessions with ≥1)", "claude": 7.2},
        {"block": "Compactions per session", "metric": "P99 (sessions with ≥1)", "claude": 14.4},
    ]
    verdict = {
        d["row"]: d["within_tolerance"]
        for d in comparison("table_04_compaction", rows)
        if d["column"] == "claude" and d["found"]
    }
    assert verdict == {
        "Compactions per session / P90 (sessions with ≥1)": False,
        "Compactions per session / P99 (sessions with ≥1)": True,
    }


def test_the_report_says_why_it_is_not_compared(built, tmp_path):
    con, _, _ = built
    auto = build_report(con, tmp_path, compare=None)
    assert "Not compared with the paper: its corpus has 357,161 steps, this one 19" in auto.markdown
    off = build_report(con, tmp_path, compare=False)
    assert "Not compared" not in off.markdown
    assert "the Corrections section at the end gives the corrected value" in off.markdown
    compared = build_report(con, tmp_path, compare=True)
    assert "'off' marks a value outside the tolerance below" in compared.markdown
    assert compared.markdown.index("'off' marks") < compared.markdown.index("Against the paper")


def test_figures_older_than_the_warehouse_are_left_out(built, tmp_path):
    """`tracelab metrics` on another corpus embedded the previous corpus's figures."""
    import os
    import time

    con, _, _ = built
    (tmp_path / "figures").mkdir()
    png = tmp_path / "figures" / "figure_11_hit_rate_vs_idle_gap.png"
    png.write_bytes(PNG)
    os.utime(png, (time.time() - 60, time.time() - 60))
    report = build_report(con, tmp_path, compare=False, figures_since=time.time() - 30)
    assert report.figures_found == []
    assert "figure_11_hit_rate_vs_idle_gap" in report.figures_missing
    assert "Figure 11 (Prefix-cache hit rate vs preceding idle gap): from an earlier" in (
        report.markdown
    )
    assert base64.b64encode(PNG).decode() not in report.html_path.read_text()
    assert build_report(con, tmp_path, compare=False).figures_found == [png.stem]


def test_cli_metrics_then_figures_leaves_a_report_with_this_corpus_figures(tmp_path):
    from _metrics_helpers import TRACELAB_SEGMENTS, read_rows, write_public
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    write_public(read_rows(TRACELAB_SEGMENTS), tmp_path / "public", "month=2026-06/contributor=x")
    (tmp_path / "figures").mkdir()
    old = tmp_path / "figures" / "figure_11_hit_rate_vs_idle_gap.png"
    old.write_bytes(PNG)  # left by an earlier run on another corpus
    runner = CliRunner()
    result = runner.invoke(main, ["metrics", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "(0 figure(s) embedded)" in result.output
    assert f"next: `tracelab figures --data {tmp_path}`" in result.output
    # --data-dir as in `tracelab demo` works too
    result = runner.invoke(main, ["figures", "--data-dir", str(tmp_path), "--only", "11"])
    assert result.exit_code == 0, result.output
    assert "rewritten (1 figure(s) embedded)" in result.output
    page = (tmp_path / "report" / "report.html").read_text()
    assert base64.b64encode(old.read_bytes()).decode() in page
    assert base64.b64encode(PNG).decode() not in page


def test_cli_metrics_refuses_a_directory_of_raw_logs(tmp_path):
    """`--public` pointed at raw logs gave an empty warehouse and report, and exit 0."""
    from click.testing import CliRunner

    from tracelab_pipeline.cli import main

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "session.jsonl").write_text('{"type": "user"}\n')
    result = CliRunner().invoke(main, ["metrics", "--data", str(tmp_path), "--public", str(logs)])
    assert result.exit_code == 1
    assert f"{logs} holds no steps Parquet" in result.output
    assert "tracelab normalize" in result.output
    assert not (tmp_path / "warehouse.duckdb").exists()
