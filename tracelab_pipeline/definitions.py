"""The Dagster code location: every asset and check in the `assets` and `checks` packages,
the inbox sensor, the nightly schedule, the automation sensor and the resources.

Adding a module to `assets/` or `checks/` is enough for it to appear here.
"""

from __future__ import annotations

import dagster as dg

import assets as assets_package
import checks as checks_package
from tracelab_pipeline.orchestration.automation import automation_sensor
from tracelab_pipeline.orchestration.jobs import build_jobs
from tracelab_pipeline.orchestration.resources import build_resources


def build_definitions(data_dir=None, inbox=None, inbox_storage_options=None) -> dg.Definitions:
    all_assets = list(dg.load_assets_from_package_module(assets_package))
    all_checks = list(dg.load_asset_checks_from_package_module(checks_package)) + list(
        dg.load_asset_checks_from_package_module(assets_package)
    )
    return dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=build_jobs(all_assets),
        sensors=[automation_sensor()],
        resources=build_resources(data_dir, inbox, inbox_storage_options),
    )


defs = build_definitions()
