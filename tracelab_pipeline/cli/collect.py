"""`tracelab collect`: copy (or list) this machine's Claude Code and Codex session logs."""

from __future__ import annotations

import getpass
from pathlib import Path

import click


def _default_dest() -> Path:
    """<inbox>/<handle>: the inbox the pipeline reads, the handle made from the user name (an
    invalid handle would make landing refuse the whole drop; a name of digits is `local`
    unless landing keeps it: _landing_keeps)."""
    from tracelab_pipeline.landing.handles import handle_from
    from tracelab_pipeline.paths import INBOX_ENV, resolve_inbox

    inbox = resolve_inbox()
    if "://" in inbox:
        raise click.UsageError(
            f"${INBOX_ENV} is {inbox}, not a local directory: send the logs there with "
            "`tracelab contribute --as HANDLE`, or copy them elsewhere with --dest"
        )
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid /etc/passwd does not know (containers), no $USER
        user = ""
    inbox_dir = Path(inbox)
    return inbox_dir / handle_from(user, kept=lambda h: _landing_keeps(h, inbox_dir))


def _landing_keeps(handle: str, inbox_dir: Path) -> bool:
    """Whether landing takes `handle`, one a new contributor may not take: the data dir's
    registry says (Registry.keeps_handle: it landed, or the inbox held it when landing first
    ran with the rule). Without a registry, or before that landing, a directory an earlier
    collect made in the inbox: that landing will keep it."""
    import sqlite3

    from tracelab_pipeline.landing.registry import LANDED, REGISTRY_NAME, Registry
    from tracelab_pipeline.paths import resolve_data_dir

    landed = resolve_data_dir() / LANDED
    if (landed / REGISTRY_NAME).is_file():
        try:
            with Registry(landed) as reg:
                kept = reg.keeps_handle(handle)
        except (OSError, sqlite3.Error):  # a registry we cannot open: the inbox tells
            kept = None
        if kept is not None:
            return kept
    return (inbox_dir / handle).is_dir()


@click.command("collect")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy the logs here (default: <inbox>/<user name as a handle>; the inbox is "
    "$TRACELAB_INBOX, else $TRACELAB_DATA_DIR/inbox, else ./data/inbox).",
)
@click.option("--list", "list_only", is_flag=True, help="Only list the logs found; copy nothing.")
def command(dest: Path | None, list_only: bool) -> None:
    """Find this machine's Claude Code and Codex logs and copy them into DEST.

    Claude Code: projects/ under $CLAUDE_CONFIG_DIR (default ~/.claude), sub-agent files
    included. Codex: sessions/ and archived_sessions/ under $CODEX_HOME (default ~/.codex).
    Plain, gzip- and zstd-compressed .jsonl files (.jsonl, .jsonl.gz, .jsonl.zst); every
    other file found there is counted and named, not copied. The layout is kept:
    DEST/claude/projects/<project>/..., DEST/codex/sessions/..., DEST/codex/archived_sessions/...
    With no log found it says where it looked and exits 1, creating nothing (with --list, it
    lists nothing and exits 0).
    """
    from tqdm import tqdm

    from tracelab_pipeline.collect import copy_logs, describe_roots, find_logs, no_logs_found
    from tracelab_pipeline.normalize.files import describe_not_read
    from tracelab_pipeline.paths import real_path

    not_copied: list[Path] = []
    logs = find_logs(not_copied=not_copied)
    if not logs and not list_only:
        # Nothing to copy: said as such, before DEST is even chosen (none is created).
        for line in describe_roots(logs, not_copied=not_copied):
            click.echo(line, err=True)
        for line in describe_not_read(not_copied, "not copied"):
            click.echo(line, err=True)
        raise click.ClickException(no_logs_found())
    if not list_only:
        dest = dest or _default_dest()
        # DEST inside a log root: our earlier copies are not logs to copy again (each run would
        # nest one more copy of everything).
        dest_real = real_path(dest)
        logs = [log for log in logs if not real_path(log.path).is_relative_to(dest_real)]
        not_copied = [p for p in not_copied if not real_path(p).is_relative_to(dest_real)]
    for line in describe_roots(logs, not_copied=not_copied):
        click.echo(line, err=True)

    by_provider: dict[str, list[int]] = {}
    for log in logs:
        count = by_provider.setdefault(log.provider, [0, 0])
        count[0] += 1
        count[1] += log.size

    if list_only:
        for log in logs:
            click.echo(f"{log.provider}\t{log.size}\t{log.path}")
    else:
        with tqdm(total=len(logs), unit="file", desc="collect", disable=None) as bar:
            outcome = copy_logs(logs, dest, on_file=lambda _: bar.update(1))

    click.echo("")
    for provider in ("claude", "codex"):
        files, size = by_provider.get(provider, [0, 0])
        click.echo(f"{provider}: {files} files, {size / 2**20:.1f} MiB")
    for line in describe_not_read(not_copied, "not copied" if not list_only else "not listed"):
        click.echo(line)
    if list_only:
        return
    click.echo(
        f"copied {outcome.copied} files ({outcome.bytes_copied / 2**20:.1f} MiB) to {dest}, "
        f"{outcome.unchanged} unchanged"
    )
    for path, error in outcome.failed.items():
        click.echo(f"error: {path}: {error}", err=True)
    if outcome.failed:
        raise SystemExit(1)
