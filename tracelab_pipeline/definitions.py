"""The Dagster code location: every asset and check in the `assets` and `checks` packages,
the inbox sensor, the nightly schedule, the automation sensor and the resources.

Adding a module to `assets/` or `checks/` is enough for it to appear here.
"""

from __future__ import annotations

import warnings

import dagster as dg

import assets as assets_package
import checks as checks_package
from tracelab_pipeline.orchestration.automation import automation_sensor
from tracelab_pipeline.orchestration.jobs import (
    PARTITIONS_JOB,
    automated_keys,
    build_jobs,
    partitioned_keys,
    single_run_backfills,
)
from tracelab_pipeline.orchestration.resources import build_resources
from tracelab_pipeline.orchestration.schedules import build_nightly_schedule
from tracelab_pipeline.orchestration.sensors import build_inbox_sensor

# Single-run backfills and partitioned checks are beta/preview APIs we chose on purpose (see
# docs/orchestration.md); their warnings would otherwise repeat in every run worker's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(data_dir=None, inbox=None, inbox_storage_options=None) -> dg.Definitions:
    all_assets = list(dg.load_assets_from_package_module(assets_package))
    all_checks = list(dg.load_asset_checks_from_package_module(checks_package)) + list(
        dg.load_asset_checks_from_package_module(assets_package)
    )
    jobs = build_jobs(all_assets)
    partitioned = partitioned_keys(all_assets)
    downstream = automated_keys(all_assets)
    sensors = [automation_sensor()]
    if any(j.name == PARTITIONS_JOB for j in jobs):
        sensors.append(build_inbox_sensor(ranged_runs=single_run_backfills(all_assets)))
    return dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=jobs,
        sensors=sensors,
        schedules=[
            build_nightly_schedule(
                partitioned, downstream, ranged_runs=single_run_backfills(all_assets)
            )
        ],
        resources=build_resources(data_dir, inbox, inbox_storage_options),
        # One process per run, not per step: our steps are short and a 2-core laptop spends
        # more time starting Python processes than computing. Runs still go side by side.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
