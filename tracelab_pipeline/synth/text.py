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


_COMMANDS = (
    ("git status", 8),
    ("git diff --stat", 5),
    ("git log --oneline -n 20", 3),
    ("git add -A && git commit -m '{w}'", 2),
    ("uv run pytest -q tests/test_{w}.py", 8),
    ("python -m pytest -x -q", 4),
    ("pytest -q -k {w}", 3),
    ("rg -n '{w}' src", 9),
    ("grep -rn '{w}' .", 4),
    ("ls -la {w}", 7),
    ("sed -n '1,120p' src/{w}.py", 9),
    ("cat README.md", 3),
    ("find . -name '*.py' -path '*{w}*'", 3),
    ("python scripts/{w}.py --quick", 5),
    ("npm test -- {w}", 3),
    ("npm run build", 2),
    ("cargo build --release", 2),
    ("cargo test {w}", 2),
    ("make -j8", 2),
    ("docker compose ps", 1),
    ("ruff check . --fix", 2),
    ("nvidia-smi", 1),
    ("head -n 50 logs/{w}.log", 3),
)
_COMMAND_TEXT = [c for c, _ in _COMMANDS]
_COMMAND_WEIGHTS = [w for _, w in _COMMANDS]


def shell_command(rng: random.Random) -> str:
    """A plausible shell command line (what `command_signature` classifies) with fake names."""
    template = rng.choices(_COMMAND_TEXT, _COMMAND_WEIGHTS)[0]
    word = rng.choice(_WORDS) + "_" + rng.choice(_WORDS)
    return template.replace("{w}", word)


class LineSink:
    """Appends JSONL lines straight to a file and counts them (line numbers for the truth)."""

    def __init__(self, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
        self._n = 0

    def append(self, line: bytes) -> None:
        self._f.write(line)
        self._f.write(b"\n")
        self._n += 1

    def extend_raw(self, data: bytes) -> None:
        """Whole lines, each ending in a newline (a copy of another log)."""
        self._f.write(data)
        self._n += data.count(b"\n")

    def __len__(self) -> int:
        return self._n

    def close(self) -> None:
        self._f.close()
