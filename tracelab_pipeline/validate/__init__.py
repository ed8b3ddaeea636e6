"""Great Expectations suites (as code) for the private and public layers, run in-process."""

from tracelab_pipeline.validate.runner import (
    SuiteReport,
    validate_layers,
    validate_partition,
    validate_partitions,
    validate_table,
)

__all__ = [
    "SuiteReport",
    "validate_layers",
    "validate_partition",
    "validate_partitions",
    "validate_table",
]
