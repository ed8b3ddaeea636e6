"""`tracelab normalize`: raw session logs -> normalized Parquet tables or TraceLab round JSONL."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click


@click.command("normalize")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output dir."
)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["parquet", "tracelab-jsonl"]),
    default="parquet",
    show_default=True,
    help="parquet: one <table>.parquet per table; tracelab-jsonl: round_trace.jsonl.",
)
@click.option("--contributor", default="local", show_default=True, help="Whose logs these are.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes reading files in parallel.",
)
def command(
    inputs: tuple[Path, ...], out: Path, out_format: str, contributor: str, workers: int
) -> None:
    """Normalize Claude Code / Codex logs (files, or directories searched for *.jsonl,
    *.jsonl.gz and *.jsonl.zst; the search skips --out, where an earlier run's
    round_trace.jsonl may be; the summary counts and names every other file it passed over).

    Exits 0 when every file was read, even if some records were rejected (the summary lists
    them); exits 1 when an input could not be read at all.
    """
    from tracelab_pipeline.formats.tracelab_rounds import RoundsSink
    from tracelab_pipeline.normalize import iter_log_files, normalize_streamed
    from tracelab_pipeline.normalize.files import LOG_SUFFIXES
    from tracelab_pipeline.normalize.tables import ParquetSink
    from tracelab_pipeline.paths import real_path
    from tracelab_pipeline.schema import TABLES

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create --out {out}: {exc}") from exc
    try:  # before reading anything: a read-only --out would otherwise fail only at the end
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise click.ClickException(f"cannot write to --out {out}: {exc}") from exc
    not_read: list[Path] = []
    files = iter_log_files(inputs, not_read)
    # --out inside an input directory: an earlier run's round_trace.jsonl is our own output,
    # not another log (its copies of the steps would replace the source's in dedup).
    out_real = real_path(out)
    own = [f for f in files if f not in inputs and real_path(f).is_relative_to(out_real)]
    if own:
        click.echo(f"note: not reading {len(own)} earlier output file(s) under {out}", err=True)
        files = [f for f in files if f not in own]
    # Our own output (Parquet under --out) is not a log that was passed over.
    not_read = [p for p in not_read if not real_path(p).is_relative_to(out_real)]
    for item in inputs:
        if item.is_dir() and not any(f.is_relative_to(item) for f in files):
            names = ", ".join(LOG_SUFFIXES)
            click.echo(f"warning: no {names} files under {item}", err=True)

    # Streamed either way: memory does not grow with the bytes read.
    if out_format == "parquet":
        sink = ParquetSink(out)
        outputs = sorted(str(out / f"{name}.parquet") for name in TABLES)
    else:
        sink = RoundsSink(out / "round_trace.jsonl")
        outputs = [str(sink.out)]
    try:
        summary = normalize_streamed(files, sink, out, contributor, workers=workers, progress=True)
    except OSError as exc:  # the readers never raise: this is writing (disk full, --out gone)
        raise click.ClickException(f"cannot write the output under {out}: {exc}") from exc
    _print_summary(summary, outputs, not_read)
    if summary["unreadable_files"]:
        for path, error in summary["unreadable_files"].items():
            click.echo(f"error: {path}: {error}", err=True)
        raise SystemExit(1)


def _print_summary(s: dict, outputs: list[str], not_read: list[Path]) -> None:
    from tracelab_pipeline.normalize.files import describe_not_read

    providers = ", ".join(f"{n} {p}" for p, n in sorted(s["files_by_provider"].items()))
    click.echo(f"files:            {s['files']} ({providers or 'none'})")
    click.echo(
        f"lines:            {s['lines_read']} read = {s['records_used']} used"
        f" + {s['records_ignored']} ignored + {s['records_rejected']} rejected"
    )
    click.echo(f"steps:            {s['steps']} ({s['duplicate_steps']} duplicates dropped)")
    click.echo(f"tool calls:       {s['tool_calls']}")
    click.echo(f"timing events:    {s['timing_events']}")
    if s["rejected_by_reason"]:
        click.echo("rejected records by reason:")
        for reason, count in s["rejected_by_reason"].items():
            click.echo(f"  {count:8d}  {reason}")
        click.echo("first rejected:")
        for line in s["first_rejected"]:
            click.echo(f"  {line}")
    if s["flagged_by_reason"]:
        click.echo("noted (already counted above as used or ignored):")
        for reason, count in s["flagged_by_reason"].items():
            click.echo(f"  {count:8d}  {reason}")
    for path, error in s["file_errors"].items():
        if path not in s["unreadable_files"]:
            click.echo(f"note: {path}: {error}")
    for line in describe_not_read(not_read):
        click.echo(line)
    click.echo("wrote: " + ", ".join(outputs))
