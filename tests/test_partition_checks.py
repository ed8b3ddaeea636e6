"""The normalized_steps invariants catch what they claim to (on real fixture rows)."""

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from landing_helpers import fixture

from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.partitioned import invariants

SRC = fixture("ccviewer__5c0375b4.jsonl")
SEPT = (datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC))


def tables():
    return normalize_files([SRC], "alice", file_sha256={str(SRC): "abc"})


def test_good_partition_passes_every_invariant():
    t = tables()
    assert t.steps.num_rows > 0
    assert invariants.nothing_lost(t.ingest_accounting, t.rejected_records, ["abc"])[0]
    assert invariants.unique_step_ids(t.steps)[0]
    assert invariants.token_sum(t.steps)[0]
    assert invariants.no_session_before_month(t.steps, *SEPT)[0]
    # sessions resumed from an earlier month's session start later than their partition
    aug = (datetime(2025, 8, 1, tzinfo=UTC), SEPT[0])
    ok, details = invariants.no_session_before_month(t.steps, *aug)
    assert ok and details["started_later"] == t.steps.num_rows


def test_each_invariant_fails_on_broken_rows():
    t = tables()
    ok, details = invariants.nothing_lost(t.ingest_accounting, t.rejected_records, ["abc", "zzz"])
    assert not ok and details["files_missing"] == 1
    acc = t.ingest_accounting
    i = acc.schema.get_field_index("lines_read")
    bumped = acc.set_column(i, acc.schema.field(i), pc.add(acc.column(i), 1))
    ok, details = invariants.nothing_lost(bumped, t.rejected_records, ["abc"])
    assert not ok and details["files_with_broken_accounting"] == 1

    ok, details = invariants.unique_step_ids(pa.concat_tables([t.steps, t.steps.slice(0, 1)]))
    assert not ok and details["duplicated"] == 1

    steps = t.steps
    j = steps.schema.get_field_index("input_tokens_total")
    off = pa.array([v + (1 if n == 0 else 0) for n, v in enumerate(steps.column(j).to_pylist())])
    ok, details = invariants.token_sum(steps.set_column(j, steps.schema.field(j), off))
    assert not ok and details["mismatches"] == 1

    oct_window = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC))
    ok, details = invariants.no_session_before_month(t.steps, *oct_window)
    assert not ok and details["before_month"] == t.steps.num_rows
