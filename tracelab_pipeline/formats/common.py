"""Small primitives shared by the log readers (tracelab-ingest §2)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson

# Timestamps before this are implausible (no coding agent logged then): every reader rejects
# such records, and landing does not place a session by them.
EARLIEST = datetime(2023, 1, 1, tzinfo=UTC)


# Record kinds are names (snake_case, kebab-case); anything else written there is content.
_KIND_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def kind_label(value) -> str:
    """A record's kind (type, subtype, role) as an ignored-count key, which is published: a
    name cut to 60 characters, anything else by what it is. Text there may hold a path, and
    after the key's '.' or ':' no path recognizer sees it; an object may hold message text."""
    if isinstance(value, str):
        value = value[:60]
        return value if _KIND_NAME.fullmatch(value) else "text"
    return "None" if value is None else type(value).__name__


def latest_plausible() -> datetime:
    """Timestamps after this are implausible too (a day of slack for clocks set ahead): a year
    9999 would stretch a session to millennia and overflow pandas' nanosecond timestamps."""
    return datetime.now(UTC) + timedelta(days=1)


def content_chars(value) -> int:
    """Size of a content value in Unicode code points; non-strings as their compact JSON."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    data = orjson.dumps(value)
    # ASCII (most payloads): the byte length is the code-point length, no str needed.
    return len(data) if data.isascii() else len(data.decode("utf-8"))


def parse_ts(value) -> datetime | None:
    """ISO-8601 string -> aware datetime (UTC assumed when naive); anything else -> None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts


def delta_ms(start: datetime | None, end: datetime | None) -> int | None:
    """Milliseconds between two timestamps, rounded half to even like TraceLab; may be negative."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one file is read.

    A reader allocates a few container objects per line (parsed records, event rows) and keeps
    many of them, so the collector would run every few hundred lines and rescan the survivors
    for cycles the readers do not make: 5-15% of the read time. Memory is unaffected (reference
    counting frees everything else at once). Left alone if someone else already paused it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
