"""Invariants of one normalized contributor-month partition.

Each function returns (passed, details) where details is small, JSON-able and holds no raw
text (counts, ids of offending rows at most a few).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

SAMPLE = 5


def nothing_lost(
    accounting: pa.Table, rejected: pa.Table, expected_sha256: list[str]
) -> tuple[bool, dict]:
    """Per file: lines_read = used + ignored + rejected; every input file (by hash) has its
    accounting row; every rejected line is kept aside."""
    rows = accounting.to_pylist()
    broken = [
        r["file_sha256"] or r["source_file"]
        for r in rows
        if r["lines_read"] != r["records_used"] + r["records_ignored"] + r["records_rejected"]
    ]
    accounted = {r["file_sha256"] for r in rows}
    missing = sorted(set(expected_sha256) - accounted)
    kept = rejected.num_rows
    counted = sum(r["records_rejected"] for r in rows)
    details = {
        "files_expected": len(expected_sha256),
        "files_accounted": len(rows),
        "files_missing": len(missing),
        "files_with_broken_accounting": len(broken),
        "lines_read": sum(r["lines_read"] for r in rows),
        "records_rejected": counted,
        "rejected_rows_kept": kept,
        "broken_sample": broken[:SAMPLE],
        "missing_sample": missing[:SAMPLE],
    }
    passed = not broken and not missing and len(rows) == len(expected_sha256) and kept == counted
    return passed, details


def unique_step_ids(steps: pa.Table) -> tuple[bool, dict]:
    ids = steps.column("step_id")
    distinct = pc.count_distinct(ids).as_py() if steps.num_rows else 0
    details = {"steps": steps.num_rows, "distinct_step_ids": distinct}
    if distinct != steps.num_rows:
        counts = pc.value_counts(ids).to_pylist()
        details["duplicated"] = sum(1 for c in counts if c["counts"] > 1)
    return distinct == steps.num_rows, details


def token_sum(steps: pa.Table) -> tuple[bool, dict]:
    """input_tokens_total = prefix_tokens + append_tokens on every step."""
    if steps.num_rows == 0:
        return True, {"steps": 0, "mismatches": 0}
    expected = pc.add(steps.column("prefix_tokens"), steps.column("append_tokens"))
    bad = pc.invert(pc.equal(steps.column("input_tokens_total"), expected))
    bad = pc.fill_null(bad, True)
    mismatches = pc.sum(bad).as_py() or 0
    sample = steps.filter(bad).column("step_index").to_pylist()[:SAMPLE]
    return mismatches == 0, {
        "steps": steps.num_rows,
        "mismatches": mismatches,
        "mismatch_step_index_sample": sample,
    }


def no_session_before_month(steps: pa.Table, start: datetime, end: datetime) -> tuple[bool, dict]:
    """No step's session started before the partition's month (the partitioning rule).

    A session may start after it: a log resumed in a later month (a resumed Claude Code file
    repeats the earlier session's records before its own) lands with the session it resumed.
    """
    if steps.num_rows == 0:
        return True, {"steps": 0, "before_month": 0}
    ts = steps.column("session_started_at")
    before = pc.sum(pc.less(ts, pa.scalar(start, type=ts.type))).as_py() or 0
    later = pc.sum(pc.greater_equal(ts, pa.scalar(end, type=ts.type))).as_py() or 0
    return before == 0 and ts.null_count == 0, {
        "steps": steps.num_rows,
        "before_month": before,
        "missing_start": ts.null_count,
        "started_later": later,
        "earliest": str(pc.min(ts).as_py()),
        "latest": str(pc.max(ts).as_py()),
        "month": f"[{start.isoformat()}, {end.isoformat()})",
    }
