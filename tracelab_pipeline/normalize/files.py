"""Finding log files under the paths a user names."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from tracelab_pipeline.formats.jsonl import LOG_SUFFIXES
from tracelab_pipeline.paths import real_path


def is_log_name(name: str) -> bool:
    # any case, as landing takes them: a ROLLOUT.JSONL copied from another system is a log
    return name.lower().endswith(LOG_SUFFIXES)


def iter_log_files(inputs: Iterable[str | Path], not_read: list[Path] | None = None) -> list[Path]:
    """Expand files and directories (searched recursively) into a sorted list of log files.

    A file named explicitly is taken whatever its name. A path that does not exist is kept, so
    the caller reads it, fails, and reports it by name instead of it vanishing here; so is a
    log name whose link leads nowhere, and a directory of the search that cannot be listed.
    Links to directories are followed (each directory searched once, so a loop ends). The same
    file reached twice (named and inside a named directory) is listed once. Every other file
    met in a searched directory is appended to `not_read`, so the caller can name it.
    """
    found: dict[str, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for child in search_logs(path, not_read):
                found.setdefault(real_path(child), child)
        else:
            found.setdefault(real_path(path), path)
    return sorted(found.values(), key=str)


def search_logs(root: Path, not_read: list[Path] | None = None) -> Iterator[Path]:
    """Log files under `root`, plus dangling log links and directories that cannot be listed
    (so that whoever reads them fails naming them). Every other file is appended to
    `not_read`: a log under a name we do not expect must not vanish without a word."""
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
            elif not_read is not None:
                not_read.append(child)
    # A directory os.walk could not list (no permission): read_log fails on it and says why.
    for error in unlisted:
        if error.filename is not None:
            yield Path(error.filename)


def describe_not_read(paths: list[Path], verb: str = "not read", examples: int = 5) -> list[str]:
    """Lines naming the files a directory search passed over: how many, by suffix, and the
    first few by path (all of them when few)."""
    if not paths:
        return []
    by_suffix = Counter(_suffix(p.name) for p in paths)
    kinds = ", ".join(f"{n} {s}" for s, n in sorted(by_suffix.items(), key=lambda x: (-x[1], x[0])))
    names = "/".join("*" + s for s in LOG_SUFFIXES)
    lines = [f"{verb}: {len(paths)} file(s) not named {names} ({kinds})"]
    shown = sorted(paths, key=str)
    lines += [f"  {p}" for p in shown[:examples]]
    if len(shown) > examples:
        lines.append(f"  ... and {len(shown) - examples} more")
    return lines


def _suffix(name: str) -> str:
    """The last suffix, with a `.jsonl`/`.json`/`.tar` before it kept (`.jsonl.bak`,
    `.tar.gz`): those say the file is a log in another form."""
    parts = name.lower().split(".")[1:]
    if not parts:
        return "(no suffix)"
    if len(parts) > 1 and parts[-2] in ("jsonl", "json", "tar"):
        return f".{parts[-2]}.{parts[-1]}"
    return f".{parts[-1]}"
