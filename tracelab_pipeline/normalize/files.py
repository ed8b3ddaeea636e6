"""Finding log files under the paths a user names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tracelab_pipeline.paths import real_path

LOG_SUFFIXES = (".jsonl", ".jsonl.gz")


def is_log_name(name: str) -> bool:
    return name.endswith(LOG_SUFFIXES)


def iter_log_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (searched recursively) into a sorted list of log files.

    A file named explicitly is taken whatever its name. A path that does not exist is kept, so
    the caller reads it, fails, and reports it by name instead of it vanishing here; so is a
    log name whose link leads nowhere, and a directory of the search that cannot be listed.
    Links to directories are followed (each directory searched once, so a loop ends). The same
    file reached twice (named and inside a named directory) is listed once.
    """
    found: dict[str, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in search_logs(path):
                found.setdefault(real_path(child), child)
        else:
            found.setdefault(real_path(path), path)
    return sorted(found.values(), key=str)


def search_logs(root: Path) -> Iterator[Path]:
    """Log files under `root`, plus dangling log links and directories that cannot be listed
    (so that whoever reads them fails naming them)."""
    unlisted: list[OSError] = []
    seen: set[str] = set()
    for top, dirs, names in os.walk(root, onerror=unlisted.append, followlinks=True):
        seen.add(os.path.realpath(top))
        # Pruned in place: a link back to a directory already searched would loop forever.
        dirs[:] = sorted(d for d in dirs if os.path.realpath(os.path.join(top, d)) not in seen)
        for name in names:
            child = Path(top, name)
            # Sockets and pipes are not logs (reading a pipe could block forever).
            if is_log_name(name) and (child.is_file() or not child.exists()):
                yield child
    # A directory os.walk could not list (no permission): read_log fails on it and says why.
    for error in unlisted:
        if error.filename is not None:
            yield Path(error.filename)
