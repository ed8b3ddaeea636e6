"""The inbox sensor: land new drops, register new partitions, request runs for exactly the
partitions whose inputs changed.

Cursor = the landing registry's generation at the last tick. Every partition remembers the
generation at which its input files last changed, so after a crash between landing and the
cursor being saved (Dagster saves it only once the runs are launched) the next tick still
sees those partitions as changed; the run_key (partition + digest of its inputs) keeps a
partition from being requested twice for the same inputs.
"""

from __future__ import annotations

import dagster as dg

from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.orchestration.jobs import PARTITIONS_JOB
from tracelab_pipeline.orchestration.partitions import contributor_month
from tracelab_pipeline.orchestration.resources import TraceLabConfig
from tracelab_pipeline.orchestration.sweep import land, landing_metadata, new_partition_keys

INBOX_SENSOR = "inbox_sensor"


def partition_run_key(key: str, digest: str) -> str:
    return f"{key}@{digest[:16]}"


@dg.sensor(
    name=INBOX_SENSOR,
    job_name=PARTITIONS_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lands new inbox drops and requests runs for the contributor-months they change.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, tracelab: TraceLabConfig):
    since = int(context.cursor or 0)
    report = land(tracelab)
    with Registry(tracelab.landed_dir) as reg:
        generation = reg.generation
        changed = reg.changed_since(since)
        all_keys = [p.key for p in reg.partitions()]
    new_keys = new_partition_keys(context.instance, all_keys)
    known = set(all_keys) | set(context.instance.get_dynamic_partitions(contributor_month.name))
    requests = [
        dg.RunRequest(
            run_key=partition_run_key(p.key, p.digest),
            partition_key=p.key,
            tags={"tracelab/trigger": "inbox"},
        )
        for p in changed
        if p.key in known
    ]
    events = []
    if report.drops:
        events.append(
            dg.AssetMaterialization("landed_files", metadata=landing_metadata(tracelab, report))
        )
    if not requests and not new_keys and not events:
        return dg.SkipReason(f"nothing new in {tracelab.inbox_url}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[contributor_month.build_add_request(new_keys)]
        if new_keys
        else [],
        asset_events=events,
        cursor=str(generation),
    )
