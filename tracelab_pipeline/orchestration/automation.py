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
