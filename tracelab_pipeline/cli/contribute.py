"""`tracelab contribute --as HANDLE [--to INBOX]`: drop this machine's logs into an inbox."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("contribute")
@click.option(
    "--as",
    "handle",
    required=True,
    help="Your contributor handle (e.g. alice): 1-64 lower-case letters, digits, '.', '_' or "
    "'-', starting with a letter or digit, no '..', at least one letter (a handle of digits "
    "only if the inbox already holds your drops under it). Landing refuses any other.",
)
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
    HANDLE/ in the inbox. Running it again with unchanged logs uploads nothing.

    Claude Code: projects/ under $CLAUDE_CONFIG_DIR (default ~/.claude), sub-agent files
    included. Codex: sessions/ and archived_sessions/ under $CODEX_HOME (default ~/.codex).
    `tracelab collect --list` shows the files first. A bucket inbox must already exist;
    credentials and endpoint come from the usual AWS_* environment variables. The drop lands
    once the operator has HANDLE on the list of contributors who consented; until then it
    waits in the inbox."""
    from tqdm import tqdm

    from tracelab_pipeline.cli._store import describe, store_errors
    from tracelab_pipeline.collect import describe_roots, find_logs
    from tracelab_pipeline.landing.contribute import contribute, handle_refusal
    from tracelab_pipeline.normalize.files import describe_not_read
    from tracelab_pipeline.paths import resolve_inbox

    target_inbox = resolve_inbox(inbox, data_dir)
    try:
        problem = handle_refusal(handle, target_inbox)
    except store_errors() as exc:
        raise click.ClickException(f"cannot read {target_inbox}: {describe(exc)}") from exc
    # Here before walking ~/.claude and ~/.codex, which can take a while; contribute() asks
    # again (one look at the inbox) as the guard of callers other than this command.
    if problem:
        raise click.BadParameter(problem, param_hint="'--as'")
    not_dropped: list[Path] = []
    logs = find_logs(not_copied=not_dropped)
    for line in describe_roots(logs, not_copied=not_dropped):
        click.echo(line, err=True)
    for line in describe_not_read(not_dropped, "not dropped"):
        click.echo(line, err=True)
    total = sum(log.size for log in logs)
    # Hashing reads every log once, packing a second time (skipped when nothing changed).
    with tqdm(total=2 * total, unit="B", unit_scale=True, desc="contribute", disable=None) as bar:
        try:
            result = contribute(logs, handle, target_inbox, on_bytes=bar.update)
        except ValueError as exc:  # a handle landing would refuse, no logs
            raise click.ClickException(str(exc)) from exc
        except store_errors() as exc:  # an inbox we cannot write (a missing bucket), a log gone
            raise click.ClickException(f"cannot drop into {target_inbox}: {describe(exc)}") from exc
        if not result.uploaded:  # nothing packed: the bar ends full, not half way
            bar.total = bar.n
            bar.refresh()
    mib = result.bytes / 2**20
    if result.uploaded:
        click.echo(f"dropped {result.files} log file(s) ({mib:.1f} MiB) as {result.target}")
    else:
        click.echo(f"unchanged: {result.files} log file(s) already dropped as {result.target}")
    for path, error in result.unreadable.items():
        click.echo(f"error: {path}: not dropped: {error}", err=True)
    if result.unreadable:
        raise SystemExit(1)
