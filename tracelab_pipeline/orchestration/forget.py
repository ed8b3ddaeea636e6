"""The Dagster side of erasing a contributor: their partition keys and the runs of those
partitions (run tags and logs name the handle). Ranged runs that also cover other
contributors are kept and counted."""

from __future__ import annotations

import dagster as dg

from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME, split_partition_key

PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def forget_in_instance(instance: dg.DagsterInstance, handle: str, apply: bool) -> dict:
    """Partition keys and runs of `handle` in the instance; deleted when `apply`."""
    keys = [k for k in instance.get_dynamic_partitions(PARTITIONS_NAME) if _owner(k) == handle]
    runs, ranged = [], 0
    for key in keys:
        runs += [r.run_id for r in instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: key}))]
        for tag in RANGE_TAGS:
            ranged += len(instance.get_run_ids(dg.RunsFilter(tags={tag: key})))
    if apply:
        for run_id in runs:
            instance.delete_run(run_id)
        for key in keys:
            instance.delete_dynamic_partition(PARTITIONS_NAME, key)
    return {"partition_keys": keys, "runs": len(runs), "ranged_runs_kept": ranged}


def _owner(key: str) -> str | None:
    try:
        return split_partition_key(key)[0]
    except ValueError:
        return None
