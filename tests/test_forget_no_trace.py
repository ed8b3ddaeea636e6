"""`tracelab forget HANDLE --yes` leaves no trace of the handle in the Dagster instance or the
data directory: every file is read (SQLite files row by row, and as bytes, which catches a
deleted row's free pages), after the real landing, the real partition job (a ranged run over
her partition and another contributor's, a run of hers alone, one of someone else's) with its
checks, and the inbox sensor's ticks recorded as the daemon records them."""

import re
import shutil
import sqlite3
import time
from pathlib import Path

import dagster as dg
from click.testing import CliRunner
from instance_helpers import sensor_state
from landing_helpers import copy_into, fixture, sensor_resources

from tracelab_pipeline.cli import main as cli
from tracelab_pipeline.definitions import build_definitions
from tracelab_pipeline.orchestration.jobs import LAND_JOB, PARTITIONS_JOB, partitioned_keys
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME
from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR, partition_range_tags
from tracelab_pipeline.orchestration.sweep import partitions_needing_work

KEY = "k" * 32
INSTANCE_YAML = Path(__file__).resolve().parents[1] / "tracelab_pipeline/orchestration/dagster.yaml"


def test_forget_leaves_no_trace_in_the_dagster_instance(tmp_path, monkeypatch):
    data, home = tmp_path / "data", tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("TRACELAB_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "bob,carol")  # alice: held at first
    for name in ("TRACELAB_ENV", "TRACELAB_CONTRIBUTORS_FILE", "TRACELAB_INBOX"):
        monkeypatch.delenv(name, raising=False)
    inbox = data / "inbox"
    copy_into(inbox / "alice", fixture("ccviewer__5c0375b4.jsonl"))
    (inbox / "alice" / "alice-notes.txt").write_text("not a log")  # a drop not landed
    copy_into(inbox / "bob", fixture("ccviewer__1af7fc5e.jsonl"))
    copy_into(inbox / "carol", fixture("sniffly__d3ad4cdc.jsonl"))
    defs = build_definitions(data_dir=data)

    with dg.DagsterInstance.get() as instance:
        state = sensor_state(instance, INBOX_SENSOR)
        first = _daemon_tick(defs, instance, state, None)
        monkeypatch.setenv("TRACELAB_CONTRIBUTORS", "alice,bob,carol")
        _daemon_tick(defs, instance, state, first.cursor)
        order = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
        (hers,) = [k for k in order if k.startswith("alice|")]
        (bobs,) = [k for k in order if k.startswith("bob|")]
        (carols,) = [k for k in order if k.startswith("carol|")]
        assert order.index(hers) == order.index(carols) + 1  # a range covers exactly both
        assert defs.resolve_job_def(LAND_JOB).execute_in_process(instance=instance).success
        job = defs.resolve_job_def(PARTITIONS_JOB)
        ranged = job.execute_in_process(
            instance=instance, tags=partition_range_tags(carols, hers), raise_on_error=False
        )
        assert ranged.success
        automation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        run_of = {}
        for key in (bobs, hers):  # hers last: the asset's cached latest materialization
            result = job.execute_in_process(instance=instance, partition_key=key)
            assert result.success
            run_of[key] = result.run_id
        _as_the_ui_and_the_automation_daemon_do(defs, instance, automation.cursor)
        checks = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("normalized_steps"), "nothing_lost"), limit=10
        )
        assert {c.partition for c in checks} >= {hers, carols}

    needles = ["alice", str(inbox / "alice")]
    assert _traces(tmp_path, needles)  # the scan finds her before

    args = ["forget", "alice", "--data-dir", str(data)]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    assert (
        f"Dagster instance {home}: 1 partition key(s), 2 run(s) of them with their logs "
        "(1 ranged run(s) that also covered others: 1 partition(s) of others"
    ) in dry.output, dry.output
    counted = re.search(r"nightly sweep\), (\d+) asset check result\(s\)", dry.output)
    before = _check_rows_total(home)
    done = CliRunner().invoke(cli, [*args, "--yes"])
    assert done.exit_code == 0, done.output
    # the dry run counted what was deleted: her run's, the ranged run's (carol's too); bob's kept
    assert counted and before - _check_rows_total(home) == int(counted[1]) > 0, dry.output

    left = _traces(tmp_path, needles)
    assert left == [], "\n".join(left)
    with dg.DagsterInstance.get() as instance:
        assert list(instance.get_dynamic_partitions(PARTITIONS_NAME)) == [bobs, carols]
        assert [
            r.tags.get("dagster/partition")
            for r in instance.get_runs(dg.RunsFilter(job_name=PARTITIONS_JOB))
        ] == [bobs]
        latest = instance.get_latest_materialization_event(dg.AssetKey("normalized_steps"))
        assert latest.run_id == run_of[bobs]
        # carol's partition went with the ranged run's history: the nightly sweep rebuilds it
        config = defs.resources["tracelab"]
        assert partitions_needing_work(instance, config, partitioned_keys(defs.assets)) == [carols]


def _check_rows_total(home: Path) -> int:
    """Rows of Dagster's asset_check_executions table, read as SQL, not through Dagster."""
    total = 0
    for path in home.rglob("*.db"):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'asset_check_executions'"
            ).fetchone():
                total += conn.execute("SELECT count(*) FROM asset_check_executions").fetchone()[0]
        finally:
            conn.close()
    return total


def _traces(root: Path, needles: list[str]) -> list[str]:
    """Where any needle is in a file under root: rows of SQLite tables, and raw bytes."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        hits += [f"{path} (bytes): {n}" for n in needles if n.encode() in raw]
        if raw[:16] != b"SQLite format 3\x00":
            continue
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [
                t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    text = " ".join(map(str, row))
                    hits += [f"{path} {table}: {text[:200]}" for n in needles if n in text]
        finally:
            conn.close()
    return hits


def _as_the_ui_and_the_automation_daemon_do(defs, instance, cursor):
    """What `dagster dev` adds beside the runs: the UI's partition status cache of each
    partitioned asset, and a tick of the automation sensor with its evaluations stored (their
    subsets name the upstream partitions that updated since the tick at `cursor`)."""
    from dagster._core.storage.partition_status_cache import (
        get_and_update_asset_status_cache_value,
    )

    graph = defs.resolve_asset_graph()
    for key in partitioned_keys(defs.assets):
        partitions_def = graph.get(key).partitions_def
        assert get_and_update_asset_status_cache_value(instance, key, partitions_def)
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    evaluations = [r.serializable_evaluation.with_run_ids(set()) for r in tick.results]
    instance.schedule_storage.add_auto_materialize_asset_evaluations(2, evaluations)
    assert any(re.search(r"\balice\|", repr(e)) for e in evaluations)


def _daemon_tick(defs, instance, state, cursor):
    """One real evaluation of the inbox sensor, recorded as the daemon records it: the tick
    (run keys, skip reason, cursor), the evaluation's output captured as the tick's log, the
    sensor's asset events and added partitions. The runs it requests the test runs itself."""
    from dagster._core.scheduler.instigation import (
        InstigatorType,
        SensorInstigatorData,
        TickData,
        TickStatus,
    )

    tick = instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=INBOX_SENSOR,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.STARTED,
            timestamp=time.time(),
            selector_id=state.selector_id,
        )
    )
    log_key = [state.instigator_origin_id, state.selector_id, str(tick.tick_id)]
    with instance.compute_log_manager.capture_logs(log_key):
        ctx = dg.build_sensor_context(
            instance=instance, definitions=defs, resources=sensor_resources(defs), cursor=cursor
        )
        result = defs.resolve_sensor_def(INBOX_SENSOR)(ctx)
    if isinstance(result, dg.SkipReason):
        instance.update_tick(
            tick.with_status(TickStatus.SKIPPED, skip_reason=result.skip_message).with_log_key(
                log_key
            )
        )
        return result
    for add in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    done = tick.with_status(TickStatus.SUCCESS).with_cursor(result.cursor)
    for request in result.run_requests:
        done = done.with_run_info(run_key=request.run_key)
    instance.update_tick(done.with_log_key(log_key))
    # The daemon keeps the last run key in the sensor's state, beside its cursor.
    if result.run_requests:
        state = instance.get_instigator_state(state.instigator_origin_id, state.selector_id)
        data = (state.instigator_data or SensorInstigatorData())._replace(
            cursor=result.cursor, last_run_key=result.run_requests[-1].run_key
        )
        instance.update_instigator_state(state.with_data(data))
    return result


def test_forget_counts_landed_files_events_that_still_name_her():
    # Written before landing named contributors by pseudonym, alongside others' drops: no
    # Dagster call deletes one event, so forget says how many are left rather than nothing.
    from tracelab_pipeline.orchestration.forget import forget_in_instance

    old = {"held_by_contributor": dg.MetadataValue.json({"alice": 1, "bob": 2})}
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("landed_files", metadata=old))
        instance.report_runless_asset_event(
            dg.AssetMaterialization("landed_files", metadata={"drops_held": 0})
        )
        assert forget_in_instance(instance, "alice", apply=False)["landed_events_left"] == 1
        assert forget_in_instance(instance, "carol", apply=False)["landed_events_left"] == 0
        assert forget_in_instance(instance, "alice", apply=True)["landed_events_left"] == 1


def test_forget_counts_only_events_that_name_the_handle_as_a_word():
    """Landing names contributors by pseudonym now: a short handle inside a word of the
    metadata ('zed' in 'materialized'), inside a pseudonym's hex ('abc') or at the start of a
    longer handle ('zed-x') is not her, and the dry run said such events named her and could
    not be erased."""
    from tracelab_pipeline.orchestration.forget import forget_in_instance

    new = {
        "outcome": "materialized",
        "held_by_contributor": dg.MetadataValue.json({"usr_3abc41f0d2e9c8b7a6f5": 1}),
    }
    old = {"drops_not_landed": dg.MetadataValue.json(["zed/notes.txt", "abc/2.txt"])}
    # Other contributors' handles that begin with hers: a handle takes '.', '_' and '-'.
    longer = {"drops_not_landed": dg.MetadataValue.json(["zed-x/a", "zed.x/a", "zed_x/a"])}
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("landed_files", metadata=new))
        instance.report_runless_asset_event(
            dg.AssetMaterialization("landed_files", metadata=longer)
        )
        assert forget_in_instance(instance, "zed", apply=False)["landed_events_left"] == 0
        assert forget_in_instance(instance, "abc", apply=False)["landed_events_left"] == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("landed_files", metadata=old))
        assert forget_in_instance(instance, "zed", apply=False)["landed_events_left"] == 1
        assert forget_in_instance(instance, "abc", apply=False)["landed_events_left"] == 1


def test_forget_keeps_a_run_of_hers_still_in_progress_and_says_so():
    # Deleted while it ran, its events (naming her keys) went on being written under a run
    # that no longer existed: it is kept until it finishes, and forget says so.
    from tracelab_pipeline.orchestration.forget import forget_in_instance

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["alice|2026-03"])
        for status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS):
            instance.add_run(
                dg.DagsterRun(
                    job_name=PARTITIONS_JOB,
                    status=status,
                    tags={"dagster/partition": "alice|2026-03"},
                )
            )
        seen = forget_in_instance(instance, "alice", apply=True)
        assert (seen["runs"], seen["runs_in_progress"]) == (2, 1)
        (left,) = instance.get_runs()
    assert left.status == dg.DagsterRunStatus.STARTED


def test_forget_run_again_deletes_the_run_it_kept_in_progress():
    # The first forget deleted her partition keys; the run it kept is found by its tags.
    from tracelab_pipeline.orchestration.forget import forget_in_instance

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["alice|2026-03", "bob|2026-03"])
        for key in ("alice|2026-03", "bob|2026-03"):
            instance.add_run(
                dg.DagsterRun(
                    job_name=PARTITIONS_JOB,
                    status=dg.DagsterRunStatus.STARTED,
                    tags={"dagster/partition": key},
                )
            )
        assert forget_in_instance(instance, "alice", apply=True)["runs_in_progress"] == 1
        assert instance.get_dynamic_partitions(PARTITIONS_NAME) == ["bob|2026-03"]
        for run in instance.get_runs():
            instance.report_run_failed(run)
        seen = forget_in_instance(instance, "alice", apply=False)
        assert (seen["runs"], seen["runs_in_progress"]) == (1, 0)
        forget_in_instance(instance, "alice", apply=True)
        (left,) = instance.get_runs()
    assert left.tags["dagster/partition"] == "bob|2026-03"


def test_vacuum_leaves_no_deleted_row_in_the_write_ahead_log(tmp_path):
    # Dagster's event logs are in WAL mode; while another process (dagster dev) holds a
    # connection the -wal file stays, with the frames that wrote her rows.
    from tracelab_pipeline.orchestration.forget import _vacuum_sqlite

    path = tmp_path / "index.db"
    held = sqlite3.connect(path)
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE t (v TEXT)")
    held.execute("INSERT INTO t VALUES ('alice|2026-03')")
    held.commit()
    held.execute("DELETE FROM t")
    held.commit()
    try:
        assert _vacuum_sqlite(str(tmp_path)) == []
        wal = tmp_path / "index.db-wal"
        assert b"alice" not in (wal.read_bytes() if wal.exists() else b"")
    finally:
        held.close()
