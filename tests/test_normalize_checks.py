"""The checks on normalized_steps read only the columns they judge, and still fail on bad rows."""

import datetime as dt

import dagster as dg
from anonymize_helpers import CONTRIBUTOR, real_partition, replace_first, set_column

import checks.normalize as normalize_checks
from tracelab_pipeline.orchestration.partitions import contributor_month, partition_key
from tracelab_pipeline.orchestration.resources import TraceLabConfig
from tracelab_pipeline.orchestration.sensors import partition_range_tags
from tracelab_pipeline.partitioned.store import write_partition

MONTH = "2025-09"
KEY = partition_key(CONTRIBUTOR, MONTH)
CHECKS = [
    normalize_checks.nothing_lost,
    normalize_checks.unique_step_ids,
    normalize_checks.input_tokens_add_up,
    normalize_checks.no_session_before_month,
]


def _run(tmp_path, private, manifest_files):
    @dg.asset(partitions_def=contributor_month, name="normalized_steps", group_name="test")
    def normalized_steps(tracelab: TraceLabConfig):
        write_partition(tracelab.private_dir, CONTRIBUTOR, MONTH, private, manifest_files)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, [KEY])
        result = dg.materialize(
            [normalized_steps, *CHECKS],
            partition_key=KEY,
            instance=instance,
            resources={"tracelab": TraceLabConfig(data_dir=str(tmp_path))},
            raise_on_error=False,
        )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _manifest(private) -> dict:
    shas = private["ingest_accounting"].column("file_sha256").to_pylist()
    return {"files": [{"sha256": s} for s in shas]}


def test_clean_partition_passes_every_check(tmp_path):
    private = real_partition(MONTH)
    checks = _run(tmp_path, private, _manifest(private))
    assert {name: e.passed for name, e in checks.items()} == dict.fromkeys(
        ["nothing_lost", "unique_step_ids", "input_tokens_add_up", "no_session_before_month"],
        True,
    )


def test_each_check_fails_on_its_broken_column(tmp_path):
    private = real_partition(MONTH)
    manifest = _manifest(private)
    steps = private["steps"]
    totals = steps.column("input_tokens_total").to_pylist()
    steps = set_column(steps, "input_tokens_total", [totals[0] + 3, *totals[1:]])
    steps = replace_first(steps, "step_id", steps.column("step_id")[1].as_py())
    steps = replace_first(steps, "session_started_at", dt.datetime(2025, 8, 31, tzinfo=dt.UTC))
    private["steps"] = steps
    accounting = private["ingest_accounting"]
    lines = accounting.column("lines_read").to_pylist()
    private["ingest_accounting"] = set_column(accounting, "lines_read", [lines[0] + 1, *lines[1:]])
    checks = _run(tmp_path, private, manifest)
    assert {name: e.passed for name, e in checks.items()} == dict.fromkeys(
        ["nothing_lost", "unique_step_ids", "input_tokens_add_up", "no_session_before_month"],
        False,
    )
    assert checks["input_tokens_add_up"].metadata["mismatches"].value == 1
    assert checks["no_session_before_month"].metadata["before_month"].value == 1
    assert checks["nothing_lost"].metadata["files_with_broken_accounting"].value == 1


def test_a_ranged_run_gives_each_partition_its_own_verdict_and_still_blocks(tmp_path):
    """One run over two keys (single-run backfill): the UI shows each key's own check status
    (Dagster alone would list both as "execution failed"), and a failure still blocks."""
    other = "kroe"
    clean, broken = real_partition(MONTH), real_partition(MONTH, other)
    steps = broken["steps"]
    broken["steps"] = replace_first(steps, "step_id", steps.column("step_id")[1].as_py())
    keys = [KEY, partition_key(other, MONTH)]

    @dg.asset(
        partitions_def=contributor_month,
        name="normalized_steps",
        group_name="test",
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def normalized_steps(tracelab: TraceLabConfig):
        for contributor, private in ((CONTRIBUTOR, clean), (other, broken)):
            write_partition(tracelab.private_dir, contributor, MONTH, private, _manifest(private))
        return dg.MaterializeResult()

    @dg.asset(
        partitions_def=contributor_month,
        deps=[normalized_steps],
        group_name="test",
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def downstream():
        return dg.MaterializeResult()

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(contributor_month.name, keys)
        # Twice: each key's verdict must name its latest materialization, not an older one.
        for _ in range(2):
            result = dg.materialize(
                [normalized_steps, downstream, *CHECKS],
                instance=instance,
                tags=partition_range_tags(*keys),
                resources={"tracelab": TraceLabConfig(data_dir=str(tmp_path))},
                raise_on_error=False,
            )
        assert not result.success
        assert not instance.get_materialized_partitions(dg.AssetKey("downstream"))
        # what the UI's per-partition check status is built from
        check_keys = [key for check in CHECKS for key in check.check_keys]
        infos = instance.event_log_storage.get_asset_check_partition_info(check_keys)
    status = {}
    for info in infos:
        if info.partition_key:
            assert info.is_current, info  # judged the partition's latest materialization
            status[info.check_key.name, info.partition_key] = info.latest_execution_status.value
    for name in (
        "nothing_lost",
        "unique_step_ids",
        "input_tokens_add_up",
        "no_session_before_month",
    ):
        bad = "FAILED" if name == "unique_step_ids" else "SUCCEEDED"
        assert (status[name, keys[0]], status[name, keys[1]]) == ("SUCCEEDED", bad), name
