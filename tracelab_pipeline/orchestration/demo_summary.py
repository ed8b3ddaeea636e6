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
        " count(*), count(DISTINCT filename) FROM read_parquet(?, union_by_name = true,"
        " filename = true)",
        [[str(f) for f in files]],
    ).fetchone()
    con.close()
    # Partitions with steps: one emptied when its logs moved to another month has none.
    return {"contributors": row[0], "sessions": row[1], "steps": row[2], "partitions": row[3]}


def registry_counts(data: Path) -> dict[str, int] | None:
    """What landing did with every inbox drop and file in it (landing registry), so that a
    contributor can match the summary to what `tracelab contribute` said it dropped; also the
    drops not landed and the files landed without a month (bad input). None: no registry.
    The counts are the report's (landing/counts.py), split as this summary says them."""
    from tracelab_pipeline.landing.counts import drops_not_landed, landing_counts

    counts = landing_counts(data / "landed")
    if counts is None:
        return None
    drops, members, files = counts["drops"], counts["members"], counts["files"]
    return {
        "drops": sum(drops.values()),
        "landed": members["landed"],
        "duplicate": members["duplicate"],
        "other": sum(members.values()) - members["landed"] - members["duplicate"],
        "superseded": files["superseded"],
        "drops_not_landed": drops_not_landed(drops),
        # Landed, but no timestamp gives them a month: never normalized (status_reason says).
        "files_unplaced": files["unplaced"],
    }


def _this_run_line(result: DemoResult) -> str:
    if result.stopped:
        return (
            "  this run: stopped: the landing run refused to start (FAILED below says why); no "
            "partition or downstream run was started"
        )
    if result.downstream_ran:
        downstream = "rebuilt"
    elif result.no_public:
        # Not "not built": after `tracelab forget` of the last contributor the warehouse and
        # the rest are still there, built from the layer as it was.
        downstream = "not rebuilt: the public layer has no partition"
        if result.release_withdrawn:
            downstream += "; the release published before was withdrawn (nothing to release)"
    else:
        downstream = "up to date"
    return (
        f"  this run: {len(result.partitions_run)} partition(s) rebuilt in "
        f"{result.partition_runs} run(s); downstream {downstream}"
    )


def _landing_line(counts: dict[str, int] | None) -> list[str]:
    # The registry's totals over every landing, not this run's: "so far", or a second run
    # that landed nothing would read as landing every file again.
    if counts is None:
        return ["  landed so far: nothing (no landing registry)"]
    return [
        f"  landed so far: {counts['drops']} inbox drop(s); files: {counts['landed']} new, "
        f"{counts['duplicate']} already landed, {counts['other']} skipped or unreadable; "
        f"{counts['superseded']} replaced by a newer version of the same log"
    ]


def bad_input_counts(data: Path, registry: dict[str, int] | None) -> dict[str, int]:
    """Inbox drops not landed and files landed without a month (from `registry_counts`),
    rejected lines and files with a reader error (private ingest_accounting): bad input is set
    aside, and the summary says so."""
    import duckdb

    counts = {"drops_not_landed": 0, "files_unplaced": 0, "records_rejected": 0, "file_errors": 0}
    counts.update(logs_without_steps=0, legacy_codex_logs=0)
    if registry is not None:
        counts.update(
            drops_not_landed=registry["drops_not_landed"],
            files_unplaced=registry["files_unplaced"],
        )
    files = list((data / "private" / "ingest_accounting").glob("**/*.parquet"))
    if files:
        con = duckdb.connect()
        rejected, errors, stepless, legacy = con.execute(
            "SELECT coalesce(sum(records_rejected), 0), count(error),"
            " count(*) FILTER (steps = 0 AND duplicate_steps = 0 AND error IS NULL),"
            " count(*) FILTER (steps = 0 AND error IS NULL"
            "  AND len(list_filter(map_keys(ignored_by_type), lambda k: k LIKE 'legacy.%')) > 0)"
            " FROM read_parquet(?, union_by_name = true)",
            [[str(f) for f in files]],
        ).fetchone()
        con.close()
        counts.update(
            records_rejected=int(rejected),
            file_errors=int(errors),
            logs_without_steps=int(stepless),
            legacy_codex_logs=int(legacy),
        )
    return counts


BAD_INPUT = ("drops_not_landed", "files_unplaced", "records_rejected", "file_errors")


def _bad_input_lines(bad: dict[str, int], data: Path) -> list[str]:
    if not any(bad[k] for k in BAD_INPUT):
        return ["  bad input: none"]
    return [
        f"  bad input: {bad['drops_not_landed']} inbox drop(s) not landed, "
        f"{bad['files_unplaced']} landed file(s) unplaced, "
        f"{bad['records_rejected']} record(s) rejected, {bad['file_errors']} file(s) with an error",
        "             (why: the report's Data quality section, by reason; the UI metadata of "
        f"landed_files and normalized_steps; the lines: {data / 'private' / 'rejected_records'})",
    ]


def _stepless_lines(counts: dict[str, int]) -> list[str]:
    """Logs read without error that hold no model call with usage: not bad input, but a
    contributor should learn why their logs count for nothing."""
    if not counts["logs_without_steps"]:
        return []
    legacy = counts["legacy_codex_logs"]
    return [
        f"  logs without steps: {counts['logs_without_steps']} (no model call with token usage"
        " in them"
        + (
            f"; {legacy} Codex rollout(s) from before mid-2025, which log no usage)"
            if legacy
            else ")"
        )
    ]


def _held_lines(held: dict[str, int]) -> list[str]:
    """Uploads left in the inbox for want of consent: by pseudonym (as `landed_files` records
    them, since `forget` cannot erase that record), never by path."""
    if not held:
        return []
    from tracelab_pipeline.landing.consent import CONTRIBUTORS_ENV, CONTRIBUTORS_FILE_ENV

    who = ", ".join(f"{h} ({n})" for h, n in sorted(held.items()))
    return [
        f"  held: {sum(held.values())} upload(s) of contributor(s) not on the consent list, "
        f"left in the inbox: {who} (by pseudonym; the inbox's directories name the handles)",
        f"        (add the handle to {CONTRIBUTORS_ENV} or {CONTRIBUTORS_FILE_ENV}, run again)",
    ]


def _release_line(data: Path) -> list[str]:
    """Whether the published release still matches the public layer (the release_is_current
    check's verdict, computed here too: the demo may have rebuilt partitions but not it)."""
    from tracelab_pipeline.release.provenance import staleness

    if not (data / "release" / "MANIFEST.json").is_file():
        return []
    return [f"             {staleness(data / 'release', data / 'public').line()}"]


def summarize(result: DemoResult) -> str:
    data = result.data_dir
    counts = dataset_counts(data / "private" / "steps")
    registry = registry_counts(data)
    bad = bad_input_counts(data, registry)
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
        *_landing_line(registry),
        *_held_lines(result.held),
        f"  contributors: {counts['contributors']}   sessions: {counts['sessions']}   "
        f"steps: {counts['steps']}   contributor-months with steps: {counts['partitions']}",
        _this_run_line(result),
        *_bad_input_lines(bad, data),
        *_stepless_lines(bad),
        f"  warehouse: {warehouse}" + ("" if warehouse.exists() else " (not built)"),
        f"  figures:   {data / 'figures'} ({len(figures)} PNG)",
        f"  report:    {reports[0] if reports else data / 'report'}"
        + ("" if reports else " (not built)"),
        f"  release:   {data / 'release'}"
        + ("" if (data / "release" / "MANIFEST.json").is_file() else " (not built)"),
        *_release_line(data),
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
