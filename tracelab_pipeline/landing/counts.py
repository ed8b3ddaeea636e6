"""Counts of what landing did, from the landing registry: drops by outcome, files inside
drops by outcome, landed files by state. Integers per fixed label, nothing else (no path,
handle or reason), so the public report may show them; the demo summary reads the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tracelab_pipeline.landing.registry import REGISTRY_NAME

# Outcomes and states shown by name; any other value is counted as "other".
DROP_OUTCOMES = ("landed", "duplicate", "refused", "unsupported", "empty", "no_logs")
MEMBER_OUTCOMES = ("landed", "duplicate", "unreadable", "skipped")
FILE_STATES = ("active", "superseded", "unplaced")


def _fixed(counts: dict, known: tuple[str, ...]) -> dict[str, int]:
    out = {k: 0 for k in (*known, "other")}
    for key, n in counts.items():
        out[key if key in known else "other"] += int(n)
    return out


def landing_counts(landed_dir: str | Path | None) -> dict[str, dict[str, int]] | None:
    """{"drops": outcome -> n, "members": outcome -> n, "files": state -> n}, every label of
    DROP_OUTCOMES / MEMBER_OUTCOMES / FILE_STATES and "other" present. None when there is no
    readable registry (logs read with `tracelab normalize`)."""
    if landed_dir is None:
        return None
    registry = Path(landed_dir) / REGISTRY_NAME
    if not registry.is_file():
        return None
    db = sqlite3.connect(f"{registry.as_uri()}?mode=ro", uri=True)
    try:
        group = "SELECT {c}, count(*) FROM {t} GROUP BY {c}"
        drops = dict(db.execute(group.format(c="outcome", t="drops")).fetchall())
        members = dict(db.execute(group.format(c="outcome", t="drop_members")).fetchall())
        files = dict(db.execute(group.format(c="status", t="files")).fetchall())
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return {
        "drops": _fixed(drops, DROP_OUTCOMES),
        "members": _fixed(members, MEMBER_OUTCOMES),
        "files": _fixed(files, FILE_STATES),
    }


def drops_not_landed(drops: dict[str, int]) -> int:
    """Inbox drops neither landed nor already landed (refused, unsupported, empty, no logs,
    other), from `landing_counts(...)["drops"]`."""
    return sum(drops.values()) - drops["landed"] - drops["duplicate"]
