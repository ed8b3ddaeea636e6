"""Fake text of a requested size, and timestamp formatting, shared by the two writers."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

_WORDS = (  # noqa: SIM905 - a word list reads better as text
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation "
    "ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit "
    "voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non "
    "proident sunt culpa qui officia deserunt mollit anim id est laborum def return self "
    "import from class yield cache prefix token step tool result value config buffer index "
    "parse build check"
).split()


def _make_buffer(size: int = 262_144) -> str:
    rng = random.Random(20260617)
    parts: list[str] = []
    n = 0
    while n < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(4, 14)))
        parts.append(line)
        n += len(line) + 1
    return "\n".join(parts)


_BUFFER = _make_buffer()
_MAX = len(_BUFFER) // 2


def lorem(rng: random.Random, n: int) -> str:
    """Exactly `n` characters of lorem-like text (ASCII, with newlines)."""
    if n <= 0:
        return ""
    out = []
    while n > 0:
        k = min(n, _MAX)
        start = rng.randrange(0, len(_BUFFER) - k)
        out.append(_BUFFER[start : start + k])
        n -= k
    return "".join(out)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(ms: int) -> str:
    """2026-03-21T10:05:59.326Z, the form both clients write."""
    s, m = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{m:03d}Z"


def dt_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)
