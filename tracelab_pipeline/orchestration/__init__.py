"""Dagster wiring: partitions, resources, sensors, schedules, jobs and automation.

The only part of `tracelab_pipeline` besides `definitions.py` that imports Dagster (the
`assets` and `checks` packages sit outside it).
"""
