"""Finding log files under the paths a user names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

LOG_SUFFIXES = (".jsonl", ".jsonl.gz")


def is_log_name(name: str) -> bool:
    return name.endswith(LOG_SUFFIXES)


def iter_log_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (searched recursively) into a sorted list of log files.

    A file named explicitly is taken whatever its name. A path that does not exist is kept, so
    the caller reads it, fails, and reports it by name instead of it vanishing here. The same
    file reached twice (named and inside a named directory) is listed once.
    """
    found: dict[str, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in path.rglob("*"):
                if is_log_name(child.name) and child.is_file():
                    found.setdefault(_identity(child), child)
        else:
            found.setdefault(_identity(path), path)
    return sorted(found.values(), key=str)


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())
