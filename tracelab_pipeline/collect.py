"""Finding this machine's Claude Code and Codex logs and copying them into one place.

Where the logs live (tracelab-ingest §1.1, §1.2), with the relocations TraceLab ignores:
Claude Code under `$CLAUDE_CONFIG_DIR` (default `~/.claude`) in `projects/`, including
sub-agent transcripts below a session's directory; Codex under `$CODEX_HOME` (default
`~/.codex`) in `sessions/` and `archived_sessions/`, where Codex keeps rollouts idle for a
week zstd-compressed (`rollout-*.jsonl.zst`). Other files there are counted and named, not copied.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tracelab_pipeline.normalize.files import search_logs


@dataclass(frozen=True)
class FoundLog:
    provider: str  # claude | codex
    path: Path
    relative: Path  # where it goes under the destination, e.g. claude/projects/<project>/x.jsonl

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:  # gone, or unreadable: copy_logs reports it
            return 0


def log_roots(env: Mapping[str, str] | None = None) -> list[tuple[str, Path, str]]:
    """(provider, directory, name under the destination) for every place logs are kept."""
    env = os.environ if env is None else env
    claude = Path(env.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude").expanduser()
    codex = Path(env.get("CODEX_HOME") or Path.home() / ".codex").expanduser()
    return [
        ("claude", claude / "projects", "claude/projects"),
        ("codex", codex / "sessions", "codex/sessions"),
        ("codex", codex / "archived_sessions", "codex/archived_sessions"),
    ]


def find_logs(
    env: Mapping[str, str] | None = None, not_copied: list[Path] | None = None
) -> list[FoundLog]:
    """Every log under the roots; every other file met there is appended to `not_copied`."""
    found = []
    for provider, root, target in log_roots(env):
        if not root.is_dir():
            continue
        # What cannot be read (a directory without permission, a link to nothing) is listed
        # too: copying it fails and is reported by name, instead of the logs going missing.
        for path in sorted(search_logs(root, not_copied)):
            found.append(FoundLog(provider, path, Path(target) / path.relative_to(root)))
    return found


def no_logs_found(env: Mapping[str, str] | None = None) -> str:
    """What to say when the roots hold no log: where they were looked for, and how to point
    there instead."""
    places = ", ".join(str(root) for _, root, _ in log_roots(env))
    return (
        f"no Claude Code or Codex logs found (looked in {places}); if they are kept elsewhere, "
        "set CLAUDE_CONFIG_DIR or CODEX_HOME"
    )


def describe_roots(
    logs: list[FoundLog], env: Mapping[str, str] | None = None, not_copied: list[Path] = ()
) -> list[str]:
    """One line per place searched, with how many logs it holds (and other files it passed
    over): a contributor sees at once when a client's logs were looked for in the wrong place."""
    lines = []
    for provider, root, _ in log_roots(env):
        found = sum(1 for log in logs if log.provider == provider and log.path.is_relative_to(root))
        other = sum(1 for path in not_copied if path.is_relative_to(root))
        others = f", {other} other file(s) not taken" if other else ""
        lines.append(
            f"{provider:7s} {root} ({found} log file(s){others})"
            if root.is_dir()
            else f"{provider:7s} {root} (not present)"
        )
    return lines


@dataclass
class CopyOutcome:
    copied: int = 0
    unchanged: int = 0
    bytes_copied: int = 0
    failed: dict[str, str] | None = None


def copy_logs(logs: list[FoundLog], dest: str | Path, on_file=None) -> CopyOutcome:
    """Copy each log to dest/<relative>; skip files already there with the same size and mtime.

    A session still being written may be copied mid-line; the readers account for a truncated
    last line, and the next collect copies the grown file again.
    """
    outcome = CopyOutcome(failed={})
    for log in logs:
        target = Path(dest) / log.relative
        try:
            source = log.path.stat()
            if target.exists():
                existing = target.stat()
                same_size = existing.st_size == source.st_size
                if same_size and int(existing.st_mtime) == int(source.st_mtime):
                    outcome.unchanged += 1
                    continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            shutil.copy2(log.path, tmp)
            os.replace(tmp, target)
            outcome.copied += 1
            outcome.bytes_copied += source.st_size
        except OSError as exc:
            outcome.failed[str(log.path)] = str(exc)
        finally:
            if on_file:
                on_file(log)
    return outcome
