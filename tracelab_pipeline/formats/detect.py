"""Which format a log file is in, decided from its content, never from its name."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import IO

import orjson

from tracelab_pipeline.formats.jsonl import open_log

CLAUDE = "claude"
CODEX = "codex"
TRACELAB_ROUNDS = "tracelab-rounds"
# Not logs, though they may hold some: what read_log says instead of reading every line as
# bad JSON. An archive (after gzip, so a .tar.gz too), or text saved as UTF-16 (Windows tools).
ZIP_ARCHIVE = "zip archive"
TAR_ARCHIVE = "tar archive"
UTF16_TEXT = "UTF-16 text file"
NOT_LOGS = {
    ZIP_ARCHIVE: "unpack it, or drop it in the inbox",
    TAR_ARCHIVE: "unpack it, or drop it in the inbox",
    UTF16_TEXT: "convert it to UTF-8",
}

_CODEX_TYPES = {"session_meta", "turn_context", "response_item", "event_msg", "compacted"}
# Keys of the bare session header that opens a Codex rollout written before the type/payload
# envelope (Codex CLI of mid 2025); `instructions` was always written, the others by later builds.
_PRE_ENVELOPE_HEADER_KEYS = ("instructions", "originator", "cli_version", "git", "cwd")
_PEEK_LINES = 50


def detect_format(path: str | Path) -> str | None:
    """Look at the first records; None when nothing recognizable is there."""
    with open_log(path) as f:
        return detect_stream(f)


def detect_stream(stream: IO[bytes]) -> str | None:
    """detect_format on an open log; reads up to its first lines, the caller rewinds it."""
    seen = False  # a record before this one
    header = False  # the first record is a pre-envelope Codex session header
    for index, raw in _peek(stream):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if index == 0 and (kind := _not_a_log(raw)):
                return kind
            continue
        if not isinstance(record, dict):
            continue
        if header:
            # A rollout has one header; a log whose records all look like one (an id, a
            # timestamp and a cwd: command histories) is something else.
            return None if is_pre_envelope_header(record) else CODEX
        kind = classify_record(record)
        if kind:
            return kind
        if not seen and is_pre_envelope_header(record):
            header = True
        seen = True
    return CODEX if header else None


def _peek(stream: IO[bytes]):
    """(index, line) of the first lines. A read error after the first line (a gzip cut short,
    or corrupt further on) ends them: the reader meets it again and keeps what came before."""
    lines = iter(stream)
    for index in range(_PEEK_LINES):
        try:
            raw = next(lines)
        except StopIteration:
            return
        except (OSError, EOFError, zlib.error):
            if index == 0:
                raise
            return
        yield index, raw


def _not_a_log(first_line: bytes) -> str | None:
    # An archive's members would otherwise be read as one log, its headers rejected as bad JSON.
    if first_line.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP_ARCHIVE
    if first_line[257:262] == b"ustar":
        return TAR_ARCHIVE
    if first_line.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16's byte order marks
        return UTF16_TEXT
    return None


def classify_record(record: dict) -> str | None:
    if "round_index" in record and "input_tokens_total" in record and "provider" in record:
        return TRACELAB_ROUNDS
    # A corrupted "type" may be a list or dict: unhashable, so test set membership on strings only.
    record_type = record.get("type") if isinstance(record.get("type"), str) else None
    if record_type in _CODEX_TYPES and "payload" in record:
        return CODEX
    # A pre-envelope rollout's `{"record_type": "state"}` marker (its header: detect_stream).
    if record.get("record_type") == "state" and "type" not in record:
        return CODEX
    if "sessionId" in record or isinstance(record.get("message"), dict):
        return CLAUDE
    if record_type in {"summary", "file-history-snapshot"}:
        return CLAUDE
    return None


def is_pre_envelope_header(record: dict) -> bool:
    """The shape of the bare session header that is the first record of a pre-envelope Codex
    rollout ({id, timestamp, instructions, ...} with no type and no payload); only the first
    record is one."""
    return (
        "type" not in record
        and "payload" not in record
        and isinstance(record.get("id"), str)
        and isinstance(record.get("timestamp"), str)
        and any(key in record for key in _PRE_ENVELOPE_HEADER_KEYS)
    )
