"""The one partitioning of the pipeline: sparse contributor-month keys.

Keys are `"<contributor>|<YYYY-MM>"` and exist only for contributor-months that actually have
sessions (see docs/orchestration.md for why this beats a contributor x month grid).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dagster as dg

from tracelab_pipeline.landing.handles import PARTITION_SEPARATOR, is_valid_handle

PARTITIONS_NAME = "contributor_month"
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

contributor_month = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)

__all__ = [
    "PARTITIONS_NAME",
    "contributor_month",
    "month_window",
    "partition_key",
    "split_partition_key",
]


def partition_key(contributor: str, month: str) -> str:
    """Build the key for one contributor-month; month is `YYYY-MM`."""
    if not is_valid_handle(contributor):
        raise ValueError(f"invalid contributor handle: {contributor!r}")
    if not MONTH_RE.match(month):
        raise ValueError(f"invalid month {month!r}: expected YYYY-MM")
    return f"{contributor}{PARTITION_SEPARATOR}{month}"


def split_partition_key(key: str) -> tuple[str, str]:
    """(contributor, month) of a key; raises ValueError on anything that is not ours."""
    contributor, sep, month = key.rpartition(PARTITION_SEPARATOR)
    if not sep or not is_valid_handle(contributor) or not MONTH_RE.match(month):
        raise ValueError(f"not a contributor_month key: {key!r}")
    return contributor, month


def month_window(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` month in UTC."""
    m = MONTH_RE.match(month)
    if not m:
        raise ValueError(f"invalid month {month!r}: expected YYYY-MM")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return start, end
