"""The data contract: one pyarrow schema per table, used by every writer, reader and check.

Field semantics follow the TraceLab extractors (docs/reference/tracelab-ingest.md) so that our
numbers agree with theirs; where we deliberately differ (sub-agent threads, TTL-split cache
writes, accounting of every line) the field's description says so.

Private-only fields (raw ids, paths, free text) are listed in PRIVATE_FIELDS; the public layer
drops or pseudonymizes them.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1.2"

TS = pa.timestamp("us", tz="UTC")

PROVIDERS = ("claude", "codex")
TRIGGERS = ("user", "tool", "none")
EVENT_TYPES = ("user_message", "tool_result", "reasoning", "text", "tool_call", "usage_report")
INPUT_EVENT_TYPES = ("user_message", "tool_result")
OUTPUT_EVENT_TYPES = ("reasoning", "text", "tool_call")
# Where a tool call's internal latency came from (tool_calls.internal_latency_source), one name
# per place a reader takes it from.
INTERNAL_LATENCY_SOURCES = (
    "tool_use_result",  # Claude: toolUseResult durationMs / duration_ms / durationSeconds / duration_seconds
    "wall_time_line",  # Codex: the runner's "Wall time: S seconds" line in a result's output
    "exec_command_end",  # Codex: event_msg.exec_command_end duration (our B9 fallback)
    "mcp_tool_call_end",  # Codex: event_msg.mcp_tool_call_end duration (our B9 fallback)
    "output_metadata",  # Codex: a JSON output's metadata.duration_seconds (our B9 fallback)
    "tracelab_round",  # a round import's tool_internal_latency_ms (whoever wrote the file)
)
# The sources TraceLab itself reads (tracelab-ingest §3.4, §4.5): a call timed from any other
# is one TraceLab leaves untimed (B9), which the comparison with the paper has to know. A
# round file's latencies are taken as TraceLab's: true of TraceLab's release, not of a round
# file we exported and read back (our export keeps our B9 fallbacks, and the round format has
# no field to say so), whose B9-timed calls then count as TraceLab-timed.
TRACELAB_LATENCY_SOURCES = ("tool_use_result", "wall_time_line", "tracelab_round")
# Enum columns: table -> column -> the values our code writes there, whatever the data. The
# suites expect them (validate.suites); the anonymizer publishes them unscanned
# (anonymize.vocabulary.FIXED_VALUES).
VALUE_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "steps": {
        "provider": PROVIDERS,
        "trigger": TRIGGERS,
        "first_input_event_type": INPUT_EVENT_TYPES,
        "first_event_type": EVENT_TYPES,
    },
    "tool_calls": {"internal_latency_source": INTERNAL_LATENCY_SOURCES},
    "timing_events": {"event_type": EVENT_TYPES},
}


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


def _schema(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"table": name, "schema_version": SCHEMA_VERSION})


# One field per line, a table to read down: kept out of the formatter.
# fmt: off
STEPS = _schema(
    "steps",
    [
        _field("step_id", pa.string(), "provider:session_id:round_id; unique per contributor", False),
        _field("contributor", pa.string(), "handle of the person whose logs these are", False),
        _field("provider", pa.string(), "claude | codex", False),
        _field("session_id", pa.string(), "agent thread id (main chain: the session id)", False),
        _field("root_session_id", pa.string(), "session id of the main chain this thread belongs to", False),
        _field("parent_session_id", pa.string(), "session that spawned this thread; null on a main chain"),
        _field("agent_id", pa.string(), "sub-agent / sidechain id; null on a main chain"),
        _field("is_sidechain", pa.bool_(), "thread is a sub-agent or sidechain, not the main chain", False),
        _field("project", pa.string(), "Claude: encoded project directory; Codex: null (private)"),
        _field("cwd", pa.string(), "working directory the log reports (private)"),
        _field("git_branch", pa.string(), "git branch the log reports (private)"),
        _field("source_file", pa.string(), "path of the raw file this step was read from (private)"),
        _field("source_line", pa.int64(), "1-based line of the first record of this step"),
        _field("session_started_at", TS, "first timestamp of the root session (a resumed session: its own first record, or its first own step where its file copied the earlier calls under its id); not before its partition month (a resumed session may start later)"),
        _field("step_index", pa.int64(), "0-based position of the step within its thread", False),
        _field("round_id", pa.string(), "Claude: API message.id; Codex: '<turn_id>:<k>'", False),
        _field("request_id", pa.string(), "Claude requestId (may be missing)"),
        _field("turn_id", pa.string(), "Codex turn id"),
        _field("model", pa.string(), "model name as logged"),
        _field("client_version", pa.string(), "Claude Code / Codex CLI version"),
        _field("stop_reason", pa.string(), "Claude stop_reason of the chosen usage snapshot"),
        # Tokens (tracelab-ingest §5)
        _field("input_tokens_total", pa.int64(), "prefix_tokens + append_tokens", False),
        _field(
            "reported_input_tokens",
            pa.int64(),
            "input tokens as the log reported them, only when they disagree with prefix + append "
            "(Codex cached_input_tokens > input_tokens); null otherwise",
        ),
        _field("prefix_tokens", pa.int64(), "served from the prefix cache (Claude cache read; Codex cached input)", False),
        _field("append_tokens", pa.int64(), "prefilled fresh (Claude uncached + cache writes; Codex input - cached)", False),
        _field("output_tokens", pa.int64(), "output incl. reasoning", False),
        _field("reasoning_tokens", pa.int64(), "Codex reasoning output tokens; null for Claude"),
        _field("uncached_input_tokens", pa.int64(), "Claude usage.input_tokens; null for Codex"),
        _field("cache_write_tokens", pa.int64(), "Claude cache_creation_input_tokens; null for Codex"),
        _field("cache_write_5m_tokens", pa.int64(), "cache writes with 5 min TTL, where the log says"),
        _field("cache_write_1h_tokens", pa.int64(), "cache writes with 1 h TTL, where the log says"),
        # Trigger and current-input summary (tracelab-ingest §2.5, §7.1)
        _field("trigger", pa.string(), "user | tool | none, from first_input_event_type", False),
        _field("first_input_event_type", pa.string(), "first user_message/tool_result event, or null"),
        _field("first_event_type", pa.string(), "event_type of the first timing event, or null"),
        _field("current_input_event_count", pa.int64(), "user messages + tool results that fed this step", False),
        _field("current_user_message_count", pa.int64(), "user messages that fed this step", False),
        _field("current_tool_result_count", pa.int64(), "tool results that fed this step", False),
        _field("current_user_message_chars", pa.int64(), "size of those user messages in code points", False),
        _field("current_tool_result_chars", pa.int64(), "size of those tool results in code points", False),
        _field("current_input_chars", pa.int64(), "user + tool-result chars (code points)", False),
        _field("after_compaction", pa.bool_(), "a compaction boundary/summary precedes this step", False),
        # Time
        _field("input_ready_at", TS, "latest input event at or before the first output"),
        _field("first_output_at", TS, "earliest reasoning/text/tool_call event"),
        _field("last_output_at", TS, "latest reasoning/text/tool_call event"),
        _field("usage_at", TS, "Codex token_count timestamp; null for Claude"),
        _field("tool_call_count", pa.int64(), "tool calls emitted by this step", False),
        # Schema 1.1 (additive): Claude Code microcompaction, old tool results cleared from the
        # context without a summary (`system` record, subtype `microcompact_boundary`).
        _field("after_microcompaction", pa.bool_(), "Claude: a microcompact_boundary (old tool results cleared, no summary; not a compaction) precedes this step since the thread's previous step; null for Codex and round imports"),
        _field("microcompact_tokens_saved", pa.int64(), "Claude: tokens those boundaries report cleared (microcompactMetadata.tokensSaved, summed); null if none, or one did not say"),
    ],
)

TOOL_CALLS = _schema(
    "tool_calls",
    [
        _field("step_id", pa.string(), "step that emitted the call", False),
        _field("contributor", pa.string(), "handle of the person whose logs these are", False),
        _field("session_id", pa.string(), "agent thread id of the emitting step", False),
        _field("tool_index", pa.int64(), "0-based position within the step", False),
        _field("tool_name", pa.string(), "tool name as logged"),
        _field("call_id", pa.string(), "tool_use id / call_id", False),
        _field("emitted_at", TS, "timestamp of the record carrying the call"),
        _field("result_at", TS, "Claude: last result record; Codex: first result record"),
        _field("wall_latency_ms", pa.int64(), "result_at - emitted_at, Python half-to-even rounding"),
        _field("internal_latency_ms", pa.int64(), "runner-reported duration; null if absent"),
        _field("is_error", pa.bool_(), "null when unknown"),
        _field("input_chars", pa.int64(), "Claude: compact JSON of the input; Codex: raw argument string", False),
        _field("result_chars", pa.int64(), "null when no result was seen"),
        _field("input_json", pa.string(), "raw tool input (Claude: compact JSON; Codex: argument string) (private)"),
        _field("command_signature", pa.string(), "shell tools: program + subcommand from an allow-list, else 'other'"),
        # Schema 1.2 (additive): where internal_latency_ms came from, so that TraceLab's timing
        # (which ignores the B9 fallbacks) can be recounted from ours.
        _field("internal_latency_source", pa.string(), "where internal_latency_ms came from: tool_use_result (Claude toolUseResult duration key) | wall_time_line (Codex 'Wall time' line) | exec_command_end | mcp_tool_call_end | output_metadata (Codex end-event duration, JSON output metadata.duration_seconds: durations TraceLab ignores, B9) | tracelab_round (a TraceLab round import); null when internal_latency_ms is"),
    ],
)

TIMING_EVENTS = _schema(
    "timing_events",
    [
        _field("step_id", pa.string(), "step the event belongs to", False),
        _field("contributor", pa.string(), "handle of the person whose logs these are", False),
        _field("event_index", pa.int64(), "0-based construction order (never sorted by time)", False),
        _field("event_type", pa.string(), "|".join(EVENT_TYPES), False),
        _field("timestamp", TS, "time of the record the event came from (UTC); null if unparseable"),
        _field("source", pa.string(), "raw record kind the event came from", False),
        _field("tool_call_id", pa.string(), "tool_call / tool_result: the call it belongs to"),
        _field("tool_index", pa.int64(), "tool_call: 0-based position within the step"),
        _field("tool_name", pa.string(), "tool_call: tool name as logged"),
        _field("is_error", pa.bool_(), "tool_result: the tool reported an error; null when unknown"),
        _field("content_chars", pa.int64(), "user_message / reasoning / text size in code points"),
        _field("result_chars", pa.int64(), "tool_result size in code points"),
    ],
)

INGEST_ACCOUNTING = _schema(
    "ingest_accounting",
    [
        _field("contributor", pa.string(), "", False),
        _field("source_file", pa.string(), "path of the file as read (private)", False),
        _field("file_sha256", pa.string(), "content hash of the file, when known"),
        _field("provider", pa.string(), "detected from content; null when undetectable"),
        _field("lines_read", pa.int64(), "= records_used + records_ignored + records_rejected", False),
        _field("records_used", pa.int64(), "", False),
        _field("records_ignored", pa.int64(), "", False),
        _field("records_rejected", pa.int64(), "", False),
        _field("ignored_by_type", pa.map_(pa.string(), pa.int64()), "record type -> count", False),
        _field("rejected_by_reason", pa.map_(pa.string(), pa.int64()), "reason -> count", False),
        _field(
            "flagged_by_reason",
            pa.map_(pa.string(), pa.int64()),
            "anomaly -> count, for records kept but noted (e.g. Codex cached > input, outputs "
            "dropped at end of file); not part of lines_read",
        ),
        _field("steps", pa.int64(), "steps produced from this file", False),
        _field("duplicate_steps", pa.int64(), "steps dropped because another file had them", False),
        _field("tool_calls", pa.int64(), "", False),
        _field("error", pa.string(), "why the file could not be read at all; null if it was"),
    ],
)

REJECTED_RECORDS = _schema(
    "rejected_records",
    [
        _field("contributor", pa.string(), "", False),
        _field("source_file", pa.string(), "(private)", False),
        _field("line_number", pa.int64(), "1-based", False),
        _field("reason", pa.string(), "", False),
        _field("raw", pa.string(), "the line as read, truncated to 64 KiB (private)"),
    ],
)
# fmt: on

TABLES: dict[str, pa.Schema] = {
    "steps": STEPS,
    "tool_calls": TOOL_CALLS,
    "timing_events": TIMING_EVENTS,
    "ingest_accounting": INGEST_ACCOUNTING,
    "rejected_records": REJECTED_RECORDS,
}

# Columns that hold raw identifiers, paths or free text: they never reach the public layer as-is.
# (`steps.project` is published, like every id column, only as a keyed pseudonym: see
# PUBLIC_DOCS; the anonymize stage replaces its values.)
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {
    "steps": ("cwd", "git_branch", "source_file"),
    "tool_calls": ("input_json",),
    "timing_events": (),
    "ingest_accounting": ("source_file",),
    "rejected_records": ("source_file", "raw"),
}


# Public meaning of columns whose values the anonymize stage replaces (same name and type).
_TOOL_DOC = (
    "built-in Claude Code / Codex tool name; any other tool a keyed pseudonym "
    "(tol_<20 hex>; MCP tools mcp__tol_<20 hex>)"
)
PUBLIC_DOCS: dict[str, dict[str, str]] = {
    "steps": {
        "project": "keyed pseudonym (prj_<20 hex>) of the Claude project; Codex: null",
        "model": "model id if made of known model words and numbers; else a keyed pseudonym "
        "(mdl_<20 hex>), after the price family it matched (e.g. sonnet-mdl_<20 hex>)",
        "client_version": "Claude Code / Codex CLI version number (a build suffix removed)",
        "stop_reason": "stop reason of the chosen usage snapshot; <UNLISTED> if not a known one",
    },
    "tool_calls": {"tool_name": _TOOL_DOC},
    "timing_events": {"tool_name": f"tool_call: {_TOOL_DOC}"},
}


def public_schema(name: str) -> pa.Schema:
    """The table as published: private columns removed, ids pseudonymized in place."""
    schema = TABLES[name]
    for column in PRIVATE_FIELDS[name]:
        schema = schema.remove(schema.get_field_index(column))
    for column, doc in PUBLIC_DOCS.get(name, {}).items():
        i = schema.get_field_index(column)
        schema = schema.set(i, schema.field(i).with_metadata({"doc": doc}))
    return schema.with_metadata({**schema.metadata, b"layer": b"public"})


_COLUMNS = {name: tuple(schema.names) for name, schema in TABLES.items()}


class MissingColumnError(ValueError):
    """A stored table lacks a column the schema says is never null."""


def conform(table: pa.Table, target: pa.Schema, where: str) -> pa.Table:
    """`table` as `target` (its columns, in order and typed): a nullable column that an older
    writer did not write (schema changes are additive) becomes nulls; a missing non-nullable
    column is an error naming `where` (the file) and the column."""
    missing = [f.name for f in target if not f.nullable and f.name not in table.column_names]
    if missing:
        raise MissingColumnError(
            f"{where}: no column {', '.join(missing)}, which schema {SCHEMA_VERSION} requires "
            "(never null): the file was not written by this pipeline, or before that column"
        )
    columns = [
        table.column(f.name) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target.remove_metadata()).cast(target)


def blank_row(name: str, **values) -> dict:
    """A row of table `name` with every column in schema order: None unless given."""
    row = dict.fromkeys(_COLUMNS[name])
    row.update(values)
    return row


def to_table(name: str, rows: list[dict]) -> pa.Table:
    """Build a table from row dicts, validating types against the schema."""
    return pa.Table.from_pylist(rows, schema=TABLES[name])
