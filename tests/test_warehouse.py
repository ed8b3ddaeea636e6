"""Warehouse: loading the public layer, the derived tables, and the Dagster assets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pyarrow.compute as pc
from _metrics_helpers import TRACELAB_SEGMENTS, read_rows, write_public

from tracelab_pipeline import catalog, schema
from tracelab_pipeline.warehouse import BASE_TABLES, build_warehouse
from tracelab_pipeline.warehouse.load import duckdb_type

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def step(session: str, index: int, **kw) -> dict:
    row = {
        "step_id": f"{session}:{index}",
        "contributor": "c1",
        "provider": "claude",
        "session_id": session,
        "root_session_id": session,
        "is_sidechain": False,
        "step_index": index,
        "source_line": index + 1,
        "round_id": f"msg_{session}_{index}",
        "model": "claude-opus-4-7",
        "input_tokens_total": 0,
        "prefix_tokens": 1000,
        "append_tokens": 100,
        "output_tokens": 50,
        "trigger": "tool",
        "first_input_event_type": "tool_result",
        "first_event_type": "tool_result",
        "current_input_event_count": 1,
        "current_user_message_count": 0,
        "current_tool_result_count": 1,
        "current_user_message_chars": 0,
        "current_tool_result_chars": 10,
        "current_input_chars": 10,
        "after_compaction": False,
        "tool_call_count": 0,
    }
    row.update(kw)
    row["input_tokens_total"] = row["prefix_tokens"] + row["append_tokens"]
    return row


def event(step_id: str, index: int, kind: str, seconds: float | None) -> dict:
    return {
        "step_id": step_id,
        "contributor": "c1",
        "event_index": index,
        "event_type": kind,
        "timestamp": None if seconds is None else T0 + timedelta(seconds=seconds),
        "source": "test",
    }


def build(tmp_path, steps, events, tools=()) -> duckdb.DuckDBPyConnection:
    tables = {
        "steps": schema.to_table("steps", steps),
        "timing_events": schema.to_table("timing_events", list(events)),
        "tool_calls": schema.to_table("tool_calls", list(tools)),
    }
    root = write_public(tables, tmp_path / "public")
    con = duckdb.connect()
    build_warehouse(con, root)
    return con


def test_base_tables_have_exactly_the_public_schema(tmp_path):
    tables = read_rows(TRACELAB_SEGMENTS)
    # two hive partitions (one per provider), laid out as the public layer writes them
    for provider, month in (("claude", "2026-06"), ("codex", "2026-03")):
        steps = tables["steps"].filter(pc.equal(tables["steps"]["provider"], provider))
        ids = steps["step_id"]
        part = {"steps": steps}
        for name in ("tool_calls", "timing_events"):
            part[name] = tables[name].filter(pc.is_in(tables[name]["step_id"], ids))
        write_public(part, tmp_path / "public", f"month={month}/contributor=x{provider}")
    con = duckdb.connect()
    counts = build_warehouse(con, tmp_path / "public")
    assert counts["steps"] == 19 and counts["tool_calls"] == 19 and counts["timing_events"] == 84
    for name in BASE_TABLES:
        described = con.execute(f"DESCRIBE {name}").fetchall()
        want = [
            (f.name, duckdb_type(f).replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"))
            for f in schema.public_schema(name)
        ]
        assert [(c[0], c[1]) for c in described] == want
    assert counts["sessions"] == 2 and counts["requests"] == 5


def test_flat_layout_and_missing_tables(tmp_path):
    import pyarrow.parquet as pq

    root = tmp_path / "truth"
    root.mkdir()
    pq.write_table(schema.to_table("steps", [step("s", 0)]), root / "steps.parquet")
    con = duckdb.connect()
    counts = build_warehouse(con, root)
    assert counts["steps"] == 1 and counts["tool_calls"] == 0 and counts["timing_events"] == 0
    assert con.execute("SELECT n_events, gen_s, turn_no FROM step_facts").fetchone() == (
        0,
        None,
        None,
    )


def test_request_state_machine(tmp_path):
    s = "sess"
    steps = [
        step(s, 0),  # before any trigger: belongs to no request
        step(s, 1, first_input_event_type="user_message", first_event_type="user_message"),
        step(s, 2),
        step(s, 3, first_input_event_type="user_message", first_event_type="user_message"),
        step(s, 4, first_input_event_type="user_message", first_event_type="user_message"),
    ]
    ev = [
        event(f"{s}:0", 0, "tool_result", 0),
        event(f"{s}:0", 1, "text", 1),
        # user message at 10 s; outputs 12..15 s -> opens turn 1
        event(f"{s}:1", 0, "user_message", 10),
        event(f"{s}:1", 1, "reasoning", 12),
        event(f"{s}:1", 2, "tool_call", 15),
        event(f"{s}:2", 0, "tool_result", 20),
        event(f"{s}:2", 1, "text", 30),
        # a user message AFTER the first output is not a trigger... this one is at 40 <= 40
        event(f"{s}:3", 0, "user_message", 40),
        event(f"{s}:3", 1, "text", 40),
        # trigger at 100 s, outputs at 100 s only: end - start = 0 -> turn dropped
        event(f"{s}:4", 0, "user_message", 100),
        event(f"{s}:4", 1, "text", 100),
    ]
    con = build(tmp_path, steps, ev)
    turns = con.execute(
        "SELECT turn_no, steps, e2e_s, kept FROM requests ORDER BY turn_no"
    ).fetchall()
    assert turns == [(1, 2, 20.0, True), (2, 1, 0.0, False), (3, 1, 0.0, False)]
    assert con.execute("SELECT turn_no FROM step_facts ORDER BY step_pk").fetchall() == [
        (None,),
        (1,),
        (1,),
        (2,),
        (3,),
    ]
    assert con.execute("SELECT requests FROM sessions").fetchone()[0] == 1
    # human waits: every user message, gap from the previous event of any type
    waits = con.execute("SELECT wait_s FROM human_waits ORDER BY message_us").fetchall()
    assert waits == [(9.0,), (10.0,), (60.0,)]
    # generation span = last output - last input at or before the first output
    spans = con.execute("SELECT gen_s FROM step_facts ORDER BY step_pk").fetchall()
    assert spans == [(1.0,), (5.0,), (10.0,), (None,), (None,)]


def test_unpriced_models_are_reported_not_priced(tmp_path):
    steps = [
        step("a", 0, model="mystery-model"),
        step("a", 1, model=None),
        step(
            "b",
            0,
            provider="codex",
            model="gpt-5.3-codex",
            session_id="b",
            step_id="b:0",
            round_id="t:0",
        ),
    ]
    con = build(tmp_path, steps, [])
    prices = dict(
        con.execute("SELECT coalesce(model, '(none)'), match_kind FROM model_prices").fetchall()
    )
    assert prices == {"mystery-model": "unpriced", "(none)": "unpriced", "gpt-5.3-codex": "family"}
    assert (
        con.execute("SELECT count(*) FROM step_facts WHERE cost_total IS NULL").fetchone()[0] == 2
    )
    from tracelab_pipeline.metrics import build_table

    build_table(con, catalog.TABLES[5])
    unpriced = con.execute(
        "SELECT model_group, steps FROM paper.table_06_pricing WHERE match_kind = 'unpriced' "
        "ORDER BY 1"
    ).fetchall()
    assert unpriced == [("(no model)", 1), ("mystery-model", 1)]
    family = con.execute(
        "SELECT models_seen, steps FROM paper.table_06_pricing WHERE match_kind = 'family' "
        "AND steps > 0"
    ).fetchall()
    assert family == [("gpt-5.3-codex", 1)]


def test_duplicates_flagged_for_corrected_metrics(tmp_path):
    steps = [
        step("a", 0),
        step("a", 1),
        step("b", 0, session_id="b", step_id="b:0", round_id="msg_a_1"),
    ]
    con = build(tmp_path, steps, [])
    flags = con.execute("SELECT step_id, is_duplicate FROM step_facts ORDER BY step_pk").fetchall()
    assert flags == [("a:0", False), ("a:1", False), ("b:0", True)]
    from tracelab_pipeline.metrics.corrections import build as build_corrections

    build_corrections(con)
    corrected = con.execute(
        "SELECT metric, paper_value, corrected_value FROM paper.corrections "
        "WHERE table_name = 'table_01_overview' AND scope = 'Total'"
    ).fetchall()
    assert {m: (p, c) for m, p, c in corrected if m != "Est. API price equiv."} == {
        "LLM steps": (3, 2),
        "Append tokens": (300, 200),
        "Duplicate steps": (0, 1),
    }


def test_dagster_assets_materialize(tmp_path):
    """warehouse -> a table -> corrections -> report, on a real Dagster instance."""
    from assets import paper_tables, report, warehouse
    from tracelab_pipeline.orchestration.resources import build_resources

    write_public(read_rows(TRACELAB_SEGMENTS), tmp_path / "public", "month=2026-06/contributor=x1")
    (t11,) = [
        a for a in paper_tables.table_assets if a.key.path == ["table_11_prefix_cache_hit_rate"]
    ]
    selected = [warehouse.warehouse, t11, paper_tables.paper_corrections, report.report]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            selected,
            instance=instance,
            resources=build_resources(data_dir=tmp_path),
            run_config={"ops": {"report": {"config": {"paper_comparison": "on"}}}},
        )
    assert result.success
    wh = result.asset_materializations_for_node("warehouse")[0].metadata
    assert wh["dagster/row_count"].value == 19
    t11 = result.asset_materializations_for_node("table_11_prefix_cache_hit_rate")[0].metadata
    assert t11["dagster/row_count"].value == 3
    assert "Prefix cache-hit rate" in t11["preview"].value
    rep = result.asset_materializations_for_node("report")[0].metadata
    assert rep["compared_with_paper"].value is True
    assert (tmp_path / "report" / "report.html").is_file()
    assert "Table 11" in rep["report"].value and "92.1%" in rep["report"].value
    # tables whose assets were not in the run are reported missing, not fatal
    assert "table_13_human_think_counterfactual" in rep["tables_missing"].value
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    names = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'paper'"
        ).fetchall()
    }
    assert names == {"table_11_prefix_cache_hit_rate", "corrections"}


def test_assets_follow_the_contracts():
    from assets import paper_tables, report, warehouse

    wh = warehouse.warehouse
    assert wh.group_names_by_key[dg.AssetKey("warehouse")] == "warehouse"
    assert dg.AssetKey("anonymized_steps") in wh.dependency_keys
    for asset in paper_tables.table_assets:
        (key,) = asset.keys
        assert asset.group_names_by_key[key] == "paper_tables"
        spec = asset.specs_by_key[key]
        assert asset.op.pool == "duckdb_writer"
        # eager without any_deps_missing (sparse contributor-month grid, stack notes 4.5)
        labels = repr(spec.automation_condition)
        assert "all_deps_blocking_checks_passed" in labels and "any_deps_missing" not in labels
        assert "dagster/kind/duckdb" in spec.tags
    deps = report.report.dependency_keys
    assert all(dg.AssetKey(i.table_name) in deps for i in catalog.FIGURES + catalog.TABLES)


def test_public_only(tmp_path):
    """The warehouse never holds a private column."""
    con = build(tmp_path, [step("a", 0)], [])
    cols = {r[0] for r in con.execute("DESCRIBE steps").fetchall()}
    assert not cols & set(schema.PRIVATE_FIELDS["steps"])


def test_warehouse_refreshes_when_one_sparse_partition_updates(tmp_path):
    """Declarative automation fires although most contributor-months are missing (stack notes
    4.5: plain eager() never would)."""
    from assets.warehouse import warehouse
    from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME, contributor_month
    from tracelab_pipeline.orchestration.resources import build_resources

    @dg.asset(name="anonymized_steps", partitions_def=contributor_month)
    def anonymized_steps():
        return None

    defs = dg.Definitions(
        assets=[anonymized_steps, warehouse], resources=build_resources(data_dir=tmp_path)
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["alice|2026-01", "bob|2026-02"])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0
        dg.materialize([anonymized_steps], partition_key="alice|2026-01", instance=instance)
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert second.total_requested == 1
        assert second.get_num_requested(dg.AssetKey("warehouse")) == 1
        third = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=second.cursor
        )
        assert third.total_requested == 0


def test_every_table_and_report_on_empty_and_one_provider_data(tmp_path):
    """No public data yet, or a single provider: tables are written with empty cells, no error."""
    from tracelab_pipeline.metrics import build_all_tables
    from tracelab_pipeline.report import build_report

    empty = duckdb.connect()
    assert build_warehouse(empty, tmp_path / "nothing")["steps"] == 0
    build_all_tables(empty)
    assert build_report(empty, tmp_path / "a").tables_missing == []

    claude_only = read_rows(TRACELAB_SEGMENTS[:1])
    con = duckdb.connect()
    build_warehouse(con, write_public(claude_only, tmp_path / "public"))
    build_all_tables(con)
    codex = con.execute(
        "SELECT codex FROM paper.table_12_fresh_tokens_amplification "
        "WHERE block = 'Overall' AND metric = 'Total fresh tokens'"
    ).fetchone()
    assert codex == (None,)
    assert build_report(con, tmp_path / "b").tables_missing == []
