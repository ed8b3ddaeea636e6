"""`tracelab contribute --as HANDLE [--to INBOX]`: drop this machine's logs into an inbox."""

from __future__ import annotations

import click


@click.command("contribute")
@click.option("--as", "handle", required=True, help="Your contributor handle (e.g. alice).")
@click.option(
    "--to",
    "inbox",
    default=None,
    help="Inbox: a directory or a bucket URL (s3://bucket/prefix). "
    "Default: $TRACELAB_INBOX, else <data>/inbox.",
)
@click.option(
    "--data-dir", default=None, help="Data directory (default $TRACELAB_DATA_DIR or ./data)."
)
def command(handle: str, inbox: str | None, data_dir: str | None) -> None:
    """Collect this machine's Claude Code and Codex logs and drop them as one archive under
    HANDLE/ in the inbox. Running it again with unchanged logs uploads nothing."""
    from tracelab_pipeline.collect import find_logs
    from tracelab_pipeline.landing.contribute import contribute
    from tracelab_pipeline.paths import resolve_inbox

    target_inbox = resolve_inbox(inbox, data_dir)
    logs = find_logs()
    try:
        result = contribute(logs, handle, target_inbox)
    except (ValueError, OSError) as exc:  # OSError: an inbox we cannot write, a log gone
        raise click.ClickException(str(exc)) from exc
    mib = result.bytes / 2**20
    if result.uploaded:
        click.echo(f"dropped {result.files} log file(s) ({mib:.1f} MiB) as {result.target}")
    else:
        click.echo(f"unchanged: {result.files} log file(s) already dropped as {result.target}")
    for path, error in result.unreadable.items():
        click.echo(f"error: {path}: not dropped: {error}", err=True)
    if result.unreadable:
        raise SystemExit(1)
