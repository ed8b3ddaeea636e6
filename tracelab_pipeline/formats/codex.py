"""Codex CLI rollout reader: one rollout file -> steps, tool calls and timing events.

Follows tracelab-ingest §4 and §5.2 so the numbers equal TraceLab's: one step per accepted
`token_count` (consecutive repeats of the same cumulative total and `info: null` updates are
skipped), tokens from `last_token_usage`, tools paired with their results by `call_id`.

Where we differ on purpose:
- internal latency falls back to `exec_command_end.duration` (or, for MCP tools,
  `mcp_tool_call_end.duration`), then to a JSON output's `metadata.duration_seconds`, when
  there is no "Wall time" line (TraceLab B9), and `internal_latency_source` says which, so that
  TraceLab's timing can be recounted (Table 10's comparison with the paper);
- forked rollouts (`session_meta.forked_from_id`) are treated like sub-agent rollouts: replayed
  parent turns are attributed to the parent session so they collide with the parent's own
  steps and deduplicate, instead of being counted twice;
- with several replayed ancestors, each replayed turn goes to the latest ancestor that is not
  newer than the turn (UUIDv7 ids sort by time), not always to the last one seen;
- sub-agents that name their parent only at the top level of session_meta (`parent_thread_id`,
  `thread_source: "subagent"`, clients since mid 2026) are linked to it like thread_spawn ones;
- the assistant message /review records with its findings (no LLM call of this thread) is
  ignored, not carried into the next step;
- `compacted` / `context_compacted` mark the next step `after_compaction`;
- every line is accounted for; events left without a closing `token_count` at the end of the
  file are dropped as TraceLab does (B13) but counted as `dropped_at_eof:<source>`;
- rollouts of the layout before the type/payload envelope (mid 2025: a bare session header,
  `record_type` state markers, bare response items, no token usage) give no steps, as in
  TraceLab, but their lines count as ignored (`legacy.*`), not as bad records.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from tracelab_pipeline.formats.common import (
    EARLIEST,
    content_chars,
    gc_paused,
    kind_label,
    latest_plausible,
    parse_ts,
)
from tracelab_pipeline.formats.detect import is_pre_envelope_header
from tracelab_pipeline.formats.jsonl import Accounting, feed_records, log_stem, opened
from tracelab_pipeline.formats.result import FileResult
from tracelab_pipeline.formats.rows import (
    E_CONTENT_CHARS,
    E_EVENT_TYPE,
    E_IS_ERROR,
    E_RESULT_CHARS,
    E_SOURCE,
    E_TIMESTAMP,
    E_TOOL_CALL_ID,
    E_TOOL_INDEX,
    E_TOOL_NAME,
    S_AFTER_COMPACTION,
    S_AGENT_ID,
    S_APPEND_TOKENS,
    S_CLIENT_VERSION,
    S_CWD,
    S_GIT_BRANCH,
    S_INPUT_TOKENS_TOTAL,
    S_IS_SIDECHAIN,
    S_MODEL,
    S_OUTPUT_TOKENS,
    S_PARENT_SESSION_ID,
    S_PREFIX_TOKENS,
    S_PROVIDER,
    S_REASONING_TOKENS,
    S_REPORTED_INPUT_TOKENS,
    S_ROOT_SESSION_ID,
    S_ROUND_ID,
    S_SESSION_ID,
    S_SESSION_STARTED_AT,
    S_SOURCE_FILE,
    S_SOURCE_LINE,
    S_STEP_ID,
    S_STEP_INDEX,
    S_TOOL_CALL_COUNT,
    S_TURN_ID,
    S_USAGE_AT,
    blank,
)
from tracelab_pipeline.formats.step_fields import summarize_into

PROVIDER = "codex"
_fromisoformat = datetime.fromisoformat
MAX_TOKENS = 10**12  # more in one call is corruption, and would not fit the schema's int64
_MAX_MS = 2**53  # latencies beyond this are nonsense (and lose float precision)

_WALL_TIME = re.compile(r"^Wall time:\s*([0-9]+(?:\.[0-9]+)?)\s*seconds\b", re.MULTILINE)
_EXIT_CODE = re.compile(r"(?:Exit code|Process exited with code)[: ]+(-?\d+)")
# The parts after the literal prefixes, matched where str.find located the prefix.
_WALL_TIME_TAIL = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*seconds\b")
_EXIT_CODE_TAIL = re.compile(r"[: ]+(-?\d+)")
# Runner output usually opens with one of these headers. Matched at the very start, they hold
# the first Wall time line and the first exit code phrase (nothing before them can), so they
# give what _wall_time_ms and _exit_code would, in one match instead of two scans.
_HEADER = re.compile(
    r"Chunk ID: [0-9a-f]+\nWall time: ([0-9]+(?:\.[0-9]+)?) seconds\n"
    r"Process exited with code (-?\d+)\n"
    r"|Exit code: (-?\d+)\nWall time: ([0-9]+(?:\.[0-9]+)?) seconds\n"
)
_UNSET = object()
_TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")

# The event_msg kinds a step is built from, with their handlers (the anonymizer lists them
# as known record kinds).
HANDLED_EVENT_MSG = {
    "task_started": "_task_started",
    # The protocol reads `turn_started` as an alias of `task_started` ("v2 interop"); a writer
    # that switches to it must not lose turn boundaries.
    "turn_started": "_task_started",
    "user_message": "_user_message",
    "token_count": "_token_count",
    "exec_command_end": "_exec_command_end",
    "patch_apply_end": "_patch_apply_end",
    "mcp_tool_call_end": "_mcp_tool_call_end",
    "context_compacted": "_compacted",
    "exited_review_mode": "_exited_review_mode",
}

# Record kinds that carry nothing a step needs (tracelab-ingest §4.1), with their accounting
# key; anything else unknown is counted as `unknown:<kind>`.
_IGNORED_EVENT_MSG = (
    "agent_message",
    "agent_message_delta",
    "agent_reasoning",
    "agent_reasoning_delta",
    "agent_reasoning_raw_content",
    "agent_reasoning_section_break",
    "task_complete",
    "turn_complete",  # task_complete's alias in the protocol
    "turn_aborted",
    "turn_diff",
    "exec_command_begin",
    "exec_command_output_delta",
    "exec_approval_request",
    "apply_patch_approval_request",
    "patch_apply_begin",
    "web_search_begin",
    "web_search_end",
    "mcp_tool_call_begin",
    "view_image_tool_call",
    "plan_update",
    "entered_review_mode",
    "item_started",
    "item_completed",
    "background_event",
    "error",
    "stream_error",
    "warning",
    "undo_started",
    "undo_completed",
    "thread_rolled_back",
    "thread_name_updated",
    "session_configured",
    "shutdown_complete",
    "agent_reasoning_raw_content_delta",
    "raw_response_item",
    "deprecation_notice",
    "elicitation_request",
    "mcp_startup_update",
    "mcp_startup_complete",
    "terminal_interaction",
    # Kinds newer clients (late 2025 - 2026) persist or may persist; none is a step, an
    # input or a tool result of a response_item call.
    "thread_context_usage_updated",
    "thread_goal_updated",
    "thread_skills_updated",
    "thread_settings_applied",
    "collab_agent_spawn_begin",
    "collab_agent_spawn_end",
    "collab_agent_interaction_begin",
    "collab_agent_interaction_end",
    "collab_waiting_begin",
    "collab_waiting_end",
    "collab_close_begin",
    "collab_close_end",
    "collab_resume_begin",
    "collab_resume_end",
    "image_generation_begin",
    "image_generation_end",
    "guardian_assessment",
    "guardian_warning",
    "dynamic_tool_call_request",
    "dynamic_tool_call_response",
    "request_permissions",
    "request_user_input",
    "ask_user_question_request",
    "model_reroute",
    "model_verification",
    "hook_started",
    "hook_completed",
    "plan_delta",
    "patch_apply_updated",
    "agent_message_content_delta",
    "reasoning_content_delta",
    "reasoning_raw_content_delta",
    "get_history_entry_response",
    "mcp_list_tools_response",
    "list_custom_prompts_response",
    "list_skills_response",
    "skills_update_available",
    "realtime_conversation_started",
    "realtime_conversation_realtime",
    "realtime_conversation_closed",
    "realtime_conversation_sdp",
)
# local_shell_call and tool_search_call are model tool calls TraceLab does not track (B16): as
# there, their outputs then count as results of an unknown call.
_IGNORED_RESPONSE_ITEM = (
    "web_search_call",
    "local_shell_call",
    "ghost_snapshot",
    "other",
    "tool_search_call",
    "tool_search_output",
    "image_generation_call",
    "agent_message",  # a message between agents, not this model's output
    "additional_tools",
    "configuration_update",
    "compaction_trigger",
)
_IGNORED_KEY = {("event_msg", t): f"event_msg.{t}" for t in _IGNORED_EVENT_MSG} | {
    ("response_item", t): f"response_item.{t}" for t in _IGNORED_RESPONSE_ITEM
}


_CALL_SOURCE = {k: f"response_item.{k}" for k in ("function_call", "custom_tool_call")}
_OUTPUT_SOURCE = {
    k: f"response_item.{k}" for k in ("function_call_output", "custom_tool_call_output")
}
# Response item kinds that mark a compaction (newer rollouts' remote compaction item, its older
# name, 2026 clients' item).
COMPACTION_ITEMS = ("compaction", "compaction_summary", "context_compaction")
# Response item kinds, as a pre-envelope rollout writes them bare at the top level.
_BARE_ITEM_KINDS = frozenset(
    (*_CALL_SOURCE, *_OUTPUT_SOURCE, "message", "reasoning", "compaction", *_IGNORED_RESPONSE_ITEM)
)


def _blank_step(contributor: str, source_file: str) -> list:
    """A steps row (formats/rows.py) with the file's constants filled in."""
    step = blank("steps", contributor)
    step[S_PROVIDER] = PROVIDER
    step[S_SOURCE_FILE] = source_file
    return step


class _Reject(Exception):
    """A record that cannot be used; the message is the rejection reason."""


class _Tool:
    __slots__ = (
        "index",
        "name",
        "call_id",
        "emitted_at",
        "result_at",
        "input_json",
        "input_chars",
        "result_chars",
        "wall_ms",
        "internal_ms",
        "exec_ms",
        "exec_source",
        "json_ms",
        "is_error",
        "result_seen",
        "emitted",
    )

    def __init__(self, index, name, call_id, emitted_at, input_json, input_chars):
        self.index = index
        self.name = name
        self.call_id = call_id
        self.emitted_at = emitted_at
        self.result_at = None
        self.input_json = input_json
        self.input_chars = input_chars
        self.result_chars = None
        self.wall_ms = None
        self.internal_ms = None  # from the "Wall time" line, as TraceLab
        self.exec_ms = None  # exec_command_end.duration (our fallback)
        self.exec_source = None  # which end record exec_ms came from
        self.json_ms = None  # JSON output metadata.duration_seconds (our fallback)
        self.is_error = None
        self.result_seen = False
        self.emitted = False  # its step has been closed


class _Meta:
    """What one session_meta record says about a thread."""

    __slots__ = (
        "started_at",
        "cli_version",
        "spawn_parent",
        "subagent",
        "forked_from",
        "branch",
        "session_root",
        "replays",
    )

    def __init__(
        self,
        started_at,
        cli_version,
        spawn_parent,
        subagent,
        forked_from,
        branch,
        session_root,
        replays,
    ):
        self.started_at = started_at
        self.cli_version = cli_version
        self.spawn_parent = spawn_parent
        self.subagent = subagent
        self.forked_from = forked_from
        self.branch = branch
        self.session_root = session_root  # a sub-agent's `session_id`: its root thread
        self.replays = replays  # the rollout may copy the parent's history (see _read_meta)


def read_codex(
    path: str | Path,
    contributor: str = "local",
    origin: str | Path | None = None,
    stream: IO[bytes] | None = None,
) -> FileResult:
    """Read one Codex rollout (plain or gzip). Never raises for bad content.

    `origin` is the path the client wrote the file under (for a renamed landed copy); its
    name stands in for the session and turn ids of rollouts that lack them, as in TraceLab.
    """
    source = str(path)
    acc = Accounting(source, contributor)
    rollout = _Rollout(acc, _stem(str(origin) if origin is not None else source))
    try:
        with gc_paused(), opened(path, stream) as lines:
            feed_records(lines, acc, rollout.feed)
    except (OSError, EOFError, zlib.error) as exc:
        if (error := acc.stopped(exc)) is not None:
            return FileResult(source, PROVIDER, acc, error=error)
    result = FileResult(source, PROVIDER, acc)
    with gc_paused():
        rollout.finish(result)
    return result


def _stem(source: str) -> str:
    return log_stem(Path(source).name)


class _Rollout:
    """Per-file state machine (tracelab-ingest §4.2)."""

    def __init__(self, acc: Accounting, stem: str):
        self.acc = acc
        self.stem = stem
        # Events are made as a copy of this row with their own values set: copying a list is
        # cheaper than building one (or a call that builds one). step_id and event_index are
        # set when the step closes.
        self.blank_event = blank("timing_events", acc.contributor)
        self.blank_step = _blank_step(acc.contributor, acc.source_file)
        self.file_id: str | None = None
        self.derived = False  # sub-agent or fork: holds replayed parent history
        self.parent_id: str | None = None
        self.ancestors: set[str] = set()
        self.session_by_turn: dict = {}  # _session_for_step per turn_id, until a session_meta
        self.metas: dict[str, _Meta] = {}
        self.turn_id: str | None = None
        self.model: str | None = None
        self.cwd: str | None = None
        self.first_ts: datetime | None = None
        self.latest = latest_plausible()
        self.last_total = None
        self.turn_counts: Counter = Counter()
        self.session_counts: Counter = Counter()
        self.pending: list[dict] = []
        self.segment: list[dict] = []
        self.segment_tools: list[_Tool] = []
        self.deferred: list[str] = []  # sources of lines whose effect waits for the next step
        self.first_line: int | None = None
        self.compaction = False
        self.review_exit = False  # an exited_review_mode awaits the message it records
        self.tools: dict[str, _Tool] = {}  # never reset within a file, as TraceLab
        # (step row, its events, its tools) per closed step, in order; rows are lists.
        self.rounds: list[tuple[list, list[list], list[_Tool]]] = []
        self.handlers = {
            "session_meta": self._session_meta,
            "turn_context": self._turn_context,
            "compacted": self._compacted,
        }
        self.nested = {
            "event_msg": {kind: getattr(self, name) for kind, name in HANDLED_EVENT_MSG.items()},
            "response_item": {
                "reasoning": self._reasoning,
                "message": self._message,
                "function_call": self._tool_call,
                "custom_tool_call": self._tool_call,
                "function_call_output": self._tool_output,
                "custom_tool_call_output": self._tool_output,
                **dict.fromkeys(COMPACTION_ITEMS, self._compacted),
            },
        }

    # -- accounting helpers ------------------------------------------------------------------

    def _reject(self, line: int, reason: str, record: dict) -> None:
        # Rare path: the record is re-serialized only to keep it aside.
        self.acc.reject(line, reason, orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS))

    def _defer(self, line: int, source: str) -> None:
        if self.first_line is None:
            self.first_line = line
        self.deferred.append(source)

    def _ts(self, record: dict) -> datetime | None:
        """The record's timestamp; null when missing or unparseable (as TraceLab)."""
        raw = record.get("timestamp")
        if type(raw) is not str:
            if raw is None:
                return None
            raise _Reject("timestamp is not a string")
        try:
            # Python 3.11 reads a trailing Z itself; same result as parse_ts, one call less.
            ts = _fromisoformat(raw)
        except ValueError:
            ts = parse_ts(raw)
            if ts is None:
                if raw:
                    self.acc.flag("unparseable timestamp kept as null")
                return None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        if ts < EARLIEST:
            raise _Reject("timestamp before 2023-01-01")
        if ts > self.latest:
            raise _Reject("timestamp in the future")
        if self.first_ts is None:
            self.first_ts = ts
        return ts

    # -- dispatch ------------------------------------------------------------------------------

    def feed(self, line: int, record: dict) -> None:
        """Use, defer to the next step, ignore or reject one record."""
        try:
            rtype = record.get("type")
            payload = record.get("payload")
            if type(payload) is not dict:
                payload = {}  # as TraceLab
            by_subtype = self.nested.get(rtype)
            if by_subtype is not None:
                ptype = payload.get("type")
                handler = by_subtype.get(ptype)
                if handler is not None:
                    handler(line, record, payload)
                    return
                key = _IGNORED_KEY.get((rtype, ptype))
                self.acc.ignore(
                    key if key is not None else f"unknown:{kind_label(rtype)}.{kind_label(ptype)}"
                )
                return
            if "payload" not in record and (key := self._pre_envelope(line, record, rtype)):
                self.acc.ignore(key)
                return
            if type(rtype) is not str:
                raise _Reject("record without a string type")
            if payload.get("type") == "task_started":
                self._task_started(line, record, payload)
                return
            handler = self.handlers.get(rtype)
            if handler is not None:
                handler(line, record, payload)
            else:
                self.acc.ignore(f"unknown:{kind_label(rtype)}")
        except _Reject as bad:
            self._reject(line, str(bad), record)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            # Last resort for a shape nobody anticipated: lose the record, not the file.
            self._reject(line, f"unreadable record ({type(exc).__name__}: {exc})", record)

    def _pre_envelope(self, line: int, record: dict, rtype) -> str | None:
        """The ignored-count key of a line of a rollout written before the type/payload
        envelope (mid 2025), else None. Such files log no token usage, so they give no
        steps (TraceLab reads nothing from them either); their lines are valid, not bad."""
        if rtype is None:
            tag = record.get("record_type")
            if tag == "state":
                return "legacy.state"
            if tag == "event":  # a variant that tagged lines with record_type
                msg = record.get("msg")
                return (
                    f"legacy.event_msg.{kind_label(msg.get('type') if type(msg) is dict else None)}"
                )
            # Only the first record (after blank lines) is the header; a later one is bad.
            if self.acc.ignored_by_type["blank"] == line - 1 and is_pre_envelope_header(record):
                self.acc.flag("pre-envelope Codex rollout (mid 2025): no token usage, no steps")
                return "legacy.session_header"
            return None
        if type(rtype) is str and rtype in _BARE_ITEM_KINDS:
            return f"legacy.response_item.{rtype}"
        return None

    # -- identity and turns --------------------------------------------------------------------

    def _session_meta(self, line: int, record: dict, p: dict) -> None:
        sid = p.get("id")
        if type(sid) is not str or not sid:
            raise _Reject("session_meta without a string id")
        ts = self._ts(record)
        cwd = p.get("cwd")
        if type(cwd) is str and cwd:
            self.cwd = cwd
        if sid not in self.metas:
            self.metas[sid] = _read_meta(p, ts)
        meta = self.metas[sid]
        if self.file_id is None:
            self.file_id = sid
            self.parent_id = (meta.spawn_parent if meta.replays else None) or meta.forked_from
            self.derived = self.parent_id is not None
            if self.parent_id:
                self.ancestors.add(self.parent_id)
        elif sid != self.file_id and self.derived:
            # Replayed parent history (§4.3); forks are handled the same way (our fix).
            self.parent_id = sid
            self.ancestors.add(sid)
        self.session_by_turn.clear()
        self.acc.use()

    def _turn_context(self, line: int, record: dict, p: dict) -> None:
        values = [p.get("turn_id"), p.get("model"), p.get("cwd")]
        if any(v and type(v) is not str for v in values):
            raise _Reject("turn_context with a non-string turn_id/model/cwd")
        turn, model, cwd = values
        if turn:
            self.turn_id = turn
        if model:
            self.model = model
        if cwd:
            self.cwd = cwd
        self.acc.use()

    def _task_started(self, line: int, record: dict, p: dict) -> None:
        self.review_exit = False
        turn = p.get("turn_id")
        if turn and type(turn) is not str:
            raise _Reject("task_started with a non-string turn_id")
        if turn:
            self.turn_id = turn
        self.acc.use()

    def _exited_review_mode(self, line: int, record: dict, p: dict) -> None:
        self.review_exit = True
        self.acc.ignore("event_msg.exited_review_mode")

    def _compacted(self, line: int, record: dict, p: dict) -> None:
        self.compaction = True
        kind = record.get("type")
        self._defer(line, kind if kind == "compacted" else f"{kind}.{p.get('type')}")

    # -- inputs and outputs ----------------------------------------------------------------------

    def _user_message(self, line: int, record: dict, p: dict) -> None:
        self.review_exit = False
        ts = self._ts(record)
        message = p.get("message")
        chars = len(message) if type(message) is str else content_chars(message)
        ev = self.blank_event.copy()
        ev[E_EVENT_TYPE] = "user_message"
        ev[E_TIMESTAMP] = ts
        ev[E_SOURCE] = "event_msg.user_message"
        ev[E_CONTENT_CHARS] = chars
        self.pending.append(ev)
        self._defer(line, "event_msg.user_message")

    def _reasoning(self, line: int, record: dict, p: dict) -> None:
        self.review_exit = False
        ts = self._ts(record)
        source = "response_item.reasoning"
        ev = self.blank_event.copy()
        ev[E_EVENT_TYPE] = "reasoning"
        ev[E_TIMESTAMP] = ts
        ev[E_SOURCE] = source
        self.segment.append(ev)
        self._defer(line, source)

    def _message(self, line: int, record: dict, p: dict) -> None:
        role = p.get("role")
        if role != "assistant":
            self.acc.ignore(f"response_item.message(role={kind_label(role)})")
            return
        if self.review_exit:
            # The review's findings, recorded into this thread as an assistant message when
            # /review ends: the review model wrote them in its own thread (its own rollout,
            # its usage never reported here), so here they are no output of any step. Kept,
            # the text would be carried into the next step, hours later perhaps.
            self.review_exit = False
            self.acc.ignore("response_item.message(review result)")
            return
        ts = self._ts(record)
        chars = content_chars(p.get("content"))
        ev = self.blank_event.copy()
        ev[E_EVENT_TYPE] = "text"
        ev[E_TIMESTAMP] = ts
        ev[E_SOURCE] = "response_item.message"
        ev[E_CONTENT_CHARS] = chars
        self.segment.append(ev)
        self._defer(line, "response_item.message")

    def _tool_call(self, line: int, record: dict, p: dict) -> None:
        self.review_exit = False
        kind = p.get("type")
        call_id = p.get("call_id")
        if type(call_id) is not str:
            raise _Reject(f"{kind} without a string call_id")
        if call_id in self.tools:
            # A re-emitted id stays with its first call (TraceLab B12).
            self.acc.ignore(f"response_item.{kind}(repeated call_id)")
            return
        ts = self._ts(record)
        raw_input = p.get("arguments") if kind == "function_call" else p.get("input")
        if raw_input is None or type(raw_input) is str:
            input_json = raw_input
        else:
            input_json = orjson.dumps(raw_input).decode()
        name = p.get("name")
        tool = _Tool(
            len(self.segment_tools),
            name if type(name) is str else None,
            call_id,
            ts,
            input_json,
            content_chars(raw_input),
        )
        self.segment_tools.append(tool)
        self.tools[call_id] = tool
        source = _CALL_SOURCE[kind]
        ev = self.blank_event.copy()
        ev[E_EVENT_TYPE] = "tool_call"
        ev[E_TIMESTAMP] = ts
        ev[E_SOURCE] = source
        ev[E_TOOL_CALL_ID] = call_id
        ev[E_TOOL_INDEX] = tool.index
        ev[E_TOOL_NAME] = tool.name
        self.segment.append(ev)
        self._defer(line, source)

    # -- tool results ------------------------------------------------------------------------------

    def _tool_output(self, line: int, record: dict, p: dict) -> None:
        output = p.get("output")
        header = _runner_header(output)
        if header is None:
            is_error, json_ms = _inspect_output(output)
            wall_ms = _UNSET
        else:
            code, wall_ms = header
            is_error, json_ms = code != 0, None
        self._result(
            line,
            record,
            p,
            _OUTPUT_SOURCE[p.get("type")],
            output,
            len(output) if type(output) is str else content_chars(output),
            is_error,
            None,
            json_ms,
            wall_ms,
        )

    def _exec_command_end(self, line: int, record: dict, p: dict) -> None:
        output = p.get("aggregated_output")
        code = p.get("exit_code")
        is_error = code != 0 if isinstance(code, int) else None
        self._result(
            line,
            record,
            p,
            "event_msg.exec_command_end",
            output,
            content_chars(output),
            is_error,
            _duration_ms(p.get("duration")),
            None,
        )

    def _patch_apply_end(self, line: int, record: dict, p: dict) -> None:
        stdout, stderr = p.get("stdout"), p.get("stderr")
        output = (stdout if type(stdout) is str else "") + (stderr if type(stderr) is str else "")
        success = p.get("success")
        is_error = (not success) if type(success) is bool else None
        self._result(
            line,
            record,
            p,
            "event_msg.patch_apply_end",
            output,
            len(output),
            is_error,
            None,
            None,
        )

    def _mcp_tool_call_end(self, line: int, record: dict, p: dict) -> None:
        """An MCP tool's own run time, our internal-latency fallback as exec_command_end's
        duration is (B9). TraceLab reads nothing here, so it is no result record: no event,
        no result_at, no error inference."""
        call_id = p.get("call_id")
        tool = self.tools.get(call_id) if type(call_id) is str else None
        if tool is None:
            self.acc.ignore("event_msg.mcp_tool_call_end(unknown call_id)")
            return
        exec_ms = _duration_ms(p.get("duration"))
        if tool.exec_ms is None and exec_ms is not None:
            tool.exec_ms = exec_ms
            tool.exec_source = "mcp_tool_call_end"
        if tool.emitted:
            self.acc.used += 1
        else:
            self._defer(line, "event_msg.mcp_tool_call_end")

    def _result(
        self, line, record, p, source, output, chars, is_error, exec_ms, json_ms, wall_ms=_UNSET
    ) -> None:
        """A tool's result record; `wall_ms` is the output's Wall time when already known."""
        call_id = p.get("call_id")
        if type(call_id) is not str:
            if call_id is None:
                # Newer clients may leave an output's call_id out; TraceLab finds no tool then.
                self.acc.ignore(f"{source}(no call_id)")
                return
            raise _Reject(f"{source} without a string call_id")
        tool = self.tools.get(call_id)
        if tool is None:
            # TraceLab ignores results of unknown calls completely (B4, B16).
            self.acc.ignore(f"{source}(unknown call_id)")
            return
        ts = self._ts(record)
        first = not tool.result_seen
        if first:
            tool.result_seen = True
            tool.result_at = ts
        if tool.result_chars is None:
            tool.result_chars = chars
        if tool.wall_ms is None:
            emitted = tool.emitted_at
            if emitted is not None and ts is not None:
                tool.wall_ms = round((ts - emitted).total_seconds() * 1000)  # delta_ms
        if tool.internal_ms is None:
            # Any result record's output may carry the runner's Wall time line (§4.5).
            tool.internal_ms = _wall_time_ms(output) if wall_ms is _UNSET else wall_ms
        if tool.exec_ms is None and exec_ms is not None:
            tool.exec_ms = exec_ms
            tool.exec_source = "exec_command_end"
        if tool.json_ms is None:
            tool.json_ms = json_ms
        if is_error is not None:
            tool.is_error = is_error
        if first:
            ev = self.blank_event.copy()
            ev[E_EVENT_TYPE] = "tool_result"
            ev[E_TIMESTAMP] = ts
            ev[E_SOURCE] = source
            ev[E_TOOL_CALL_ID] = call_id
            ev[E_IS_ERROR] = tool.is_error
            ev[E_RESULT_CHARS] = tool.result_chars
            self.pending.append(ev)
        if tool.emitted:
            self.acc.used += 1
        else:
            self._defer(line, source)

    # -- usage reports close a step ------------------------------------------------------------

    def _token_count(self, line: int, record: dict, p: dict) -> None:
        if "info" not in p:
            self.acc.ignore("event_msg.token_count(no info)")
            if "input_tokens" in p:
                # Usage flat on the payload, as Codex's older event stream wrote it; not a
                # step for TraceLab either (§4.4), but worth seeing in the accounting.
                self.acc.flag("codex token_count with flat usage (no info) not used")
            return
        info = p["info"]
        if info is None:
            self.acc.ignore("event_msg.token_count(info=null)")
            return
        last = info.get("last_token_usage") if type(info) is dict else None
        total = info.get("total_token_usage") if type(info) is dict else None
        if type(last) is not dict or type(total) is not dict:
            raise _Reject("token_count without last/total_token_usage objects")
        if total == self.last_total:
            self.acc.ignore("event_msg.token_count(repeat)")
            return
        get = last.get
        counts = i, c, o, r = (
            get("input_tokens"),
            get("cached_input_tokens"),
            get("output_tokens"),
            get("reasoning_output_tokens"),
        )
        # Common case first, without a loop: four plain ints in range. Anything else (nulls,
        # wrong types, out of range) goes through the per-key checks in _TOKEN_KEYS order.
        if not (
            type(i) is int
            and type(c) is int
            and type(o) is int
            and type(r) is int
            and 0 <= i <= MAX_TOKENS
            and 0 <= c <= MAX_TOKENS
            and 0 <= o <= MAX_TOKENS
            and 0 <= r <= MAX_TOKENS
        ):
            counts = [_token_count_value(get(key), key) for key in _TOKEN_KEYS]
        ts = self._ts(record)
        self.last_total = total
        if not any(counts):
            # Codex fills the window this way when the context overflows (only total_tokens
            # set); TraceLab keeps it as a round, and so do we, visibly.
            self.acc.flag("codex token_count with zero usage kept as a step")
        self._close_step(line, ts, *counts)
        self.acc.used += 1

    def _close_step(self, line, ts, input_tokens, cached, output, reasoning) -> None:
        turn = self.turn_id if self.turn_id is not None else self.stem
        k = self.turn_counts[turn]
        self.turn_counts[turn] = k + 1
        sid = self._session_for_step()
        index = self.session_counts[sid]
        self.session_counts[sid] = index + 1
        events = self.pending + self.segment
        ev = self.blank_event.copy()
        ev[E_EVENT_TYPE] = "usage_report"
        ev[E_TIMESTAMP] = ts
        ev[E_SOURCE] = "event_msg.token_count"
        events.append(ev)
        append = max(0, input_tokens - cached)
        reported = None
        if cached > input_tokens:
            # Our contract keeps input_tokens_total = prefix + append; the logged value is kept
            # beside it so a TraceLab export still carries it.
            reported = input_tokens
            self.acc.flag("codex cached_input_tokens > input_tokens")
        for tool in self.segment_tools:
            tool.emitted = True
        # The step row is built now, as a copy of the file's template (in its final column
        # order; half the cost of a 35-key literal); the session lineage columns are filled in
        # by finish(), once every session_meta has been seen.
        round_id = f"{turn}:{k}"
        step = self.blank_step.copy()
        step[S_STEP_ID] = f"codex:{sid}:{round_id}"
        step[S_SESSION_ID] = sid
        step[S_CWD] = self.cwd
        step[S_SOURCE_LINE] = self.first_line if self.first_line is not None else line
        step[S_STEP_INDEX] = index
        step[S_ROUND_ID] = round_id
        step[S_TURN_ID] = self.turn_id
        step[S_MODEL] = self.model
        step[S_INPUT_TOKENS_TOTAL] = cached + append
        step[S_REPORTED_INPUT_TOKENS] = reported
        step[S_PREFIX_TOKENS] = cached
        step[S_APPEND_TOKENS] = append
        step[S_OUTPUT_TOKENS] = output
        step[S_REASONING_TOKENS] = reasoning
        step[S_AFTER_COMPACTION] = self.compaction
        step[S_USAGE_AT] = ts
        step[S_TOOL_CALL_COUNT] = len(self.segment_tools)
        self.rounds.append((step, events, self.segment_tools))
        self.acc.used += len(self.deferred)
        self.deferred = []
        self.pending = []
        self.segment = []
        self.segment_tools = []
        self.first_line = None
        self.compaction = False
        self.review_exit = False

    def _session_for_step(self) -> str:
        if self.file_id is None:
            return self.stem
        if not self.derived:
            return self.file_id
        turn = self.turn_id
        sid = self.session_by_turn.get(turn)
        if sid is None:
            sid = self.session_by_turn[turn] = self._replayed_session(turn)
        return sid

    def _replayed_session(self, turn) -> str:
        """The session a step of a derived rollout belongs to (see the module docstring)."""
        if type(turn) is str:
            if turn >= self.file_id:
                return self.file_id
            older = [s for s in self.ancestors if s <= turn]
            if older:
                return max(older)
        return self.parent_id

    # -- end of file ---------------------------------------------------------------------------

    def finish(self, result: FileResult) -> None:
        if self.deferred:
            for source in self.deferred:
                self.acc.ignore(f"dropped_at_eof:{source}")
            # (a compaction marker alone defers a line but holds no event: no empty flag)
            if dropped := len(self.pending) + len(self.segment):
                self.acc.flag("events dropped at end of file (no closing token_count)", dropped)
        contributor = self.acc.contributor
        steps = result.rows["steps"]
        tool_calls = result.rows["tool_calls"]
        timing_events = result.rows["timing_events"]
        lineage_cache: dict[str, tuple] = {}
        for step, events, tools in self.rounds:
            sid = step[S_SESSION_ID]
            lineage = lineage_cache.get(sid)
            if lineage is None:
                lineage = lineage_cache[sid] = self._lineage(sid)
            root, parent, agent_id, sidechain, started, version, branch = lineage
            step_id = step[S_STEP_ID]
            step[S_ROOT_SESSION_ID] = root
            step[S_PARENT_SESSION_ID] = parent
            step[S_AGENT_ID] = agent_id
            step[S_IS_SIDECHAIN] = sidechain
            step[S_GIT_BRANCH] = branch
            step[S_SESSION_STARTED_AT] = started
            step[S_CLIENT_VERSION] = version
            summarize_into(step, events, step_id)
            steps.append(step)
            timing_events += events
            for tool in tools:
                internal = tool.internal_ms
                if internal is not None:
                    source = "wall_time_line"
                elif tool.exec_ms is not None:
                    internal, source = tool.exec_ms, tool.exec_source
                elif tool.json_ms is not None:
                    internal, source = tool.json_ms, "output_metadata"
                else:
                    source = None
                # A list literal in tool_calls column order (formats/rows.py).
                tool_calls.append(
                    [
                        step_id,
                        contributor,
                        sid,
                        tool.index,
                        tool.name,
                        tool.call_id,
                        tool.emitted_at,
                        tool.result_at,
                        tool.wall_ms,
                        internal,
                        tool.is_error,
                        tool.input_chars,
                        tool.result_chars,
                        tool.input_json,
                        None,
                        source,
                    ]
                )
        # The dispatch tables hold bound methods, a reference cycle through the whole file
        # state; breaking it lets reference counting free the file now, not a later GC pass.
        self.handlers = self.nested = None

    def _lineage(self, sid: str) -> tuple:
        """(root, parent, agent_id, is_sidechain, session_started_at, client_version, branch)."""
        meta = self.metas.get(sid)
        own = self.metas.get(self.file_id) if self.file_id else None
        parent = agent_id = None
        sidechain = False
        root = sid
        if meta is not None:
            if meta.spawn_parent:
                parent, agent_id, sidechain = meta.spawn_parent, sid, True
                # The file rarely holds every ancestor's session_meta; the client's own
                # session_id names the root of a deeper tree.
                root = meta.session_root or self._root(sid)
            elif meta.subagent:
                agent_id, sidechain = sid, True
                root = meta.session_root or sid
            elif meta.forked_from:
                # A fork is a new main chain of its own, linked to the session it came from.
                parent = meta.forked_from
        root_meta = self.metas.get(root)
        started = None
        for m in (root_meta, meta):
            if m is not None and m.started_at is not None:
                started = m.started_at
                break
        if started is None:
            started = self.first_ts
        source_meta = meta or own
        version = source_meta.cli_version if source_meta else None
        branch = source_meta.branch if source_meta else None
        return root, parent, agent_id, sidechain, started, version, branch

    def _root(self, sid: str) -> str:
        seen = {sid}
        while True:
            meta = self.metas.get(sid)
            parent = meta.spawn_parent if meta is not None else None
            if not parent or parent in seen:
                return sid
            seen.add(parent)
            sid = parent


def _token_count_value(value, key: str) -> int:
    if value is None:
        return 0
    if type(value) is not int:
        raise _Reject(f"last_token_usage.{key} is not an integer")
    if value < 0:
        raise _Reject(f"negative last_token_usage.{key}")
    if value > MAX_TOKENS:
        raise _Reject(f"absurd last_token_usage.{key} (> 1e12)")
    return value


def _read_meta(p: dict, record_ts: datetime | None) -> _Meta:
    started = parse_ts(p.get("timestamp"))
    if started is None or not EARLIEST <= started <= latest_plausible():
        started = record_ts
    source = p.get("source")
    spawn_parent = None
    subagent = False
    if type(source) is dict and source.get("subagent") is not None:
        subagent = True
        sub = source["subagent"]
        spawn = sub.get("thread_spawn") if type(sub) is dict else None
        parent = spawn.get("parent_thread_id") if type(spawn) is dict else None
        if type(parent) is str and parent:
            spawn_parent = parent
    # Clients since mid 2026 also mark sub-agents with `thread_source: "subagent"` and name the
    # parent at the top level (`parent_thread_id`); review, guardian and v2 multi-agent
    # children name it only there (some write no `source` at all). Without this they were
    # sidechains with no parent, or main chains of their own, and a child that copies its
    # parent's history counted that history a second time.
    if p.get("thread_source") == "subagent":
        subagent = True
    sid = p.get("id")
    # A thread_spawn child may copy its parent's history (its replayed turns then go to the
    # parent, by turn id); one named only at the top level does so when it says where its own
    # history starts (`subagent_history_start_ordinal`). Review and guardian children start
    # afresh: all their steps are theirs, whatever their turn ids.
    replays = spawn_parent is not None
    if subagent and spawn_parent is None:
        parent = p.get("parent_thread_id")
        if type(parent) is str and parent and parent != sid:
            spawn_parent = parent
            replays = "subagent_history_start_ordinal" in p
    root = p.get("session_id")
    root = root if subagent and type(root) is str and root and root != sid else None
    forked = p.get("forked_from_id")
    if forked is None and not subagent:
        # A paginated rollout (Codex 0.146+) that continues another thread's history names
        # it only in `history_base` (its own id there is a revision of the same thread).
        base = p.get("history_base")
        forked = base.get("thread_id") if type(base) is dict else None
        forked = forked if forked != sid else None
    git = p.get("git")
    branch = git.get("branch") if type(git) is dict else None
    version = p.get("cli_version")
    return _Meta(
        started,
        version if type(version) is str else None,
        spawn_parent,
        subagent,
        forked if type(forked) is str and forked else None,
        branch if type(branch) is str else None,
        root,
        replays,
    )


def _wall_time_ms(output) -> int | None:
    """The runner's "Wall time: S seconds" line, in ms (TraceLab's internal latency).

    Same result as `_WALL_TIME.search`, found with `_find`: regex scanning of large outputs
    was the reader's hottest spot.
    """
    if type(output) is not str:
        return None
    pos = _find(output, "Wall time:", 0, len(output))
    while pos >= 0:
        if pos == 0 or output[pos - 1] == "\n":
            match = _WALL_TIME_TAIL.match(output, pos + 10)
            if match:
                return _seconds_to_ms(float(match.group(1)))
        pos = _find(output, "Wall time:", pos + 1, len(output))
    return None


def _runner_header(output) -> tuple[int, int | None] | None:
    """(exit code, Wall time in ms) when the output starts with a standard runner header."""
    match = _HEADER.match(output) if type(output) is str else None
    if match is None:
        return None
    seconds, code, other_code, other_seconds = match.groups()
    if seconds is None:
        seconds, code = other_seconds, other_code
    ms = float(seconds) * 1000  # _seconds_to_ms, written out: this runs per tool output
    return int(code), round(ms) if ms <= _MAX_MS else None


def _exit_code(output: str) -> int | None:
    """First match of `_EXIT_CODE` in the output, located with `_find` (see _wall_time_ms)."""
    start = 0
    end = len(output)
    while True:
        process = _find(output, "Process exited with code", start, end)
        # "Exit code" only matters if it comes first, so search no further than that.
        exit_ = _find(output, "Exit code", start, process if process >= 0 else end)
        if exit_ >= 0:
            pos, skip = exit_, 9
        elif process >= 0:
            pos, skip = process, 24
        else:
            return None
        match = _EXIT_CODE_TAIL.match(output, pos + skip)
        if match:
            return int(match.group(1))
        start = pos + 1


def _find(text: str, phrase: str, start: int, end: int) -> int:
    """`text.find(phrase, start, end)`, found by looking for the phrase's first letter.

    str.find skips ahead one character at a time while the text is made of letters that occur
    in the phrase (a filter CPython uses), so "Wall time:" in ordinary output runs at ~1.5 ns
    a character; a single character is found with memchr, and the phrases here start with a
    capital letter, which is rare in output. Same result as str.find.
    """
    first = phrase[0]
    last = end - len(phrase) + 1  # the phrase must end by `end`
    if last <= start:  # (and a negative bound would count from the end of the text)
        return -1
    pos = text.find(first, start, last)
    while pos >= 0:
        if text.startswith(phrase, pos):
            return pos
        pos = text.find(first, pos + 1, last)
    return -1


def _inspect_output(output) -> tuple[bool | None, int | None]:
    """(is_error, JSON metadata duration ms) of a *_output payload (§4.5)."""
    if type(output) is not str:
        return None, None
    code = _exit_code(output)
    is_error = None if code is None else code != 0
    json_ms = None
    head = output[:1]
    if head == "{" or (head.isspace() and output.lstrip()[:1] == "{"):
        try:
            parsed = orjson.loads(output)
        except orjson.JSONDecodeError:
            parsed = None
        meta = parsed.get("metadata") if type(parsed) is dict else None
        if type(meta) is dict:
            if is_error is None:
                code, success = meta.get("exit_code"), meta.get("success")
                if isinstance(code, int):
                    is_error = code != 0
                elif type(success) is bool:
                    is_error = not success
            seconds = meta.get("duration_seconds")
            if type(seconds) in (int, float) and seconds >= 0:
                json_ms = _seconds_to_ms(float(seconds))
    return is_error, json_ms


def _duration_ms(duration) -> int | None:
    """exec_command_end.duration, serialized as {"secs": s, "nanos": n}."""
    if type(duration) is not dict:
        return None
    secs, nanos = duration.get("secs"), duration.get("nanos", 0)
    if type(secs) is not int or type(nanos) is not int or secs < 0 or nanos < 0:
        return None
    if secs > _MAX_MS // 1000 or nanos > _MAX_MS:
        return None
    return round(secs * 1000 + nanos / 1e6)


def _seconds_to_ms(seconds: float) -> int | None:
    ms = seconds * 1000
    return round(ms) if ms <= _MAX_MS else None  # also drops inf
