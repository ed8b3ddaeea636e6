"""Build one private contributor-month partition from its landed files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc

from tracelab_pipeline.landing.registry import Registry
from tracelab_pipeline.normalize import normalize_files
from tracelab_pipeline.partitioned.store import write_partition

# Preview columns: counts and labels only, never text or ids.
PREVIEW_COLUMNS = (
    "provider",
    "model",
    "step_index",
    "trigger",
    "input_tokens_total",
    "prefix_tokens",
    "append_tokens",
    "output_tokens",
    "tool_call_count",
)


def build_partition(
    reg: Registry, private_root: str | Path, contributor: str, month: str, workers: int = 1
) -> dict:
    """Normalize the partition's current landed files and replace its Parquet; return a summary."""
    key = f"{contributor}|{month}"
    files = reg.files_for_partition(key)
    digest = reg.partition_digest(key)
    tables = normalize_files(
        [f.object_path for f in files],
        contributor,
        workers=workers,
        file_sha256={f.object_path: f.sha256 for f in files},
    )
    inputs = {
        "partition": key,
        "digest": digest,
        "files": [{"sha256": f.sha256, "member": f.member, "lines": f.lines} for f in files],
    }
    write_partition(private_root, contributor, month, tables.tables(), inputs)
    steps = tables.steps
    acc = tables.ingest_accounting.to_pylist()
    reasons: Counter = Counter()
    for row in acc:
        for reason, count in row["rejected_by_reason"]:
            reasons[reason] += count
    preview = steps.select(list(PREVIEW_COLUMNS)).slice(0, 5).to_pylist()
    return {
        "partition": key,
        "digest": digest,
        "files": len(files),
        "sessions": pc.count_distinct(steps.column("root_session_id")).as_py()
        if steps.num_rows
        else 0,
        "steps": steps.num_rows,
        "tool_calls": tables.tool_calls.num_rows,
        "rejected_records": tables.rejected_records.num_rows,
        "unreadable_files": sum(1 for r in acc if r["error"]),
        "rejected_by_reason": dict(reasons),
        "preview": preview,
    }
