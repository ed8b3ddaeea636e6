"""normalized_steps: the readers' output per contributor-month (private layer)."""

import dagster as dg

from tracelab_pipeline.orchestration.partitions import contributor_month
from tracelab_pipeline.orchestration.resources import TraceLabConfig
from tracelab_pipeline.partitioned.build import build_partitions

PREVIEW_ROWS = 5


@dg.asset(
    partitions_def=contributor_month,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["landed_files"],
    group_name="normalize",
    kinds={"python", "parquet"},
    description=(
        "Steps, tool calls, timing events, per-file accounting and rejected records of one "
        "contributor-month, read from its landed logs. Private (raw ids, paths): "
        "<data>/private/<table>/contributor=<c>/month=<YYYY-MM>/part.parquet, replaced atomically."
    ),
)
def normalized_steps(context: dg.AssetExecutionContext, tracelab: TraceLabConfig):
    # A backfill runs many partitions in one run (single-run policy): build them all, a few
    # processes at a time.
    built, not_written = [], []
    keys = list(context.partition_keys)
    for summary in build_partitions(
        tracelab.landed_dir, tracelab.private_dir, keys, workers=tracelab.workers
    ):
        if summary["not_written"]:
            # By month only: the run's log outlives the erasure when the run covers others.
            context.log.warning(f"a partition of {summary['month']}: {summary['not_written']}")
            not_written.append(summary["month"])
            continue
        context.log.info(
            f"{summary['partition']}: {summary['files']} file(s), {summary['sessions']} "
            f"session(s), {summary['steps']} step(s), {summary['rejected_records']} rejected"
        )
        built.append(summary)
    built.sort(key=lambda b: b["partition"])
    metadata = _metadata(built)
    if not_written:
        metadata["not_written_erased"] = len(not_written)
    return dg.MaterializeResult(metadata=metadata)


def _metadata(built: list[dict]) -> dict:
    total = {
        k: sum(b[k] for b in built)
        for k in (
            "files",
            "sessions",
            "steps",
            "tool_calls",
            "rejected_records",
            "unreadable_files",
        )
    }
    meta: dict = {
        "partitions_in_run": len(built),
        **total,
        "dagster/row_count": total["steps"],
        "rejected_by_reason": dg.MetadataValue.json(
            _merge_counts(b["rejected_by_reason"] for b in built)
        ),
        "preview": dg.MetadataValue.md(_preview(built)),
    }
    if len(built) == 1:
        meta["input_digest"] = built[0]["digest"]
    return meta


def _merge_counts(dicts) -> dict:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _preview(built: list[dict]) -> str:
    rows = [r for b in built for r in b["preview"]][:PREVIEW_ROWS]
    if not rows:
        return "(no steps)"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
