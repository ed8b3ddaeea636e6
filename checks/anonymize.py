"""Checks of the anonymize stage.

The blocking checks of `anonymized_steps` are declared here as check specs and evaluated by the
asset itself, in memory, before anything is written: a blocking check alone only stops
downstream steps of the same run, after the data is already visible (stack notes §4.4).
`gx_private_suite` validates the private partition the asset read (written by
`normalized_steps`): the partition is read once, not once per check, and both GX suites run in
one pass where they share expectations (validate.validate_layers).

Metadata holds counts by table, column and kind only, never raw values of private data.
"""

import dagster as dg

from tracelab_pipeline.anonymize.partition import GX_PRIVATE, GX_PUBLIC
from tracelab_pipeline.anonymize.public_checks import BLOCKING_CHECKS

ANONYMIZED = dg.AssetKey("anonymized_steps")

CHECK_DESCRIPTIONS = {
    GX_PRIVATE: "Great Expectations suites of the private partition read from normalized_steps: "
    "columns and types, non-null keys, unique step ids, non-negative tokens and latencies, "
    "input = prefix + append, timestamps in the partition window, allowed values",
    **BLOCKING_CHECKS,
    GX_PUBLIC: "Great Expectations suites of the public layer: columns and types, non-null keys, "
    "unique step ids, non-negative tokens and latencies, input = prefix + append, timestamps "
    "in the partition window, allowed values",
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
