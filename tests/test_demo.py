"""`tracelab demo` on a small inbox: the whole graph through a persistent Dagster instance,
and a second run that finds nothing to do."""

import dagster as dg
import pyarrow.parquet as pq
from click.testing import CliRunner
from landing_helpers import copy_into, fixture

from tracelab_pipeline.cli import main


def test_demo_builds_everything_then_only_new_work(tmp_path, monkeypatch):
    # run_demo exports these for Dagster; monkeypatch restores them after the test
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    data = tmp_path / "data"
    copy_into(data / "inbox" / "alice", fixture("ccviewer__fe5e1c67.jsonl"))
    copy_into(data / "inbox" / "bob", fixture("tracelab__codex-example-segment.jsonl"))
    runner = CliRunner()

    first = runner.invoke(main, ["demo", "--data-dir", str(data)])
    assert first.exit_code == 0, first.output
    assert "contributors: 2" in first.output
    assert f"DAGSTER_HOME={data / 'dagster_home'}" in first.output
    assert "2 partition(s) rebuilt in 1 run(s); downstream rebuilt" in first.output
    assert "release: current (built from all 2 public partitions)" in first.output
    assert (data / "dagster_home" / "dagster.yaml").is_file()

    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        from tracelab_pipeline.definitions import build_definitions

        graph = build_definitions(data_dir=data).resolve_asset_graph()
        for node in graph.asset_nodes:
            if node.partitions_def is None:
                assert instance.get_latest_materialization_event(node.key), node.key
            else:
                assert len(instance.get_materialized_partitions(node.key)) == 2, node.key
        runs_before = len(instance.get_runs())
        # the UI's run list can be filtered by what started a run, as for sensor/schedule runs
        assert {r.tags.get("tracelab/trigger") for r in instance.get_runs()} == {"demo"}

    second = runner.invoke(main, ["demo", "--data-dir", str(data)])
    assert second.exit_code == 0, second.output
    assert "0 partition(s) rebuilt in 0 run(s); downstream up to date" in second.output
    assert "release: current" in second.output
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        assert len(instance.get_runs()) == runs_before + 1  # only the landing run


def test_demo_with_a_data_dir_that_is_a_file_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file")
    runner = CliRunner()
    for args, env in (
        (["demo", "--data-dir", str(not_a_dir)], {}),
        (["demo"], {"TRACELAB_DATA_DIR": str(not_a_dir)}),
    ):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code in (1, 2), result.output
        assert str(not_a_dir) in result.output and "is a file" in result.output


def test_the_ui_command_printed_at_the_end_survives_a_path_with_a_space(tmp_path):
    import shlex

    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize

    data = tmp_path / "my data"
    text = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home"))
    command = next(line for line in text.splitlines() if "dagster dev" in line)
    words = shlex.split(command)
    assert words[:2] == [f"DAGSTER_HOME={data / 'dagster_home'}", f"TRACELAB_DATA_DIR={data}"]


def test_a_clean_inbox_is_summarized_as_no_bad_input(tmp_path):
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize

    text = summarize(DemoResult(data_dir=tmp_path, dagster_home=tmp_path / "dagster_home"))
    assert "  bad input: none" in text.splitlines()
    assert "rejected_records" not in text


def test_the_summary_says_its_contributor_month_count_is_of_those_with_steps(tmp_path):
    """A partition whose only log holds no model call (built, published, in the release's
    count) has no steps: "11 partition(s) to build" then "contributor-months: 10" read as a
    partition lost; the count says what it counts."""
    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize

    data = tmp_path / "data"
    for month, log in (
        ("2025-09", "ccviewer__1af7fc5e.jsonl"),
        ("2025-10", "claude-code-transcripts__sample_codex_session.jsonl"),  # no token_count
    ):
        steps = normalize_files([fixture(log)], "alice").steps
        out = data / "private" / "steps" / "contributor=alice" / f"month={month}"
        out.mkdir(parents=True)
        pq.write_table(steps, out / "part.parquet")
    text = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home"))
    assert "contributor-months with steps: 1" in text, text


def test_a_failed_step_is_reported_with_its_whole_message(tmp_path):
    import dagster as dg

    from tracelab_pipeline.orchestration.demo import _failed_steps

    @dg.op
    def breaks():
        raise ValueError("first line:\nthe part that says what")

    @dg.job
    def j():
        breaks()

    result = j.execute_in_process(raise_on_error=False)
    (line,) = _failed_steps(result)
    assert line.startswith("breaks: ") and line.endswith("first line: the part that says what")


def test_a_run_that_fails_before_any_step_is_reported_with_its_message(tmp_path, monkeypatch):
    """Production without a pseudonym key: the anonymization resource refuses at setup, so no
    step fails; the summary's FAILED line still says what to set (it said "run failed"). The
    demo stops there: it went on to build the downstream assets and published a release
    "current (built from all 0 public partitions)"."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.setenv("TRACELAB_ENV", "production")
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "*")
    for name in ("TRACELAB_INBOX", "TRACELAB_PSEUDONYM_KEY"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    copy_into(data / "inbox" / "alice", fixture("ccviewer__1af7fc5e.jsonl"))
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("  FAILED")]
    assert failed, result.output
    assert "FAILED run failed" not in result.output
    assert "landed_files: " in failed[0]
    assert "no pseudonym key configured: set env TRACELAB_PSEUDONYM_KEY" in failed[0]
    assert "this run: stopped: the landing run refused to start" in result.output
    assert "release: current" not in result.output
    assert f"release:   {data / 'release'} (not built)" in result.output
    assert not (data / "release").exists() and not (data / "public").exists()
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        assert [r.job_name for r in instance.get_runs()] == ["land_inbox"]


def test_logs_that_give_no_steps_are_named_in_the_summary(tmp_path):
    """A Codex rollout from before mid-2025 logs no token usage: read without a bad line, it
    gives no steps, and the summary says so instead of counting it silently."""
    import json

    from test_codex_upstream_shapes import HEADERS, _pre_envelope_lines

    from tracelab_pipeline.normalize import normalize_files
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize

    legacy = tmp_path / "rollout-2025-06-07T17-24-21-5973b6c0.jsonl"
    legacy.write_text("".join(json.dumps(r) + "\n" for r in _pre_envelope_lines(HEADERS[0])))
    tables = normalize_files([legacy, fixture("ccviewer__5c0375b4.jsonl")], "alice")
    out = tmp_path / "data" / "private" / "ingest_accounting"
    out.mkdir(parents=True)
    pq.write_table(tables.ingest_accounting, out / "part.parquet")
    data = tmp_path / "data"
    lines = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home")).splitlines()
    assert "  bad input: none" in lines
    assert (
        "  logs without steps: 1 (no model call with token usage in them; 1 Codex rollout(s)"
        " from before mid-2025, which log no usage)"
    ) in lines
