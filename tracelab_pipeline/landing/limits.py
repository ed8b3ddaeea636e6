"""What the lander accepts, and the caps that keep a hostile drop from filling the disk."""

from __future__ import annotations

from dataclasses import dataclass

from tracelab_pipeline.formats.jsonl import LOG_SUFFIXES
from tracelab_pipeline.landing.scan import MAX_LINE

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


@dataclass(frozen=True)
class Limits:
    """Caps per archive (expanded), per log (decompressed) and per line of a log (read for
    its timestamp and session)."""

    max_expanded_bytes: int = 4 * 1024**3
    max_members: int = 20_000
    # Entries of any kind (directories too): a tar lists them all before its files can be counted.
    max_entries: int = 100_000
    max_log_bytes: int = 2 * 1024**3
    max_line_bytes: int = MAX_LINE


def kind_of(name: str) -> str | None:
    """'log', 'archive' or None (unsupported), from the name's suffix."""
    lower = name.lower()
    if lower.endswith(LOG_SUFFIXES):
        return "log"
    if lower.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    return None
