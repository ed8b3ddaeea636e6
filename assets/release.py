"""release: `<data>/release/` for serving researchers (Parquet, TraceLab rounds, Mooncake traces,
Weka sessions, datasheet, manifest), built from the public layer only. A publication, not a
refresh: it has no automation condition, so new partitions never rebuild it on their own;
`tracelab demo` builds it (the downstream job selects every unpartitioned asset) and anyone can
from the UI.

Thin: calls `tracelab_pipeline.release.build_release`. The blocking checks (checks/release.py)
run on the staged release, and it replaces the published one only if they all passed.
"""

import dagster as dg

from checks.release import RELEASE_CHECK_SPECS, check_results
from tracelab_pipeline.orchestration.resources import TraceLabConfig


@dg.asset(
    name="release",
    deps=[dg.AssetKey("anonymized_steps")],
    check_specs=RELEASE_CHECK_SPECS,
    group_name="release",
    kinds={"parquet", "json"},
    # One build at a time (pools default to a limit of 1): two would race for the swap.
    pool="release",
    description=(
        "<data>/release/ built from the public Parquet layer: parquet/{steps,tool_calls,"
        "timing_events}.parquet (all partitions), tracelab_rounds.jsonl.gz (TraceLab round "
        "format), mooncake.jsonl.gz (Mooncake replay trace, 512-token synthesized blocks), "
        "mooncake.sessions.jsonl.gz (the same, closed-loop: delay after a thread's first call), "
        "weka.jsonl.gz (Weka / kv-cache-tester sessions, 64-token blocks, sub-agents nested), "
        "README.md (datasheet) and MANIFEST.json (sizes, SHA-256, rows). A publication, not a "
        "refresh: no automation condition; built by `tracelab demo` or on demand (UI: "
        "Materialize). Staged, checked, then swapped in; byte-identical when the public layer "
        "is unchanged. Fails, publishing nothing and withdrawing an earlier release, while the "
        "public layer has no partition: the latest materialization then describes a release "
        "no longer there, and a later observation (Events) says `withdrawn` and why. See "
        "docs/release.md."
    ),
)
def release(context: dg.AssetExecutionContext, tracelab: TraceLabConfig):
    from tracelab_pipeline.release import (
        RELEASE_DIR_NAME,
        LeftAside,
        NothingToRelease,
        build_release,
    )
    from tracelab_pipeline.release.checks import release_checks

    release_dir = tracelab.data_path / RELEASE_DIR_NAME
    try:
        built = build_release(
            tracelab.public_dir,
            release_dir,
            verify=lambda staged: release_checks(staged, tracelab.public_dir, tracelab.private_dir),
        )
    except (NothingToRelease, LeftAside) as exc:
        # A failed run leaves no materialization: release_is_current would go on saying
        # "STALE, rebuild it" of a release withdrawn (now, or by hand) until it next runs.
        from tracelab_pipeline.orchestration.release_verdict import (
            NOTHING_TO_RELEASE,
            WITHDRAWN,
            record_release_verdict,
        )
        from tracelab_pipeline.release.provenance import staleness

        state = staleness(release_dir, tracelab.public_dir)
        record_release_verdict(context.instance, state)
        # Structured, so that `tracelab demo` (or anyone) need not parse the message.
        outcome = {
            NOTHING_TO_RELEASE: isinstance(exc, NothingToRelease),
            WITHDRAWN: exc.withdrawn,
        }
        if not state.published:
            # The asset's latest materialization still describes the release withdrawn (its
            # rows, its files): this event, after it, says it is gone and why, without
            # claiming that something was published.
            yield dg.AssetObservation(
                asset_key=context.asset_key,
                description=f"{'withdrawn' if outcome[WITHDRAWN] else 'none published'}: {exc}",
                metadata=outcome,
            )
        # A failed materialization, not an empty one: nothing was published.
        raise dg.Failure(description=str(exc), metadata=outcome) from None
    results = check_results(built.checks)
    if not built.published:
        # The previous release (if any) is still in place: report the verdicts, then fail.
        yield from results
        failed = [c.name for c in built.checks if not c.passed]
        raise dg.Failure(
            description=f"blocking checks failed: {', '.join(failed)}; the release was not "
            "replaced",
            metadata={"failed_checks": dg.MetadataValue.json(failed)},
        )
    files = built.manifest["files"]
    context.log.info(f"release published at {built.path}: {built.manifest['counts']}")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": built.manifest["counts"]["steps"],
            "rows_by_file": dg.MetadataValue.json({n: f["rows"] for n, f in files.items()}),
            "bytes_by_file": dg.MetadataValue.json({n: f["bytes"] for n, f in files.items()}),
            "mooncake_steps_without_time": built.manifest["mooncake"]["steps_without_time"],
            "release_dir": dg.MetadataValue.path(str(built.path)),
        }
    )
    yield from results
    if built.left_aside is not None:
        # Published and reported above; failing still says that data is left behind.
        raise dg.Failure(
            description=f"the release was published, but the one it replaced, set aside at "
            f"{built.left_aside}, could not be removed: its files are still there; delete "
            "that directory"
        )
