"""The fields of a Claude Code record that the reader uses, as msgspec Structs.

Decoding a line into these builds no Python object for anything else: the large payloads the
reader never reads (`toolUseResult` beyond its durations, thinking signatures, snapshots) are
skipped inside msgspec, and tool inputs stay `msgspec.Raw` slices of the line until parsed.

The types describe the usual shape strictly (token counts are ints in range, a timestamp is a
string, ...): a line of any other shape fails to decode and is read through orjson into a
dict, then `from_dict` (Structs do not check types when built directly), so the reader keeps
its own checks and treats an odd line exactly as before, only slower.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta, Raw, Struct

MAX_TOKENS = 10**12  # more in one call is corruption (and would not fit int64 sums)

# Counts out of this range, or of another JSON type, are the reader's to reject or flag.
Tokens = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]


class CacheCreation(Struct, gc=False):
    ephemeral_5m_input_tokens: Tokens | None = None
    ephemeral_1h_input_tokens: Tokens | None = None


class Usage(Struct, gc=False):
    input_tokens: Tokens | None = None
    cache_creation_input_tokens: Tokens | None = None
    cache_read_input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cache_creation: CacheCreation | None = None
    iterations: object = None


class Block(Struct, gc=False):
    """A content block of any type: assistant thinking/text/tool_use, user tool_result."""

    type: object = None
    thinking: str | None = None
    text: str | None = None
    id: object = None
    name: object = None
    input: Raw = None
    tool_use_id: object = None
    content: str | None = None  # a tool result's (a list, rarely: the line is read by orjson)
    is_error: object = None


class Message(Struct, gc=False):
    id: object = None
    model: object = None
    # (str: rejection reasons name the type of anything else, which the dict path reports)
    role: str | None = None
    stop_reason: object = None
    usage: Usage | None = None
    content: str | list[Block] | None = None


class ToolUseResult(Struct, gc=False):
    durationMs: object = None
    duration_ms: object = None
    durationSeconds: object = None
    duration_seconds: object = None


class Record(Struct, gc=False):
    type: str | None = None
    sessionId: object = None
    timestamp: str | None = None
    isSidechain: object = None
    agentId: object = None
    uuid: object = None
    parentUuid: object = None
    requestId: object = None
    version: object = None
    cwd: object = None
    gitBranch: object = None
    isApiErrorMessage: object = None
    isCompactSummary: object = None
    subtype: str | None = None
    microcompactMetadata: object = None
    message: Message | None = None
    # An object on tool results; a string (errors) or a list (some MCP tools) otherwise.
    toolUseResult: ToolUseResult | str | list[Raw] | None = None


decode_record = msgspec.json.Decoder(Record).decode


def _build(cls, value: dict):
    return cls(**{name: value[name] for name in cls.__struct_fields__ if name in value})


def from_dict(rec: dict) -> Record:
    """A record orjson parsed, as a Record holding its values whatever their types."""
    record = _build(Record, rec)
    msg = record.message
    if msg.__class__ is dict:
        record.message = msg = _build(Message, msg)
        if msg.content.__class__ is list:
            msg.content = [_build(Block, b) if b.__class__ is dict else b for b in msg.content]
        if msg.usage.__class__ is dict:
            msg.usage = usage = _build(Usage, msg.usage)
            if usage.cache_creation.__class__ is dict:
                usage.cache_creation = _build(CacheCreation, usage.cache_creation)
    if record.toolUseResult.__class__ is dict:
        record.toolUseResult = _build(ToolUseResult, record.toolUseResult)
    return record
