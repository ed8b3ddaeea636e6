"""Dagster wiring: partitions, resources, sensors, schedules, jobs and automation.

The only package (besides `tracelab_pipeline/definitions.py`) that imports Dagster.
"""
