"""Where the data directory and the inbox are: explicit values, then environment, then
defaults. Dagster-free, so the CLI can resolve paths without importing Dagster (~1.3 s)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TRACELAB_DATA_DIR"
INBOX_ENV = "TRACELAB_INBOX"
DEFAULT_DATA_DIR = "./data"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Explicit value, else $TRACELAB_DATA_DIR, else ./data; always absolute."""
    value = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return real_path(Path(value).expanduser())


def resolve_inbox(inbox: str | None = None, data_dir: str | os.PathLike | None = None) -> str:
    """Explicit value, else $TRACELAB_INBOX, else <data>/inbox. May be any fsspec URL."""
    value = inbox or os.environ.get(INBOX_ENV)
    if value:
        return value if "://" in value else str(real_path(Path(value).expanduser()))
    return str(resolve_data_dir(data_dir) / "inbox")


def real_path(path: str | os.PathLike) -> Path:
    """The path with links resolved. Unlike Path.resolve(), a link loop does not raise (3.11
    raises RuntimeError, a traceback): the loop stays in the path, and whatever uses it fails
    with an OSError naming it."""
    return Path(os.path.realpath(path))
