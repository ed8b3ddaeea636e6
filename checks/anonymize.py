"""Checks of the anonymize stage.

The blocking checks of `anonymized_steps` are declared here as check specs and evaluated by the
asset itself on the *staged* partition, before it is published: a blocking check alone only
stops downstream steps of the same run, after the data is already visible (stack notes §4.4).
`gx_private_suite` validates the private partition that `normalized_steps` wrote.

Metadata holds counts by table, column and kind only, never raw values of private data.
"""

import dagster as dg

from tracelab_pipeline.anonymize.partition import GX_PRIVATE, GX_PUBLIC
from tracelab_pipeline.anonymize.public_checks import BLOCKING_CHECKS
from tracelab_pipeline.orchestration.partitions import split_partition_key
from tracelab_pipeline.orchestration.resources import TraceLabConfig

ANONYMIZED = dg.AssetKey("anonymized_steps")
NORMALIZED = dg.AssetKey("normalized_steps")

CHECK_DESCRIPTIONS = {
    **BLOCKING_CHECKS,
    GX_PUBLIC: "Great Expectations suites of the public layer: columns and types, non-null keys, "
    "unique step ids, non-negative tokens and latencies, input = prefix + append, timestamps "
    "in the partition window, allowed values, ids are pseudonyms",
}

ANONYMIZE_CHECK_SPECS = [
    dg.AssetCheckSpec(name, asset=ANONYMIZED, blocking=True, description=description)
    for name, description in CHECK_DESCRIPTIONS.items()
]


def check_results(prepared: list) -> list[dg.AssetCheckResult]:
    """One result per check spec, over every partition of the run (a backfill runs many)."""
    results = []
    for name in CHECK_DESCRIPTIONS:
        per_partition = {
            f"{p.pseudonym}|{p.month}": next(c for c in p.checks if c.name == name)
            for p in prepared
        }
        failed = sorted(k for k, c in per_partition.items() if not c.passed)
        metadata: dict = {"partitions_checked": len(per_partition), "partitions_failed": failed}
        if len(per_partition) == 1:
            metadata.update(next(iter(per_partition.values())).metadata)
        else:
            metadata["details"] = {k: c.metadata for k, c in per_partition.items()}
        results.append(
            dg.AssetCheckResult(
                asset_key=ANONYMIZED,
                check_name=name,
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={k: _value(v) for k, v in metadata.items()},
            )
        )
    return results


def _value(v):
    return dg.MetadataValue.json(v) if isinstance(v, dict | list) else v


@dg.asset_check(
    asset=NORMALIZED,
    name=GX_PRIVATE,
    blocking=True,
    description="Great Expectations suites of the private layer (columns and types, non-null keys, "
    "unique step ids, non-negative tokens and latencies, input = prefix + append, timestamps in "
    "the partition window, allowed values). Blocks anonymization in the same run.",
)
def gx_private_suite(context: dg.AssetCheckExecutionContext, tracelab: TraceLabConfig):
    from tracelab_pipeline.anonymize.partition import gx_outcomes, read_private

    op_context = context.op_execution_context
    keys = op_context.partition_keys if op_context.has_partition_key_range else []
    if not keys and op_context.has_partition_key:
        keys = [op_context.partition_key]
    partitions = {}
    for key in keys:
        contributor, month = split_partition_key(key)
        partitions[key] = (read_private(tracelab.private_dir, contributor, month), month)
    # One GX pass over every partition of the run; per partition only if that pass fails.
    outcomes = gx_outcomes(GX_PRIVATE, "private", partitions)
    failed = sorted(k for k, o in outcomes.items() if not o.passed)
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "partitions_checked": len(outcomes),
            "partitions_failed": dg.MetadataValue.json(failed),
            "failures": dg.MetadataValue.json(
                {k: o.metadata["failures"] for k, o in outcomes.items() if not o.passed}
            ),
            "expectations_evaluated": sum(
                o.metadata["expectations_evaluated"] for o in outcomes.values()
            ),
        },
    )
