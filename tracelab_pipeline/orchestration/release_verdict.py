"""The `release_is_current` verdict as Dagster records it: one place for the check's result
and for the evaluation `tracelab forget` reports at once, so the two never read differently."""

from __future__ import annotations

import dagster as dg

from tracelab_pipeline.release.provenance import Staleness


def release_verdict(state: Staleness) -> dict:
    """Keyword arguments of AssetCheckResult / AssetCheckEvaluation for `state`: a stale
    release is a warning, never an error (nothing rebuilds it on its own)."""
    return {
        "passed": not state.stale,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": state.line(),
        "metadata": {
            k: dg.MetadataValue.json(v) if isinstance(v, list) else v
            for k, v in state.metadata().items()
        },
    }
