"""Readers: one per raw log format, each turning one file into rows of our schema."""

from __future__ import annotations

import zlib
from pathlib import Path

import orjson

from tracelab_pipeline.formats.detect import (
    CLAUDE,
    CODEX,
    NOT_LOGS,
    TRACELAB_ROUNDS,
    detect_stream,
)
from tracelab_pipeline.formats.jsonl import Accounting, open_log
from tracelab_pipeline.formats.result import FileResult


def read_log(
    path: str | Path, contributor: str = "local", origin: str | Path | None = None
) -> FileResult:
    """Read one Claude Code session or Codex rollout (plain or gzip) into schema rows.

    Never raises for bad content: an unreadable file comes back with `error` set and its
    accounting filled in as far as it got. `origin` is the path the client wrote the file under,
    when `path` is a renamed copy (a landed object): Claude's project and sub-agent layout
    and Codex's file-stem fallback ids are read from it.
    """
    source = str(path)
    try:
        stream = open_log(path)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or gzip cut short / corrupt
        return _unreadable(source, contributor, exc)
    # One open file for detection and reading: opening and filling a read buffer twice was a
    # few percent of the time on small files.
    with stream:
        try:
            if stream.seekable():
                start = stream.tell()  # after a byte order mark (open_log)
                fmt = detect_stream(stream)
                stream.seek(start)
            else:  # zstd cannot rewind: detect on a second opening, read from this one
                with open_log(path) as first:
                    fmt = detect_stream(first)
        except (OSError, EOFError, zlib.error) as exc:
            return _unreadable(source, contributor, exc)
        if fmt == CLAUDE:
            from tracelab_pipeline.formats.claude_code import read_claude_code

            return read_claude_code(path, contributor, origin=origin, stream=stream)
        if fmt == CODEX:
            from tracelab_pipeline.formats.codex import read_codex

            return read_codex(path, contributor, origin=origin, stream=stream)
    if fmt in NOT_LOGS:
        error = f"cannot read: a {fmt}, not a log ({NOT_LOGS[fmt]})"
        return FileResult(source, None, Accounting(source, contributor), error=error)
    if fmt == TRACELAB_ROUNDS:
        from tracelab_pipeline.formats.tracelab_rounds import read_tracelab_rounds

        return read_tracelab_rounds(path, contributor)
    return _unrecognized(source, contributor)


def _unreadable(source: str, contributor: str, exc: Exception) -> FileResult:
    return FileResult(source, None, Accounting(source, contributor), error=f"cannot read: {exc}")


def _unrecognized(source: str, contributor: str) -> FileResult:
    """Count every line of a file we cannot place, so nothing vanishes unaccounted."""
    from tracelab_pipeline.formats.jsonl import feed_records

    acc = Accounting(source, contributor)
    reason = "not a Claude Code, Codex or TraceLab record"
    try:
        with open_log(source) as f:
            # Kept aside like every reader's rejected records (raw, cut at RAW_KEEP_BYTES).
            feed_records(
                f, acc, lambda line, record: acc.reject(line, reason, orjson.dumps(record))
            )
    except (OSError, EOFError, zlib.error) as exc:  # as in the readers: what was read stands
        if error := acc.stopped(exc):
            return FileResult(source, None, acc, error=error)
    error = "unrecognized log format" if acc.lines_read else None
    return FileResult(source, None, acc, error=error)


__all__ = ["FileResult", "read_log"]
