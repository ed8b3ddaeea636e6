"""Declarative automation for the unpartitioned assets downstream of the partitioned layers."""

from __future__ import annotations

import dagster as dg

AUTOMATION_SENSOR_NAME = "downstream_automation"


def downstream_condition() -> dg.AutomationCondition:
    """Refresh when any upstream partition updated, once blocking checks passed.

    Plain `eager()` also requires that no upstream partition is missing; in our sparse
    contributor-month set a never-materialized or failed key would block it forever
    (stack notes 4.5), so that clause is removed.
    """
    return (
        dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    )


def report_condition() -> dg.AutomationCondition:
    """`downstream_condition`, and only once the warehouse exists: the report also depends on
    landed_files, which the inbox sensor's first landing updates minutes before any partition
    is published; requested alone then, it read a warehouse without tables and failed."""
    return downstream_condition() & ~dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.missing()
    ).allow(dg.AssetSelection.assets("warehouse"))


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the conditions of every asset that has one (the unpartitioned downstream)."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Refreshes the warehouse, paper tables, figures and report once their "
        "upstream assets have new materializations and their blocking checks passed.",
    )


STALENESS_CRON = "0 3 * * *"  # an hour after the nightly sweep starts (schedules.py)


def staleness_check_condition(timezone: str | None = None) -> dg.AutomationCondition:
    """When to compare the published release with the public layer (a check, never a rebuild):
    after any public partition or the release updated, and every night, which also catches
    what leaves no materialization behind (`tracelab forget`, a deleted public layer); never
    while an anonymize run or a release build is in progress, and not before a first release.
    """
    import os

    from tracelab_pipeline.orchestration.schedules import TZ_ENV

    tz = timezone or os.environ.get(TZ_ENV) or "UTC"
    return (
        (
            dg.AutomationCondition.any_deps_updated()
            | dg.AutomationCondition.cron_tick_passed(STALENESS_CRON, tz)
        ).since_last_handled()
        # anonymized_steps is sparse (most contributor-months never exist): only the release
        # itself must be present
        & ~dg.AutomationCondition.any_deps_missing().ignore(
            dg.AssetSelection.assets("anonymized_steps")
        )
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("release_staleness")
