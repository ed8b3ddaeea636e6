"""Jobs the sensor and the schedule launch."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from tracelab_pipeline.orchestration.partitions import contributor_month

LAND_JOB = "land_inbox"
PARTITIONS_JOB = "contributor_month_assets"
DOWNSTREAM_JOB = "refresh_downstream"
LANDED = dg.AssetKey("landed_files")


def partitioned_keys(assets: Iterable) -> list[dg.AssetKey]:
    """Keys of every asset partitioned by contributor_month (normalize, anonymize, ...)."""
    return _keys(assets, lambda a: a.partitions_def == contributor_month)


def unpartitioned_keys(assets: Iterable) -> list[dg.AssetKey]:
    return _keys(assets, lambda a: a.partitions_def is None)


def automated_keys(assets: Iterable) -> list[dg.AssetKey]:
    """Unpartitioned keys with an automation condition: what the nightly sweep refreshes in
    the automation sensor's stead (not the release, a publication built on demand)."""
    keys = [
        spec.key
        for asset in assets
        if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def is None
        for spec in asset.specs
        if spec.automation_condition is not None
    ]
    return sorted(keys, key=lambda k: k.to_user_string())


def _keys(assets: Iterable, keep) -> list[dg.AssetKey]:
    keys = [
        key
        for asset in assets
        if isinstance(asset, dg.AssetsDefinition) and keep(asset)
        for key in asset.keys
    ]
    return sorted(keys, key=lambda k: k.to_user_string())


def build_jobs(assets: list) -> list[dg.UnresolvedAssetJobDefinition]:
    """landed_files alone; all contributor-month assets; everything unpartitioned after landing.

    A job is only defined when its selection is not empty, so the code location still loads
    while stages are being added.
    """
    part = partitioned_keys(assets)
    unpart = unpartitioned_keys(assets)
    downstream = [k for k in unpart if k != LANDED]
    jobs = []
    if LANDED in unpart:
        jobs.append(
            dg.define_asset_job(
                LAND_JOB,
                selection=dg.AssetSelection.assets(LANDED),
                description="Land new inbox drops and register contributor-month partitions.",
            )
        )
    if part:
        jobs.append(
            dg.define_asset_job(
                PARTITIONS_JOB,
                selection=dg.AssetSelection.assets(*part),
                description="Normalize (and anonymize) the requested contributor-month partitions.",
            )
        )
    if downstream:
        jobs.append(
            dg.define_asset_job(
                DOWNSTREAM_JOB,
                selection=dg.AssetSelection.assets(*downstream),
                description="Rebuild the unpartitioned warehouse, tables, figures and report.",
            )
        )
    return jobs


def single_run_backfills(assets: Iterable) -> bool:
    """Every contributor-month asset handles many keys per run (BackfillPolicy.single_run())."""
    for asset in assets:
        if (
            isinstance(asset, dg.AssetsDefinition)
            and asset.keys  # check-only definitions have no asset keys and no policy
            and asset.partitions_def == contributor_month
        ):
            policy = asset.backfill_policy
            if policy is None or policy.max_partitions_per_run is not None:
                return False
    return True
