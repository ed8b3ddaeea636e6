"""Normalization: raw log files -> deduplicated step, tool-call and timing tables + accounting."""

from tracelab_pipeline.normalize.files import iter_log_files
from tracelab_pipeline.normalize.run import (
    normalize_files,
    normalize_streamed,
    normalize_to_parquet,
)
from tracelab_pipeline.normalize.tables import NormalizedTables

__all__ = [
    "NormalizedTables",
    "iter_log_files",
    "normalize_files",
    "normalize_streamed",
    "normalize_to_parquet",
]
