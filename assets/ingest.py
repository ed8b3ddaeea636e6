"""landed_files: the inbox, landed content-addressed, with an outcome per drop."""

import dagster as dg

from tracelab_pipeline.landing.consent import held_message
from tracelab_pipeline.orchestration.partitions import PARTITIONS_NAME
from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
from tracelab_pipeline.orchestration.sweep import (
    ContributorNames,
    known_partitions,
    land,
    landing_metadata,
)


@dg.asset(
    group_name="ingest",
    kinds={"python", "sqlite"},
    description=(
        "Every log dropped in the inbox (<inbox>/<contributor>/..., local or bucket), copied "
        "content-addressed under <data>/landed/ with a registry of drops, outcomes and reasons. "
        "Re-drops change nothing; a grown session file supersedes its older version. Also "
        "registers the contributor-month partitions the logs belong to. Drops of contributors "
        "not on the consent list are held in the inbox (counted by pseudonym, never by handle)."
    ),
)
def landed_files(
    context: dg.AssetExecutionContext,
    tracelab: TraceLabConfig,
    anonymization: AnonymizationConfig,
):
    report, consent = land(tracelab, anonymization)
    keys = [p.key for p in known_partitions(tracelab)]
    existing = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    new = [k for k in keys if k not in existing]
    if new:
        context.instance.add_dynamic_partitions(PARTITIONS_NAME, new)
    context.log.info(
        f"landed {report.files_landed} new file(s) from {len(report.drops)} new drop(s); "
        f"{len(new)} new partition(s)"
    )
    if report.held:
        # By pseudonym: this run's log is kept for everyone it landed, `forget` included.
        held = ContributorNames(anonymization, tracelab).held(report.held)
        context.log.warning(held_message(held, consent))
    return dg.MaterializeResult(metadata=landing_metadata(tracelab, report, consent, anonymization))
