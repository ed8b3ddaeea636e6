"""release_is_current: is the published release still what the public layer would give?

Non-blocking, severity WARN: a stale release is a fact to know (new partitions, a partition
re-anonymized, a contributor forgotten, a key rotated), not an error, and nothing rebuilds the
release on its own. A check of its own, not one of the release asset's specs: those run only
when the release is built, this one also runs when it is not, through its automation
condition (evaluated by the `downstream_automation` sensor, which targets every asset and
check). Library: tracelab_pipeline/release/provenance.py.
"""

import dagster as dg

from tracelab_pipeline.orchestration.automation import staleness_check_condition
from tracelab_pipeline.orchestration.release_verdict import release_verdict
from tracelab_pipeline.orchestration.resources import TraceLabConfig
from tracelab_pipeline.release.provenance import RELEASE_IS_CURRENT


@dg.asset_check(
    asset=dg.AssetKey("release"),
    name=RELEASE_IS_CURRENT,
    additional_deps=[dg.AssetKey("anonymized_steps")],
    blocking=False,
    automation_condition=staleness_check_condition(),
    description=(
        "The published release against the public layer now, from MANIFEST.json `built_from`: "
        "WARN naming how many public partitions were added, changed or removed since it was "
        "built and whether the pseudonym key changed. Runs after any public partition or the "
        "release updated and nightly at 03:00; never rebuilds the release."
    ),
)
def release_is_current(tracelab: TraceLabConfig) -> dg.AssetCheckResult:
    from tracelab_pipeline.release import RELEASE_DIR_NAME
    from tracelab_pipeline.release.provenance import staleness

    state = staleness(tracelab.data_path / RELEASE_DIR_NAME, tracelab.public_dir)
    return dg.AssetCheckResult(**release_verdict(state))
