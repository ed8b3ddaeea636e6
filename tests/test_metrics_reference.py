"""TraceLab's own reference values on its 19-step example trace (tracelab-metrics §8)."""

from __future__ import annotations

import pytest
from _metrics_helpers import tracelab_example_warehouse

from tracelab_pipeline import catalog
from tracelab_pipeline.metrics import build_all_tables


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    con = tracelab_example_warehouse(tmp_path_factory.mktemp("ref"))
    build_all_tables(con)
    yield con
    con.close()


def cell(con, table, column, **where):
    cond = " AND ".join(f"{k} = ?" for k in where)
    rows = con.execute(
        f"SELECT {column} FROM paper.{table} WHERE {cond}", list(where.values())
    ).fetchall()
    assert len(rows) == 1, (table, where, rows)
    return rows[0][0]


def py_round(x):
    return round(x)  # Python half-to-even, as TraceLab displays Table 2


def test_example_shape(con):
    assert con.execute("SELECT count(*) FROM steps").fetchone()[0] == 19
    assert con.execute("SELECT count(*) FROM tool_calls").fetchone()[0] == 19
    assert con.execute("SELECT count(*) FROM timing_events").fetchone()[0] == 84


def test_table_02_loop_counts(con):
    t = "table_02_loop_counts"
    req = dict(block="Per session", metric="Requests", scope="Total")
    assert cell(con, t, "avg", **req) == pytest.approx(2.5)
    assert cell(con, t, "p25", **req) == pytest.approx(2.25)
    assert py_round(cell(con, t, "p25", **req)) == 2
    assert py_round(cell(con, t, "p50", **req)) == 2  # 2.5 -> 2 (half-to-even)
    assert cell(con, t, "total", **req) == 5
    calls = dict(block="Per request", metric="Tool calls", scope="Total")
    assert round(cell(con, t, "avg", **calls), 1) == 3.8
    # paper macros: 3.8 LLM steps per request (every step folded into the turn)
    steps = dict(block="Per request", metric="LLM steps (all rows of the request)", scope="Total")
    assert round(cell(con, t, "avg", **steps), 1) == 3.8
    step = dict(block="Per step", metric="Tool calls", scope="Total")
    assert round(cell(con, t, "avg", **step), 1) == 1.0
    assert con.execute("SELECT count(*) FROM requests WHERE kept").fetchone()[0] == 5


def test_table_03_context_growth(con):
    t = "table_03_context_growth"
    assert cell(con, t, "claude", block="All steps", metric="Steps") == 9
    assert cell(con, t, "codex", block="All steps", metric="Steps") == 8
    assert cell(con, t, "codex", block="User-initiated steps", metric="Micro reductions") == 1
    assert cell(con, t, "codex", block="All steps", metric="Micro reductions") == 1
    growth = dict(block="All steps", metric="Avg positive growth")
    assert cell(con, t, "claude", **growth) == pytest.approx(1781.44, abs=0.005)
    assert cell(con, t, "codex", **growth) == pytest.approx(401.29, abs=0.005)
    delta = con.execute(
        "SELECT total - prev_total FROM step_facts WHERE provider = 'codex' "
        "AND t_first = 'user_message' AND total < prev_total"
    ).fetchall()
    assert delta == [(-36,)]


def test_table_04_no_major_reduction(con):
    t = "table_04_compaction"
    assert cell(con, t, "total", metric="Major reductions (64k drop)") == 0
    assert cell(con, t, "total", metric="Sessions") == 2


def test_table_05_cost(con):
    t = "table_05_cost_distribution"
    session = dict(block="Per session", scope="Total")
    assert round(cell(con, t, "avg", metric="Total", **session), 2) == 0.33
    assert round(100 * cell(con, t, "pct_cost", metric="Append tokens", **session), 1) == 28.1
    assert round(100 * cell(con, t, "pct_cost", metric="Prefix tokens", **session), 1) == 32.4
    assert round(100 * cell(con, t, "pct_cost", metric="Output tokens", **session), 1) == 39.5
    request = dict(block="Per request", metric="Total", scope="Total")
    assert round(cell(con, t, "avg", **request), 2) == 0.13
    assert round(cell(con, t, "p50", **request), 2) == 0.05


def test_table_07_timing(con):
    t = "table_07_timing"
    e2e = sorted(
        round(x, 3) for (x,) in con.execute("SELECT e2e_s FROM requests WHERE kept").fetchall()
    )
    assert e2e == sorted([123.269, 58.502, 24.037, 7.144, 5.150])
    req = dict(block="Per request", metric="Total (response time)", scope="Total")
    assert cell(con, t, "avg", **req) == pytest.approx(43.6204, abs=1e-4)
    assert cell(con, t, "p50", **req) == pytest.approx(24.037, abs=1e-6)
    assert round(cell(con, t, "p90", **req) / 60, 1) == 1.6
    gen = dict(block="Per step", metric="LLM generation", scope="Total")
    assert round(cell(con, t, "avg", **gen), 1) == 7.3
    assert round(cell(con, t, "p50", **gen), 1) == 3.9
    human = dict(block="Per individual latency", metric="Human thinking", scope="Total")
    assert cell(con, t, "n", **human) == 3
    assert round(cell(con, t, "avg", **human), 1) == 14.9
    assert round(cell(con, t, "p50", **human), 1) == 18.4
    tool = dict(block="Per individual latency", metric="Tool execution", scope="Total")
    assert round(cell(con, t, "p50", **tool), 1) == 1.0


def test_table_08_token_lengths(con):
    t = "table_08_token_lengths"
    assert round(cell(con, t, "avg", block="Prefix tokens", metric="Claude")) == 39_407
    assert cell(con, t, "p50", block="Prefix tokens", metric="Claude") == 41_358
    assert cell(con, t, "p50", block="Output tokens", metric="Codex") == 233
    # paper macros: merged medians
    assert cell(con, t, "p50", block="Append tokens", metric="Total") == 1_359
    assert cell(con, t, "p50", block="Output tokens", metric="Total") == 273


def test_table_11_hit_rate(con):
    t = "table_11_prefix_cache_hit_rate"
    expected = {
        "Prefix cache-hit rate": (94.2, 83.0, 92.1),
        "Prefix hit rate (user-initiated)": (91.6, 84.1, 89.4),
        "Prefix hit rate (tool-result)": (94.8, 82.4, 92.9),
    }
    for metric, values in expected.items():
        got = tuple(
            round(100 * cell(con, t, c, metric=metric), 1) for c in ("claude", "codex", "total")
        )
        assert got == values, metric
    assert 100 * cell(con, t, "total", metric="Prefix cache-hit rate") == pytest.approx(
        92.129, abs=0.0005
    )


def test_table_12_fresh_tokens(con):
    t = "table_12_fresh_tokens_amplification"
    overall = dict(block="Overall")
    assert cell(con, t, "total", metric="Steps (paired events)", **overall) == 17
    assert cell(con, t, "total", metric="Total append tokens", **overall) == 32_989
    assert cell(con, t, "total", metric="Context growth", **overall) == 18_842
    assert cell(con, t, "total", metric="Prior output", **overall) == 10_434
    assert cell(con, t, "total", metric="Total fresh tokens", **overall) == 8_408
    assert round(100 * cell(con, t, "total", metric="Fresh % of append", **overall), 2) == 25.49
    assert cell(con, t, "total", block="User-initiated", metric="Total fresh tokens") == -389
    # the intro's growth-based amplification (paper macros: 40,456 / 18,842 = 2.147x)
    intro = "Growth-based amplification (intro: all-step append / growth)"
    assert round(cell(con, t, "total", metric=intro, **overall), 3) == 2.147


def test_table_13_counterfactual(con):
    t = "table_13_human_think_counterfactual"
    users = [
        cell(con, t, c, metric="User steps w/ predecessor") for c in ("claude", "codex", "total")
    ]
    assert users == [1, 2, 3]
    assert cell(con, t, "total", metric="Observed append") == 40_456
    assert cell(con, t, "total", metric="Append after retained cache") == 37_966
    assert cell(con, t, "claude", metric="Append reduction") == 2
    assert cell(con, t, "codex", metric="Append reduction") == 2_488
    assert round(100 * cell(con, t, "total_pct", metric="Append reduction"), 2) == 6.15
    assert round(cell(con, t, "total", metric="Observed total cost"), 2) == 0.67
    assert round(cell(con, t, "total", metric="Cost after retained cache"), 2) == 0.66


def test_every_table_written(con):
    for item in catalog.TABLES:
        n = con.execute(f"SELECT count(*) FROM paper.{item.table_name}").fetchone()[0]
        assert n > 0, item.table_name
