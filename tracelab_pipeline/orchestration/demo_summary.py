"""The few lines `tracelab demo` prints at the end."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

from tracelab_pipeline.orchestration.demo import DemoResult


def dataset_counts(private_steps: Path) -> dict[str, int]:
    import duckdb

    files = list(private_steps.glob("contributor=*/month=*/part.parquet"))
    if not files:
        return {"contributors": 0, "sessions": 0, "steps": 0, "partitions": 0}
    con = duckdb.connect()
    row = con.execute(
        "SELECT count(DISTINCT contributor), count(DISTINCT contributor || '/' || root_session_id),"
        " count(*) FROM read_parquet(?, union_by_name = true)",
        [[str(f) for f in files]],
    ).fetchone()
    con.close()
    return {"contributors": row[0], "sessions": row[1], "steps": row[2], "partitions": len(files)}


def summarize(result: DemoResult) -> str:
    data = result.data_dir
    counts = dataset_counts(data / "private" / "steps")
    figures = sorted((data / "figures").glob("*.png")) if (data / "figures").is_dir() else []
    reports = (
        sorted(p for p in (data / "report").glob("*") if p.is_file())
        if (data / "report").is_dir()
        else []
    )
    warehouse = data / "warehouse.duckdb"
    lines = [
        "",
        "TraceLab demo "
        + ("finished with failures" if result.failures else "done")
        + f" in {result.seconds.get('total', 0):.1f} s",
        f"  inbox filled from: {result.filled_inbox}" if result.filled_inbox else "  inbox: reused",
        f"  contributors: {counts['contributors']}   sessions: {counts['sessions']}   "
        f"steps: {counts['steps']}   contributor-months: {counts['partitions']}",
        f"  this run: {len(result.partitions_run)} partition(s) rebuilt in "
        f"{result.partition_runs} run(s); downstream "
        + ("rebuilt" if result.downstream_ran else "up to date"),
        f"  warehouse: {warehouse}" + ("" if warehouse.exists() else " (not built)"),
        f"  figures:   {data / 'figures'} ({len(figures)} PNG)",
        f"  report:    {reports[0] if reports else data / 'report'}"
        + ("" if reports else " (not built)"),
    ]
    for failure in result.failures[:10]:
        lines.append(f"  FAILED {failure}")
    lines += [
        "",
        "Open the same instance in the Dagster UI (from the repository root):",
        f"  DAGSTER_HOME={quote(str(result.dagster_home))} TRACELAB_DATA_DIR={quote(str(data))} "
        "uv run dagster dev",
    ]
    return "\n".join(lines)
