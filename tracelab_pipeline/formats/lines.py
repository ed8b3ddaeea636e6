"""Decoding JSONL lines the way jsonl.iter_records does, plus what Arrow needs.

Lines orjson refuses get a second chance with the standard parser (escaped lone surrogates from
a cut emoji, NaN/Infinity), as in jsonl.iter_records. Lone surrogates are then replaced by "?"
(one code point for one, so every size stays TraceLab's), because Arrow strings cannot hold them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

import orjson

from tracelab_pipeline.formats.jsonl import Accounting


def second_chance(raw: bytes):
    """The standard parser's reading of a line orjson refused, or None."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    text = json.dumps(record, ensure_ascii=False)
    return json.loads(text.encode("utf-8", "replace"))


def undecodable_reason(raw: bytes) -> str:
    """The rejection reasons jsonl.iter_records gives."""
    if not raw.endswith(b"\n"):
        return "truncated last line (file still being written?)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8"
    return "malformed JSON"


def iter_objects(stream: IO[bytes], acc: Accounting) -> Iterator[tuple[int, dict]]:
    """(line_number, record) per JSON-object line; blank and bad lines are accounted here.

    Continues the line count in `acc.lines_read`; the caller accounts every yielded record.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    for raw in stream:
        acc.lines_read += 1
        try:
            record = loads(raw)
        except decode_error:
            if raw.isspace():
                acc.ignore("blank")
                continue
            record = second_chance(raw)
            if record is None:
                acc.reject(acc.lines_read, undecodable_reason(raw), raw)
                continue
        if type(record) is dict:
            yield acc.lines_read, record
        else:
            acc.reject(acc.lines_read, "not a JSON object", raw)
