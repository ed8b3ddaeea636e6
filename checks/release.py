"""Checks of the release: declared here, evaluated by the `release` asset on the staged
directory before it is published (a blocking check alone only stops downstream steps, after
the files are visible: stack notes 4.4). Definitions: tracelab_pipeline/release/checks.py."""

import dagster as dg

from tracelab_pipeline.release.checks import RELEASE_CHECKS

RELEASE = dg.AssetKey("release")

RELEASE_CHECK_SPECS = [
    dg.AssetCheckSpec(name, asset=RELEASE, blocking=True, description=description)
    for name, description in RELEASE_CHECKS.items()
]


def check_results(outcomes: list) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            asset_key=RELEASE,
            check_name=o.name,
            passed=o.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
                for k, v in o.metadata.items()
            },
        )
        for o in outcomes
    ]
