"""Reader rows -> Arrow tables, at a fraction of `Table.from_pylist`'s cost.

Readers give each row as a list of values in schema column order (formats/rows.py). A batch's
rows are gathered as they are (a list of references per file, no copy of any value) and
transposed once, by one C-level `zip`, into one tuple per column; timestamps reach Arrow as
exact timedeltas from the epoch. The tables are the same as `from_pylist` of the rows as dicts.
`from_pylist` would walk every row once per column, mostly cache misses on a large batch, and
convert each tz-aware datetime by calling its `utcoffset()`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from tracelab_pipeline.schema import TABLES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECONDS = pa.duration("us")


class ColumnBuffer:
    """The rows of one table for a batch of files, plus a tag per row."""

    def __init__(self, name: str, tag_column: str):
        self.name = name
        self.schema = TABLES[name]
        self.tag_column = tag_column
        self.width = {len(self.schema)}
        self.rows: list[list] = []
        self.tags: list[int] = []

    def add(self, rows: list[list], tag: int) -> None:
        """Append a file's rows (lists in schema column order), each tagged with `tag`;
        raises ValueError if a row has the wrong number of values."""
        if not rows:
            return
        if {*map(len, rows)} != self.width:
            raise ValueError(f"a {self.name} row without {len(self.schema)} values")
        # One transposition per batch (in table()) costs less than one per file plus the
        # extend of every column list: ~2x less for this step on the replicated fixtures.
        self.rows += rows
        self.tags += [tag] * len(rows)

    def table(self) -> pa.Table:
        """The rows so far as a table of the schema plus the int32 tag column; raises
        like `from_pylist` when a value does not fit its column's type."""
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.schema)
        self.rows = []  # the values live on in `columns` only: freed column by column below
        arrays = []
        for i, field in enumerate(self.schema):
            arrays.append(_array(columns[i], field.type))
            columns[i] = None
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        return table.append_column(self.tag_column, pa.array(self.tags, pa.int32()))


def _array(values, type_: pa.DataType) -> pa.Array:
    if not pa.types.is_timestamp(type_) or type_.unit != "us":
        return pa.array(values, type=type_)
    # Arrow converts an aware datetime by calling utcoffset() on it (~5x the cost of the
    # subtraction below, which is C only when the zone is UTC, as readers' are). The timedelta
    # is exact and Arrow stores the instant as microseconds since the epoch either way.
    try:
        since_epoch = [None if v is None else v - EPOCH for v in values]
    except TypeError:  # a naive datetime or not a datetime at all: Arrow's own rules decide
        return pa.array(values, type=type_)
    return pa.array(since_epoch, type=MICROSECONDS).view(type_)
