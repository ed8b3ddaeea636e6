"""Nightly sweep at 02:00 (timezone: $TRACELAB_SCHEDULE_TZ, default UTC): land the inbox
(skipped, and logged, without a usable consent list), rebuild every partition whose Parquet
is stale or where a partitioned asset never materialized (missed runs), retry those whose
latest attempt failed; on a night with nothing to rebuild but retries, refresh the
unpartitioned downstream assets (after rebuilds, the automation sensor refreshes them)."""

from __future__ import annotations

import os

import dagster as dg

from tracelab_pipeline.landing.consent import ConsentError
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.orchestration.sensors import (
    PER_PARTITION_RUNS_MAX,
    TRIGGER_TAG,
    contiguous_ranges,
    partition_range_tags,
)
from tracelab_pipeline.orchestration.sweep import (
    SENSOR_LANDING_BUDGET_S,
    known_partitions,
    land,
    new_partition_keys,
    partition_work,
)

NIGHTLY = "nightly_sweep"
NIGHTLY_JOB = "nightly_sweep_job"
TZ_ENV = "TRACELAB_SCHEDULE_TZ"


def build_nightly_schedule(
    partitioned: list[dg.AssetKey],
    downstream: list[dg.AssetKey],
    timezone: str | None = None,
    ranged_runs: bool = False,
) -> dg.ScheduleDefinition:
    """`ranged_runs`: every partitioned asset handles many keys per run (single-run backfill
    policy), so many partitions to rebuild are requested as a few ranged runs, as the inbox
    sensor does, not one process per partition."""
    tz = timezone or os.environ.get(TZ_ENV) or "UTC"
    # A named job over every asset: with `target=AssetSelection.all()` Dagster made an
    # anonymous one that the UI showed as `__anonymous_asset_job_nightly_sweep`. Each tick's
    # run requests still pick their own assets (partitions to rebuild, then downstream).
    job = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        description="Runs the nightly sweep's requests: rebuilds of stale or missing "
        "contributor-months or, on a night without any, a refresh of the unpartitioned "
        "downstream assets.",
    )

    @dg.schedule(
        name=NIGHTLY,
        cron_schedule="0 2 * * *",
        execution_timezone=tz,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Nightly: land the inbox, rebuild stale contributor-months, refresh the "
        "warehouse, tables, figures and report (after rebuilds, downstream_automation does).",
    )
    def nightly_sweep(
        context: dg.ScheduleEvaluationContext,
        tracelab: TraceLabConfig,
        anonymization: AnonymizationConfig,
    ):
        # `anonymization`: its setup fails the tick in production without a usable key, as
        # in the inbox sensor (every run requested would fail at start).
        # A schedule tick has the same 60 s gRPC deadline as a sensor tick: past it the tick
        # fails and the night's sweep requests nothing. Drops left over are counted as pending
        # and landed by the inbox sensor (or the next night).
        try:
            land(tracelab, anonymization, budget_s=SENSOR_LANDING_BUDGET_S)
        except ConsentError as exc:
            # No usable consent list (unset in production, unreadable, a bad handle): nothing
            # lands, but what already landed (with consent) is still rebuilt, retried and
            # refreshed; the inbox sensor's ticks keep failing on it until it is fixed.
            context.log.error(f"nightly: landing skipped: {exc}")
        new_keys = new_partition_keys(context.instance, [p.key for p in known_partitions(tracelab)])
        if new_keys:
            context.instance.add_dynamic_partitions(PARTITIONS_NAME, new_keys)
        stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
        build, retry = partition_work(context.instance, tracelab, partitioned)
        todo = build + retry
        tags = {TRIGGER_TAG: "nightly"}
        if not partitioned:
            requests = []
        elif ranged_runs and len(todo) > PER_PARTITION_RUNS_MAX:
            order = context.instance.get_dynamic_partitions(PARTITIONS_NAME)
            requests = [
                dg.RunRequest(
                    run_key=f"{stamp}:{start}..{end}",
                    asset_selection=partitioned,
                    tags={**partition_range_tags(start, end), **tags},
                )
                for start, end in contiguous_ranges(order, set(todo))
            ]
        else:
            requests = [
                dg.RunRequest(
                    run_key=f"{stamp}:{key}",
                    asset_selection=partitioned,
                    partition_key=key,
                    tags=tags,
                )
                for key in todo
            ]
        # Downstream only on a night with no partition to rebuild. Launched beside partition
        # runs, it would read the public layer before they publish, and its materialization,
        # landing after theirs, counts as handling their update: the automation sensor would
        # then never refresh it (eager()'s since_last_handled). Otherwise that sensor refreshes
        # the downstream assets once the rebuilt partitions are in. Retries of failed
        # partitions do not count: one whose check keeps failing would hold the refresh back
        # every night; one that now passes is refreshed by the next night's run at the latest.
        if downstream and not build:
            requests.append(
                dg.RunRequest(
                    run_key=f"{stamp}:downstream",
                    asset_selection=downstream,
                    tags=tags,
                )
            )
        return requests

    return nightly_sweep
