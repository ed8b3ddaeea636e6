"""The `release_is_current` verdict as Dagster records it: one place for the check's result
and for the evaluations `tracelab forget` and the release asset (when it fails, withdrawing or
leaving a release aside) report at once, so they never read differently; and the metadata
keys such a failure records, which `tracelab demo` reads."""

from __future__ import annotations

import dagster as dg

from tracelab_pipeline.release.provenance import Staleness

# Metadata of a release build that published nothing, on its Failure and, when it leaves no
# release published, on the observation recorded on the asset: the empty public layer was the
# build's only failure (the expected end of a withdrawal, not an error), and this build took
# a published release down (its files may still lie aside when that is not the only failure).
NOTHING_TO_RELEASE = "nothing_to_release"
WITHDRAWN = "withdrawn"


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


def record_release_verdict(instance: dg.DagsterInstance, state: Staleness) -> None:
    """Records `state` as the check's latest verdict at once, outside its own runs: after
    erasing, a withdrawal or a release left aside, none of which leaves a release
    materialization, it would otherwise show its last verdict until it next runs."""
    from tracelab_pipeline.release.provenance import RELEASE_IS_CURRENT

    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("release"),
            check_name=RELEASE_IS_CURRENT,
            **release_verdict(state),
        )
    )
