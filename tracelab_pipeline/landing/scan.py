"""A cheap pass over one landed log: line count, session identity and start time.

This decides the contributor-month partition (month of the session's start) without running
the full readers; the normalized rows are checked against it (checks/normalize.py).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tracelab_pipeline.formats.common import EARLIEST, latest_plausible, parse_ts
from tracelab_pipeline.formats.detect import is_pre_envelope_header
from tracelab_pipeline.formats.jsonl import open_log


class UnreadableLog(Exception):
    """The file cannot be read as a (gzipped) JSONL log; the message is the reason."""


@dataclass
class LogScan:
    lines: int
    decompressed_bytes: int
    root_session: str | None
    first_ts: datetime | None
    # Every main-chain session the log names (root_session first): a resumed Claude Code log
    # repeats the resumed session's records, a forked Codex rollout its parent's header, so
    # logs that share one belong to one conversation and land in one partition.
    sessions: tuple[str, ...] = ()
    # The first line longer than the scan reads (see MAX_LINE): which, how long, the limit.
    long_line: str | None = None


# A longer line is counted but not parsed (its timestamp is not looked at), so memory stays
# bounded whatever a drop holds: one line can decompress to gigabytes.
MAX_LINE = 64 * 2**20
# Sessions named by one log beyond these are not linked (a log naming thousands is not one
# conversation's files, and the registry row stays small).
MAX_SESSIONS = 64


def scan_log(path: str | Path, max_bytes: int, max_line: int = MAX_LINE) -> LogScan:
    lines = 0
    size = 0
    sessions: dict[str, None] = {}
    last: str | None = None  # the session the log was written in at its end
    first: datetime | None = None
    long_line: str | None = None
    too_big = f"log decompresses past the cap of {max_bytes} bytes"
    latest = latest_plausible()
    try:
        read = max_line + 1  # a line of max_line bytes comes whole with its newline
        with open_log(path) as f:
            while raw := f.readline(read):
                lines += 1
                size += len(raw)
                ended = raw.endswith(b"\n")
                whole = ended or len(raw) <= max_line
                piece, length = raw, len(raw)
                while not (piece.endswith(b"\n") or len(piece) < read):
                    if size > max_bytes:
                        raise UnreadableLog(too_big)
                    piece = f.readline(read)
                    size += len(piece)
                    length += len(piece)
                if size > max_bytes:
                    raise UnreadableLog(too_big)
                if not whole:
                    if long_line is None:
                        newline = 1 if piece.endswith(b"\n") else 0
                        long_line = (
                            f"line {lines} is {length - newline:,} bytes long, longer than the "
                            f"{max_line:,} bytes landing reads of one line"
                        )
                    continue
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    if not ended:
                        # A last line cut short (a copy taken while the log was written)
                        # does not count: `lines` ranks versions of a log, and this copy must
                        # rank below the whole one, not tie it (a tie goes to the later drop).
                        lines -= 1
                    continue
                if not isinstance(record, dict):
                    continue
                session = _root_session(record)
                if session is not None:
                    if len(sessions) < MAX_SESSIONS:
                        sessions[session] = None
                    last = session
                for ts in _timestamps(record):
                    # In UTC, and only what the readers accept: they reject a record dated
                    # before 2023 or in the future, so it must not decide the month either.
                    if ts is None or not EARLIEST <= ts <= latest:
                        continue
                    ts = ts.astimezone(UTC)
                    if first is None or ts < first:
                        first = ts
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        if lines == 0:
            raise UnreadableLog(f"cannot read log: {exc}") from exc
        # A gzip cut short (a log copied while still written) or corrupt further on: the
        # readers keep the lines before the break (and reject the rest as one more line), so
        # it lands like any log and loses only what cannot be read. The rest is not counted,
        # like a last line cut short above.
    if last is not None and last not in sessions:
        # Past the cap, the log's own session still links it: a conversation continued
        # daily for months writes a file that repeats every earlier session's records first,
        # and the last session's sub-agent files name only that one.
        sessions[last] = None
    return LogScan(lines, size, next(iter(sessions), None), first, tuple(sessions), long_line)


def _timestamps(record: dict):
    yield parse_ts(record.get("timestamp"))
    if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
        # The Codex reader starts a session at its session_meta's own timestamp, which is
        # earlier than the record's (seconds when created, months for a parent's header that a
        # fork or sub-agent rollout replays): the month must not be later than that start.
        yield parse_ts(record["payload"].get("timestamp"))


def _root_session(record: dict) -> str | None:
    """The main-chain session a record belongs to (sub-agent files share their parent's)."""
    session = record.get("sessionId")
    if isinstance(session, str) and session:
        return f"claude:{session}"
    if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
        payload = record["payload"]
        source = payload.get("source")
        sub = source.get("subagent") if isinstance(source, dict) else None
        spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
        parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
        if isinstance(parent, str) and parent:
            return f"codex:{parent}"
        if isinstance(payload.get("id"), str) and payload["id"]:
            return f"codex:{payload['id']}"
    session = record.get("session_id")
    if isinstance(session, str) and session:
        return session
    if record.get("id") and is_pre_envelope_header(record):  # mid-2025 Codex: only here
        return f"codex:{record['id']}"
    return None
