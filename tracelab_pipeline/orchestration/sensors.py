"""The inbox sensor: land new drops, register new partitions, request runs for exactly the
partitions whose inputs changed.

Cursor = the landing registry's generation at the last tick. Every partition remembers the
generation at which its input files last changed, so after a crash between landing and the
cursor being saved (Dagster saves it only once the runs are launched) the next tick still
sees those partitions as changed; the run_key (partition + digest of its inputs) keeps a
partition from being requested twice for the same inputs. A changed partition whose Parquet
is already built from its current inputs is not requested: `tracelab demo` builds through the
same instance without moving this cursor, so the first tick of `dagster dev` after it would
otherwise rebuild everything the demo just built.

Many changed partitions at once (a first big inbox, a re-drop of old archives) are requested
as a few ranged runs instead of one process per partition, when every partitioned asset has
a single-run backfill policy and so handles several keys per run.
"""

from __future__ import annotations

import hashlib

import dagster as dg

# Dagster 1.13.27 has no public API for one run over a range of partition keys: RunRequest,
# JobDefinition.execute_in_process and materialize take a single `partition_key`, and
# RunRequest.for_asset_graph_subset is private. Its own `dagster asset materialize
# --partition-range` sets these two tags, so we do the same, importing them in this one place.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from tracelab_pipeline.landing.consent import held_message
from tracelab_pipeline.landing.registry import PartitionState, Registry
from tracelab_pipeline.orchestration.jobs import PARTITIONS_JOB
from tracelab_pipeline.orchestration.partitions import contributor_month
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.orchestration.sweep import (
    SENSOR_LANDING_BUDGET_S,
    built_from_current_inputs,
    land,
    landing_metadata,
)

INBOX_SENSOR = "inbox_sensor"
# Up to this many changed partitions get one run each (clear per-partition status in the UI);
# beyond it, contiguous keys share ranged runs.
PER_PARTITION_RUNS_MAX = 8
TRIGGER_TAG = "tracelab/trigger"


def partition_run_key(key: str, digest: str) -> str:
    return f"{key}@{digest[:16]}"


def build_inbox_sensor(ranged_runs: bool, per_partition_max: int = PER_PARTITION_RUNS_MAX):
    @dg.sensor(
        name=INBOX_SENSOR,
        job_name=PARTITIONS_JOB,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Lands new inbox drops and requests runs for the contributor-months "
        "whose input files changed.",
    )
    def inbox_sensor(
        context: dg.SensorEvaluationContext,
        tracelab: TraceLabConfig,
        anonymization: AnonymizationConfig,
    ):
        # `anonymization` is here for its setup: in production without a usable pseudonym key
        # it fails the tick (UI: the sensor's tick history names the cause) before anything
        # lands. Otherwise every run requested would fail at start, with the cursor moved on.
        # It also says who consented: without a list, production fails the tick the same way.
        since = int(context.cursor or 0)
        report, consent = land(tracelab, anonymization, budget_s=SENSOR_LANDING_BUDGET_S)
        with Registry(tracelab.landed_dir) as reg:
            generation = reg.generation
            changed = reg.changed_since(since)
            all_keys = [p.key for p in reg.partitions()]
        existing = context.instance.get_dynamic_partitions(contributor_month.name)
        new_keys = [k for k in all_keys if k not in set(existing)]
        order = [*existing, *new_keys]  # the instance's key order once the adds are applied
        wanted = [
            p for p in changed if p.key in set(order) and not built_from_current_inputs(tracelab, p)
        ]
        if ranged_runs and len(wanted) > per_partition_max:
            requests = _ranged_requests(order, wanted)
        else:
            requests = [
                dg.RunRequest(
                    run_key=partition_run_key(p.key, p.digest),
                    partition_key=p.key,
                    tags={TRIGGER_TAG: "inbox"},
                )
                for p in wanted
            ]
        events = []
        if report.drops:
            events.append(
                dg.AssetMaterialization(
                    "landed_files",
                    metadata=landing_metadata(tracelab, report, consent, anonymization),
                )
            )
        for problem in report.retry:
            context.log.warning(f"not landed, retried next tick: {problem}")
        if report.held:
            context.log.info(held_message(report.held, consent))
        if not requests and not new_keys and not events:
            # Drops that could not be read are not recorded anywhere else: say so in the tick.
            unread = (
                f"; {len(report.retry)} drop(s) could not be read, retried next tick, e.g. "
                f"{report.retry[0]}"
                if report.retry
                else ""
            )
            held = f"; {held_message(report.held, consent)}" if report.held else ""
            return dg.SkipReason(f"nothing new in {tracelab.inbox_url}{unread}{held}")
        adds = [contributor_month.build_add_request(new_keys)] if new_keys else []
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=adds,
            asset_events=events,
            cursor=str(generation),
        )

    return inbox_sensor


def _ranged_requests(order: list[str], wanted: list[PartitionState]) -> list[dg.RunRequest]:
    digests = {p.key: p.digest for p in wanted}
    requests = []
    for start, end in contiguous_ranges(order, set(digests)):
        keys = order[order.index(start) : order.index(end) + 1]
        h = hashlib.sha256("\n".join(f"{k}@{digests[k]}" for k in keys).encode()).hexdigest()
        requests.append(
            dg.RunRequest(
                run_key=f"{start}..{end}@{h[:16]}",
                tags={**partition_range_tags(start, end), TRIGGER_TAG: "inbox"},
            )
        )
    return requests


def partition_range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the partition keys start..end (inclusive)."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def contiguous_ranges(order: list[str], wanted: set[str]) -> list[tuple[str, str]]:
    """Maximal runs of consecutive keys (in `order`) that are all in `wanted`."""
    ranges, start, prev = [], None, None
    for k in order:
        if k in wanted:
            start = start or k
            prev = k
        elif start:
            ranges.append((start, prev))
            start = None
    if start:
        ranges.append((start, prev))
    return ranges
