"""Reading raw JSONL logs line by line, with per-file accounting of every line.

Every line ends up in exactly one bucket: used, ignored (by record type) or rejected (with a
reason and the raw line kept aside), so `lines_read = used + ignored + rejected` always holds.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from tracelab_pipeline.formats.zstd import ZSTD_MAGIC, open_zstd

GZIP_MAGIC = b"\x1f\x8b"
# The names a log goes by, plain or compressed (.zst: Codex's rollouts idle for 7 days, see
# docs/normalize.md "Compressed logs"); every search and the lander take these.
LOG_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")
# Some Windows tools start a UTF-8 text file with a byte order mark, which JSON does not allow.
UTF8_BOM = b"\xef\xbb\xbf"
RAW_KEEP_BYTES = 64 * 1024
# Log lines are often longer than io's default 8 KiB buffer; iterating lines then costs as
# much as parsing them (short reads, pieces joined per line). 256 KiB makes it ~4x cheaper.
READ_BUFFER = 256 * 1024


def open_log(path: str | Path) -> IO[bytes]:
    """Open a plain, gzip- or zstd-compressed log, deciding by content rather than by name;
    the stream starts after a UTF-8 byte order mark (JSON allows none; some Windows tools
    write one), so every reader sees line 1 as the record it is."""
    f = open(path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - returned to the caller
    magic = f.read(4)
    f.seek(0)
    if magic == ZSTD_MAGIC:
        stream = open_zstd(f, READ_BUFFER)
    else:
        stream = gzip.GzipFile(fileobj=f, mode="rb") if magic[:2] == GZIP_MAGIC else f
    try:
        if not stream.seekable():  # zstd: it cannot go back, so look without reading
            if stream.peek(len(UTF8_BOM))[: len(UTF8_BOM)] == UTF8_BOM:
                stream.read(len(UTF8_BOM))
        elif stream.read(len(UTF8_BOM)) != UTF8_BOM:
            stream.seek(0)
    except Exception:  # gzip or zstd cut short or corrupt: the caller reports it
        stream.close()
        raise
    return stream


def log_stem(name: str) -> str:
    """A log's file name without .jsonl[.gz|.zst]: the session id or agent name it carries,
    the same for a compressed copy as for the plain file."""
    for suffix in (".gz", ".zst", ".jsonl"):
        name = name.removesuffix(suffix)
    return name


def opened(path: str | Path, stream: IO[bytes] | None = None):
    """A context giving `stream` when the caller already opened the file (and will close it),
    else `open_log(path)`: read_log opens each file once for detection and reading
    (a zstd one twice: it cannot rewind)."""
    return nullcontext(stream) if stream is not None else open_log(path)


@dataclass
class Accounting:
    """Counts what happened to every line of one file, and keeps rejected lines aside."""

    source_file: str
    contributor: str
    lines_read: int = 0
    used: int = 0
    ignored_by_type: Counter = field(default_factory=Counter)
    rejected: list[dict] = field(default_factory=list)
    rejected_by_reason: Counter = field(default_factory=Counter)
    # Anomalies in records that were still used (or events dropped); outside the line sum.
    flagged_by_reason: Counter = field(default_factory=Counter)

    def use(self) -> None:
        self.used += 1

    def ignore(self, record_type: str) -> None:
        self.ignored_by_type[record_type] += 1

    def flag(self, reason: str, count: int = 1) -> None:
        self.flagged_by_reason[reason] += count

    def reject(self, line_number: int, reason: str, raw: bytes | None) -> None:
        self.rejected_by_reason[reason] += 1
        text = None
        if raw is not None:
            text = raw[:RAW_KEEP_BYTES].decode("utf-8", errors="replace")
        self.rejected.append(
            {
                "contributor": self.contributor,
                "source_file": self.source_file,
                "line_number": line_number,
                "reason": reason,
                "raw": text,
            }
        )

    @property
    def ignored(self) -> int:
        return sum(self.ignored_by_type.values())

    def row(self, **extra) -> dict:
        row = {
            "contributor": self.contributor,
            "source_file": self.source_file,
            "file_sha256": None,
            "provider": None,
            "lines_read": self.lines_read,
            "records_used": self.used,
            "records_ignored": self.ignored,
            "records_rejected": len(self.rejected),
            "ignored_by_type": sorted(self.ignored_by_type.items()),
            "rejected_by_reason": sorted(self.rejected_by_reason.items()),
            "flagged_by_reason": sorted(self.flagged_by_reason.items()),
            "steps": 0,
            "duplicate_steps": 0,
            "tool_calls": 0,
            "error": None,
        }
        row.update(extra)
        return row

    def stopped(self, exc: BaseException) -> str | None:
        """A read that raised `exc`: the file's error if no line was read; else (a cut or
        corrupt gzip) what was read stands, the rest counts as one rejected line, and None."""
        if self.lines_read == 0:
            return f"cannot read: {exc}"
        self.lines_read += 1
        self.reject(self.lines_read, f"unreadable rest of file: {exc}", None)
        return None

    def check(self) -> None:
        total = self.used + self.ignored + len(self.rejected)
        if total != self.lines_read:
            raise AssertionError(
                f"{self.source_file}: accounting broken: {self.lines_read} lines read, "
                f"{self.used} used + {self.ignored} ignored + {len(self.rejected)} rejected"
            )


def feed_records(stream: IO[bytes], acc: Accounting, feed: Callable[[int, dict], None]) -> None:
    """Call `feed(line_number, record)` for each line that is a JSON object.

    Blank lines count as ignored (type "blank"); undecodable lines are rejected with a reason.
    `feed` must account for every record it gets (use, ignore or reject it). A callback rather
    than a generator: resuming a generator per line costs more than the rest of this loop.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    line_number = acc.lines_read
    try:
        for raw in stream:
            line_number += 1
            try:
                # JSON allows the whitespace around a line, so most lines parse as they are,
                # without strip()'s copy.
                record = loads(raw)
            except decode_error:
                record = decode_refused_line(raw, line_number, acc)
                if record is None:
                    continue
            if record.__class__ is dict:
                feed(line_number, record)
            else:
                acc.reject(line_number, "not a JSON object", raw)
            # Freed before the next line is parsed, so the parser reuses its memory while it
            # is still in cache (kept bound, ~8% more D1 misses in the readers under cachegrind).
            record = None
    finally:
        acc.lines_read = line_number


def decode_refused_line(raw: bytes, line_number: int, acc: Accounting) -> dict | None:
    """A line orjson refused as it is: blank, wrapped in whitespace JSON does not allow (form
    feed, vertical tab), readable by the standard parser, or rejected with its reason.

    Returns the record when it is a JSON object; everything else is accounted here.
    """
    stripped = raw.strip()
    if not stripped:
        acc.ignore("blank")
        return None
    try:
        record = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        record = slow_loads(stripped)
        if record is None:
            acc.reject(line_number, json_error_reason(raw), raw)
            return None
    if record.__class__ is not dict:
        acc.reject(line_number, "not a JSON object", raw)
        return None
    return record


def slow_loads(line: bytes):
    """Second chance for lines orjson refuses but real logs contain: escaped lone surrogates
    (a cut emoji) and NaN/Infinity, which the standard library accepts.

    Lone surrogates become "?" (one code point for one, so every size stays TraceLab's),
    because Arrow strings cannot hold them.
    """
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    text = json.dumps(record, ensure_ascii=False)
    return json.loads(text.encode("utf-8", "replace"))


def json_error_reason(raw: bytes) -> str:
    # Bad bytes first: a binary file's last line is no log being written. (A line cut inside
    # a multi-byte character is a cut line, though.)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if raw.endswith(b"\n") or exc.reason != "unexpected end of data":
            return "invalid UTF-8"
    if not raw.endswith(b"\n"):
        return "truncated last line (file still being written?)"
    return "malformed JSON"
