"""What a name column may publish: known vocabulary, or a keyed pseudonym, never the raw name.

Presidio only finds what looks like PII; a name a user chose (an MCP server `acme-billing`, a
custom tool, a proxy model `acme-gpt-internal`, a Bedrock inference-profile ARN with the AWS
account id, a client built as `2.1.3-acmecorp`) looks like none, and was published as it was.
So these columns are allow-listed: a value is public when it is made of known words, and any
other value is replaced (by a keyed pseudonym where telling values apart matters to a metric:
tool and model names).
"""

from __future__ import annotations

import functools
import re

from tracelab_pipeline import schema
from tracelab_pipeline.anonymize.command_signature import OTHER, PROGRAMS, PYTHON_MODULES

UNLISTED = "<UNLISTED>"

# Built-in tools of Claude Code and Codex CLI (names the clients define, not their users).
KNOWN_TOOLS = frozenset(
    {
        # Claude Code
        "Agent",
        "AskUserQuestion",
        "Bash",
        "BashOutput",
        "CronCreate",
        "CronDelete",
        "CronList",
        "Edit",
        "EnterPlanMode",
        "EnterWorktree",
        "ExitPlanMode",
        "ExitWorktree",
        "Glob",
        "Grep",
        "KillBash",
        "KillShell",
        "LS",
        "ListMcpResourcesTool",
        "LSP",
        "MultiEdit",
        "NotebookEdit",
        "NotebookRead",
        "PowerShell",
        "Read",
        "ReadMcpResourceTool",
        "SendMessage",
        "Skill",
        "SlashCommand",
        "Task",
        "TaskCreate",
        "TaskGet",
        "TaskList",
        "TaskOutput",
        "TaskStop",
        "TaskUpdate",
        "TeamCreate",
        "TeamDelete",
        "TodoRead",
        "TodoWrite",
        "ToolSearch",
        "WebFetch",
        "WebSearch",
        "Write",
        # Codex CLI
        "apply_patch",
        "container.exec",
        "exec_command",
        "grep_files",
        "list_dir",
        "list_mcp_resource_templates",
        "list_mcp_resources",
        "local_shell",
        "read_file",
        "read_mcp_resource",
        "request_user_input",
        "shell",
        "shell_command",
        "spawn_agent",
        "send_input",
        "resume_agent",
        "wait",
        "close_agent",
        "unified_exec",
        "update_plan",
        "view_image",
        "web_search",
        "write_stdin",
    }
)
MCP_PREFIX = "mcp__"

# Words of model ids as providers and gateways spell them (Anthropic, Bedrock, Vertex, OpenAI,
# OpenRouter and the open models seen behind Claude Code); numbers and versions are separate.
_MODEL_WORDS = """
    claude anthropic opus sonnet haiku instant
    openai gpt chatgpt codex mini nano turbo pro max preview latest auto review oss
    high low medium xhigh minimal thinking chat code coder fast reasoner instruct free
    gemini google flash lite exp vertex
    glm z ai zai x grok xai deepseek qwen llama meta mistral devstral codestral large small
    kimi moonshotai nvidia nemotron super minimax
    us eu apac global jp au
"""
MODEL_WORDS = frozenset(_MODEL_WORDS.split())
_MODEL_SPLIT = re.compile(r"[-_.:/@]")
# A number (a date is 8 digits; an AWS account id is 12) or a version or size token: 4o, v2,
# r1, k2, 120b, a12b, 32k.
_MODEL_NUMBER = re.compile(r"\d{1,8}|\d{1,3}[a-z]|[a-z]\d{1,3}|[a-z]\d{1,3}[a-z]|\d{1,4}[bkm]")
SYNTHETIC_MODEL = "<synthetic>"  # Claude Code's own stand-in messages

# A client version: numbers, an optional pre-release tag; anything after is not published.
_VERSION = re.compile(
    r"\d{1,4}(?:\.\d{1,6}){0,3}(?:-(?:alpha|beta|rc|dev|pre|preview|nightly|canary|next)(?:\.?\d{1,6})*)?"
)

STOP_REASONS = frozenset(
    {
        # Anthropic
        "end_turn",
        "tool_use",
        "max_tokens",
        "stop_sequence",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
        # OpenAI
        "stop",
        "length",
        "tool_calls",
        "function_call",
        "content_filter",
    }
)

# Slots of ingest accounting keys that the readers fill with a record's own kind
# (formats.common.kind_label): `system:<subtype>`, `response_item.message(role=<role>)`,
# `legacy.event_msg.<type>` keep known kinds; `unknown:<kind>` is unknown by definition.
SYSTEM_SUBTYPES = frozenset(
    {
        "api_error",
        "away_summary",
        "bridge_status",
        "compact_boundary",
        "informational",
        "local_command",
        "memory_saved",
        "microcompact_boundary",
        "stop_hook_summary",
        "turn_duration",
    }
)
# What kind_label writes for a kind that is no name: a type, or `text`.
KIND_LABELS = frozenset({"None", "text", "dict", "list", "int", "float", "bool"})
MESSAGE_ROLES = frozenset({"user", "developer", "system", "assistant", "tool"}) | KIND_LABELS
_NO_TYPE = "<no type>"


_TOOL_PSEUDONYM = re.compile(r"(?:mcp__)?tol_[0-9a-f]{20}")
_MODEL_PSEUDONYM = re.compile(r"(?:[a-z0-9.-]+-)?mdl_[0-9a-f]{20}")
# A keyed pseudonym's digest inside a published name: HMAC output, ours, never data; as hex it
# can look like an entity to Presidio (MEDICAL_LICENSE matches two letters and seven digits,
# ~0.7 % of digests), which would block the partition for good under that key.
_DIGEST = re.compile(r"(?<=(?:tol|mdl)_)[0-9a-f]{20}")
_NAME_LABELS = frozenset({"steps.model", "tool_calls.tool_name", "timing_events.tool_name"})
TEXT = "<TEXT>"  # anonymize: free text in a name column


def is_listed(label: str, value: str) -> bool:
    """Whether a published value of a VOCABULARY column (label `table.column`) is one the
    vocabulary lets out: the blocking check of the public layer, independent of how the
    anonymizer got there."""
    if value in (TEXT, UNLISTED):
        return True
    if label.endswith(".tool_name"):
        return value in KNOWN_TOOLS or _TOOL_PSEUDONYM.fullmatch(value) is not None
    if label == "steps.model":
        if _MODEL_PSEUDONYM.fullmatch(value):
            family = value.rpartition("mdl_")[0].rstrip("-")
            return not family or family in _price_families()
        return is_public_model_name(value)
    if label == "steps.client_version":
        return _VERSION.fullmatch(value) is not None
    if label == "steps.stop_reason":
        return value in STOP_REASONS
    if label == "ingest_accounting.ignored_by_type":
        return public_ignored_key(value) == value
    raise KeyError(label)


def public_tool_name(name: str, pseudonym) -> str:
    """A built-in tool's name as it is; an MCP tool `mcp__<pseudonym>` (server and tool are
    the user's names; the prefix keeps the figures' MCP group); any other tool its pseudonym.
    `pseudonym(name)`: the keyed pseudonym of the raw name."""
    if name in KNOWN_TOOLS:
        return name
    if name.startswith(MCP_PREFIX):
        return MCP_PREFIX + pseudonym(name)
    return pseudonym(name)


def is_public_model_name(name: str) -> bool:
    if name == SYNTHETIC_MODEL:
        return True
    words = _MODEL_SPLIT.split(name.lower())
    return all(_is_model_word(w) for w in words if w) and any(words)


def _is_model_word(word: str) -> bool:
    glued = _GENERATION.fullmatch(word)
    return (
        word in MODEL_WORDS
        or _MODEL_NUMBER.fullmatch(word) is not None
        or (glued is not None and glued.group(1) in MODEL_WORDS)
    )


# A family with its generation glued on (qwen3, llama3, gpt4): a short number, as any other
# number here, not an account id glued to a one-letter word (`x123456789012`).
_GENERATION = re.compile(r"([a-z]+)\d{1,3}")


@functools.cache
def _price_families() -> tuple[str, ...]:
    from tracelab_pipeline.metrics.pricing import load_pricing

    return tuple(row["match"] for row in load_pricing().families)


def public_model_name(name: str, pseudonym) -> str:
    """A model id made of known words as it is; any other its pseudonym, after the price
    family it matches (`opus-mdl_…`): pricing matches families as substrings, so the cost
    tables come out the same."""
    if is_public_model_name(name):
        return name
    lowered = name.lower()
    family = next((f for f in _price_families() if f in lowered), None)
    return f"{family}-{pseudonym(name)}" if family else pseudonym(name)


def public_client_version(version: str) -> str:
    """The version number at the start (`2.1.3-acmecorp` -> `2.1.3`), else UNLISTED."""
    m = _VERSION.match(version)
    return m.group(0) if m else UNLISTED


def public_stop_reason(reason: str) -> str:
    return reason if reason in STOP_REASONS else UNLISTED


def public_ignored_key(key: str) -> str:
    """An ingest accounting key with its record-kind slot kept only for a known kind."""
    if key.startswith("unknown:"):
        return key if key == f"unknown:{_NO_TYPE}" else f"unknown:{UNLISTED}"
    if key.startswith("system:"):
        subtype = key[len("system:") :]
        listed = subtype in SYSTEM_SUBTYPES or subtype in KIND_LABELS
        return key if listed else f"system:{UNLISTED}"
    if key.startswith("legacy.event_msg."):
        rest = key[len("legacy.event_msg.") :]
        return key if rest in _codex_event_types() else f"legacy.event_msg.{UNLISTED}"
    m = _ROLE.fullmatch(key)
    if m and m.group(2) not in MESSAGE_ROLES:
        return f"{m.group(1)}{UNLISTED})"
    return key


_ROLE = re.compile(r"(.*\(role=)(.*)\)")


@functools.cache
def _codex_event_types() -> frozenset[str]:
    from tracelab_pipeline.formats import codex

    return frozenset((*codex._IGNORED_EVENT_MSG, *codex.HANDLED_EVENT_MSG)) | KIND_LABELS


# Columns whose every value is one our code writes whatever the data (an enum).
FIXED_VALUES: dict[str, frozenset[str]] = {
    **{
        f"{table}.{column}": frozenset(values)
        for table, columns in schema.VALUE_SETS.items()
        for column, values in columns.items()
    },
    # Any event type is a word of ours here, not only the input types the suites expect.
    "steps.first_input_event_type": frozenset(schema.EVENT_TYPES),
    # the record kinds the readers (formats.claude_code, formats.codex) name as sources
    "timing_events.source": frozenset(
        {
            "assistant.content.text",
            "assistant.content.thinking",
            "assistant.content.tool_use",
            "user.content.tool_result",
            "user.message",
            "event_msg.exec_command_end",
            "event_msg.mcp_tool_call_end",
            "event_msg.patch_apply_end",
            "event_msg.token_count",
            "event_msg.user_message",
            "response_item.custom_tool_call",
            "response_item.custom_tool_call_output",
            "response_item.function_call",
            "response_item.function_call_output",
            "response_item.message",
            "response_item.reasoning",
        }
    ),
}


@functools.cache
def reader_ingest_keys() -> frozenset[str]:
    """Every ingest accounting key (`ignored_by_type`) the readers write for a record kind they
    know, and the placeholders public_ignored_key puts in the slots they fill from the data:
    words of the readers (formats.jsonl, formats.claude_code, formats.codex), whatever the
    contributor. A key the readers write that is missing here is scanned as data (a handle
    equal to one of its words has it replaced): no leak, but a test keeps the real logs'
    keys all here."""
    from tracelab_pipeline.formats import claude_code, codex

    calls = set(codex._CALL_SOURCE.values())
    # a tool result's source (codex.CodexReader._result)
    results = {
        *codex._OUTPUT_SOURCE.values(),
        "event_msg.exec_command_end",
        "event_msg.patch_apply_end",
    }
    deferred = {
        *calls,
        *results,
        "compacted",
        "event_msg.context_compacted",
        *(f"response_item.{k}" for k in codex.COMPACTION_ITEMS),
        "event_msg.user_message",
        "event_msg.mcp_tool_call_end",
        "response_item.reasoning",
        "response_item.message",
    }
    return frozenset(
        {
            "blank",
            # Claude Code
            *claude_code.KNOWN_TYPES,
            "system",
            *(f"system:{s}" for s in SYSTEM_SUBTYPES | KIND_LABELS | {UNLISTED}),
            "assistant:api_error",
            "assistant:synthetic",
            f"unknown:{_NO_TYPE}",
            f"unknown:{UNLISTED}",
            # Codex
            *codex._IGNORED_KEY.values(),
            "legacy.state",
            "legacy.session_header",
            *(f"legacy.event_msg.{t}" for t in _codex_event_types() | {UNLISTED}),
            *(f"legacy.response_item.{k}" for k in codex._BARE_ITEM_KINDS),
            *(f"response_item.message(role={r})" for r in MESSAGE_ROLES | {UNLISTED}),
            "response_item.message(review result)",
            "event_msg.exited_review_mode",
            "event_msg.token_count(no info)",
            "event_msg.token_count(info=null)",
            "event_msg.token_count(repeat)",
            "event_msg.mcp_tool_call_end(unknown call_id)",
            *(f"{s}(repeated call_id)" for s in calls),
            *(f"{s}(no call_id)" for s in results),
            *(f"{s}(unknown call_id)" for s in results),
            *(f"dropped_at_eof:{s}" for s in deferred),
        }
    )


@functools.cache
def reader_flags() -> frozenset[str]:
    """The anomalies the readers count (`ingest_accounting.flagged_by_reason`): their own
    messages, none with a value of the log in it (tests check every `flag(...)` of
    formats/ against this list). Our words: the deny list had made `claude: input events
    pending at end of file` `<PERSON>: ...` for the handle `claude`."""
    from tracelab_pipeline.formats import claude_code, tracelab_rounds

    return frozenset(
        {
            # formats.claude_code
            "claude: assistant content is not a list (no output events)",
            "claude: one message id with different input tokens (merged)",
            "claude: malformed microcompactMetadata (tokens saved unknown)",
            "claude: input events pending at end of file",
            claude_code._SUMMED_CALLS,
            claude_code._UNCOUNTED_CALLS,
            # formats.codex
            "unparseable timestamp kept as null",
            "pre-envelope Codex rollout (mid 2025): no token usage, no steps",
            "codex token_count with flat usage (no info) not used",
            "codex token_count with zero usage kept as a step",
            "codex cached_input_tokens > input_tokens",
            "events dropped at end of file (no closing token_count)",
            # formats.tracelab_rounds
            "session_id without provider prefix",
            "claude_cache_read_input_tokens differs from prefix_tokens",
            "input_tokens_total differs from prefix + newly_append",
            "legacy tools[].latency_ms not kept",
            *(f"{name} disagrees with timing_events" for name in tracelab_rounds.SUMMARY_FIELDS),
            "trace_key differs from provider:session_id:round_id",
            "collector fields (home/user/store) not kept",
        }
    )


def is_fixed_value(label: str, value: str) -> bool:
    """Whether `value` of column `label` (`table.column`) is fixed vocabulary: a value of an
    enum, an allow-listed name (built-in tool, model id made of known words, stop reason,
    version number, command signature, keyed pseudonym), or an ingest key or flag the
    readers write (reader_ingest_keys, reader_flags). Such a value is text our code or
    the client writes whatever the contributor, so a handle that is the same word (`root`,
    `shell`, `claude`, `git`, `user`) is no leak there; any other value is scanned."""
    if label in FIXED_VALUES:
        return value in FIXED_VALUES[label]
    if label == "tool_calls.command_signature":
        return _is_signature(value)
    if label == "ingest_accounting.ignored_by_type":
        return value in reader_ingest_keys()
    if label == "ingest_accounting.flagged_by_reason":
        return value in reader_flags()
    try:
        return is_listed(label, value)
    except KeyError:  # not a name column
        return False


def scanned_part(label: str, value: str) -> str:
    """What of a fixed value (is_fixed_value) Presidio scans: all of it but a keyed
    pseudonym's digest."""
    return _DIGEST.sub("", value) if label in _NAME_LABELS else value


def _is_signature(value: str) -> bool:
    """A value command_signature can write: `other`, `python [-m module]`, or an allow-listed
    program with one of its allow-listed subcommands."""
    program, _, sub = value.partition(" ")
    if value in (OTHER, "python"):
        return True
    if program == "python":
        option, _, module = sub.partition(" ")
        return option == "-m" and module in PYTHON_MODULES
    allowed = PROGRAMS.get(program)
    return allowed is not None and (not sub or sub in allowed)
