"""The whole code location loads: every asset, check, job, sensor and schedule resolves."""

import dagster as dg

from tracelab_pipeline.orchestration.automation import AUTOMATION_SENSOR_NAME
from tracelab_pipeline.orchestration.jobs import LAND_JOB, PARTITIONS_JOB
from tracelab_pipeline.orchestration.partitions import contributor_month
from tracelab_pipeline.orchestration.schedules import NIGHTLY, NIGHTLY_JOB
from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR


def test_code_location_loads_and_resolves(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACELAB_DATA_DIR", str(tmp_path))
    from tracelab_pipeline.definitions import build_definitions

    defs = build_definitions()
    defs.validate_loadable(defs)
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    keys = {n.key.to_user_string() for n in graph.asset_nodes}
    assert {"landed_files", "normalized_steps"} <= keys
    for node in graph.asset_nodes:
        assert node.group_name and node.group_name != "default", node.key
        assert node.description, node.key
        assert node.kinds, node.key
    assert graph.get(dg.AssetKey("normalized_steps")).partitions_def == contributor_month
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {LAND_JOB, PARTITIONS_JOB} <= jobs
    assert {s.name for s in repo.sensor_defs} >= {INBOX_SENSOR, AUTOMATION_SENSOR_NAME}
    # the UI shows these beside each sensor and schedule
    for instigator in [*repo.sensor_defs, *repo.schedule_defs]:
        assert instigator.description, instigator.name
    nightly = repo.get_schedule_def(NIGHTLY)
    assert nightly.cron_schedule == "0 2 * * *" and nightly.execution_timezone == "UTC"
    # the UI names the schedule's job; an anonymous one shows as `__anonymous_asset_job_...`
    assert nightly.job_name == NIGHTLY_JOB
    assert repo.get_job(NIGHTLY_JOB).description
    assert not [j for j in jobs if j.startswith("__anonymous")]
    selected = repo.get_job(NIGHTLY_JOB).asset_layer.selected_asset_keys
    assert {k.to_user_string() for k in selected} == keys
    assert defs.resources["tracelab"].data_path == tmp_path.resolve()
    assert defs.resources["duckdb"].database == str(tmp_path.resolve() / "warehouse.duckdb")


def test_every_partitioned_asset_uses_the_contributor_month_partitions():
    from tracelab_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    for node in graph.asset_nodes:
        if node.partitions_def is not None:
            assert node.partitions_def == contributor_month, node.key


def test_partition_keys_round_trip():
    from tracelab_pipeline.orchestration.partitions import (
        month_window,
        partition_key,
        split_partition_key,
    )

    assert partition_key("alice", "2026-01") == "alice|2026-01"
    assert split_partition_key("bob-2|2025-12") == ("bob-2", "2025-12")
    start, end = month_window("2025-12")
    assert (start.year, start.month, end.year, end.month) == (2025, 12, 2026, 1)
    for bad in ("alice", "alice|2026-13", "Alice|2026-01", "a|b|2026-01"):
        try:
            split_partition_key(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
