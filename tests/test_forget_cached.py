"""What Dagster keeps beside runs and ticks, naming a contributor's partition keys, that
`forget_in_instance` clears: sensor states (the automation sensor's cursor, compressed, which
no byte scan sees), stored automation evaluations, an asset's cached latest materialization.
Each on a real instance, written through the storage calls `dagster dev` and its daemon use."""

import dagster as dg
from dagster._core.definitions.sensor_definition import SensorType
from dagster._core.scheduler.instigation import SensorInstigatorData
from dagster._daemon.asset_daemon import (
    asset_daemon_cursor_from_instigator_serialized_cursor,
    asset_daemon_cursor_to_instigator_serialized_cursor,
)
from dagster_shared.serdes import serialize_value
from instance_helpers import sensor_state

from tracelab_pipeline.orchestration.automation import AUTOMATION_SENSOR_NAME
from tracelab_pipeline.orchestration.forget import forget_in_instance
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME

HERS, BOBS = "alice|2026-03", "bob|2026-03"
PARTS = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)


@dg.asset(partitions_def=PARTS)
def upstream():
    return 1


@dg.asset(
    partitions_def=PARTS, deps=[upstream], automation_condition=dg.AutomationCondition.eager()
)
def downstream():
    return 1


DEFS = dg.Definitions(assets=[upstream, downstream])


def _automation_cursor(instance, updated: str) -> str:
    """The automation sensor's cursor after a tick that saw `updated` materialized, serialized
    as the daemon stores it in the sensor's state."""
    first = dg.evaluate_automation_conditions(defs=DEFS, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("upstream", partition=updated))
    tick = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=first.cursor)
    assert updated in serialize_value(tick.cursor)
    return asset_daemon_cursor_to_instigator_serialized_cursor(tick.cursor)


def _stored(instance, state) -> SensorInstigatorData:
    return instance.get_instigator_state(
        state.instigator_origin_id, state.selector_id
    ).instigator_data


def _automation_state(instance, updated: str):
    """The automation sensor's stored state holding a real cursor of a tick after `updated`,
    and that cursor."""
    cursor = _automation_cursor(instance, updated)
    data = SensorInstigatorData(cursor=cursor, sensor_type=SensorType.AUTOMATION)
    return sensor_state(instance, AUTOMATION_SENSOR_NAME, data), cursor


def _decoded(cursor: str | None) -> str:
    return serialize_value(asset_daemon_cursor_from_instigator_serialized_cursor(cursor, None))


def test_forget_clears_the_automation_sensors_cursor_that_names_her_keys():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [HERS, BOBS])
        state, cursor = _automation_state(instance, HERS)
        assert forget_in_instance(instance, "carol", apply=True)["cached"] == 0
        assert _stored(instance, state).cursor == cursor  # not hers: kept
        assert forget_in_instance(instance, "alice", apply=False)["cached"] >= 1
        forget_in_instance(instance, "alice", apply=True)
        assert "alice" not in _decoded(_stored(instance, state).cursor)


def test_forget_keeps_an_automation_cursor_naming_only_others():
    # A cursor names every partition a condition looked at, not only updated ones: hers not
    # defined here, so the cursor names only bob's.
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [BOBS])
        state, _ = _automation_state(instance, BOBS)
        forget_in_instance(instance, "alice", apply=True)
        assert BOBS in _decoded(_stored(instance, state).cursor)


def _evaluation(instance, cursor=None):
    """The automation sensor's evaluation of `downstream`, as the daemon stores it, and the
    tick's cursor."""
    tick = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=cursor)
    (result,) = [r for r in tick.results if r.key == dg.AssetKey("downstream")]
    return result.serializable_evaluation.with_run_ids(set()), tick.cursor


def test_forget_deletes_only_the_evaluations_that_name_her():
    # Stored to the second, in SQLite as text: a purge by time, one second past her latest,
    # deleted an evaluation of bob's written the second after hers (and all his older ones).
    from datetime import UTC, datetime

    import sqlalchemy as db
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.storage.schedules.schema import AssetDaemonAssetEvaluationsTable as table

    with dg.instance_for_test() as instance:
        storage = instance.schedule_storage
        instance.add_dynamic_partitions(PARTITIONS_NAME, [BOBS])
        bobs, cursor = _evaluation(instance)
        instance.add_dynamic_partitions(PARTITIONS_NAME, [HERS])
        instance.report_runless_asset_event(dg.AssetMaterialization("upstream", partition=HERS))
        hers, _ = _evaluation(instance, cursor)
        assert "alice" not in repr(bobs) and HERS in repr(hers)
        for evaluation_id, evaluation, second in ((1, bobs, 9), (2, hers, 10), (3, bobs, 11)):
            # as the daemon does, in the partitions' loading context its subsets need
            with partition_loading_context(datetime.now(UTC), instance):
                storage.add_auto_materialize_asset_evaluations(evaluation_id, [evaluation])
            with storage.connect() as conn:
                conn.execute(
                    table.update()
                    .where(table.c.evaluation_id == evaluation_id)
                    .values(create_timestamp=db.text(f"'2026-03-01 12:00:{second:02d}'"))
                )
        forget_in_instance(instance, "alice", apply=True)
        left = storage.get_auto_materialize_asset_evaluations(dg.AssetKey("downstream"), 10)
    assert sorted(r.evaluation_id for r in left) == [1, 3]


def test_forget_does_not_write_back_a_sensor_state_the_daemon_changed_since():
    # forget found the inbox sensor's state naming her; the running daemon then ticked (new
    # cursor, bob's run key): writing back the copy read first undid that tick.
    from tracelab_pipeline.orchestration.forget import _clear_sensor_states, _sensor_states_naming
    from tracelab_pipeline.orchestration.sensors import INBOX_SENSOR

    with dg.instance_for_test() as instance:
        state = sensor_state(
            instance, INBOX_SENSOR, SensorInstigatorData(cursor="6", last_run_key=f"{HERS}@ab12")
        )
        found = _sensor_states_naming(instance, "alice")
        assert [s.selector_id for s in found] == [state.selector_id]
        ticked = SensorInstigatorData(cursor="7", last_run_key=f"{BOBS}@cd34")
        instance.update_instigator_state(state.with_data(ticked))
        _clear_sensor_states(instance, found, "alice")
        assert (_stored(instance, state).cursor, _stored(instance, state).last_run_key) == (
            "7",
            f"{BOBS}@cd34",
        )


def test_forget_stops_on_a_sql_event_log_without_the_asset_columns_it_clears(tmp_path):
    # As after a Dagster upgrade that moved them: it skipped the asset rows silently when the
    # storage lacked index_connection, and failed with a bare SQL error on a missing column.
    import sqlite3

    import pytest

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [HERS])
        instance.report_runless_asset_event(dg.AssetMaterialization("upstream", partition=HERS))
        (index,) = tmp_path.rglob("index.db")
        with sqlite3.connect(index) as conn:
            conn.execute("ALTER TABLE asset_keys DROP COLUMN last_run_id")
        with pytest.raises(RuntimeError, match="a Dagster upgrade moved them"):
            forget_in_instance(instance, "alice", apply=False)


def test_forget_keeps_a_cached_latest_materialization_written_since_it_looked():
    # forget found the asset's cached latest materialization of her run; bob's run then
    # materialized the asset: clearing the cache by asset key alone dropped bob's.
    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import AssetKeyTable as table

    from tracelab_pipeline.orchestration.forget import _asset_rows_naming, _forget_asset_rows

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, [HERS, BOBS])
        hers = dg.materialize([upstream], instance=instance, partition_key=HERS).run_id
        rows = _asset_rows_naming(instance, "alice", {hers})
        assert len(rows) == 1  # upstream's, cached of her run
        bobs = dg.materialize([upstream], instance=instance, partition_key=BOBS).run_id
        _forget_asset_rows(instance, rows)
        with instance.event_log_storage.index_connection() as conn:
            cached = conn.execute(db.select(table.c.last_run_id)).scalar_one()
    assert cached == bobs
