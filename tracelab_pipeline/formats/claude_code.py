"""Claude Code session log (one JSONL file, plain or gzip) -> steps, tool calls, timing events.

Follows tracelab-ingest §3 (records, rounds, inputs, tools), §5.1 (tokens) and §6/§7 (row fields)
so our numbers equal TraceLab's, except where architecture §9 says we differ on purpose:
sidechains and sub-agents are their own threads (claude_threads.py), every line is accounted
for, and one bad record never loses the file.

Files are streamed: per record we keep only sizes, timestamps and the few ids we need; steps
are held until the end of the file because a message id may reappear anywhere in it (§3.2).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import orjson

from tracelab_pipeline.formats.claude_threads import (
    REASONING,
    TEXT,
    TOOL_CALL,
    TOOL_RESULT,
    USER_MESSAGE,
    Thread,
    chars,
    json_text,
    step_rows,
)
from tracelab_pipeline.formats.common import EARLIEST, delta_ms, gc_paused, kind_label
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
    T_CALL_ID,
    T_EMITTED_AT,
    T_INPUT_CHARS,
    T_INPUT_JSON,
    T_INTERNAL_LATENCY_MS,
    T_INTERNAL_LATENCY_SOURCE,
    T_IS_ERROR,
    T_RESULT_AT,
    T_RESULT_CHARS,
    T_TOOL_INDEX,
    T_TOOL_NAME,
    T_WALL_LATENCY_MS,
    blank,
)

PROVIDER = "claude"
SYNTHETIC = "<synthetic>"
MAX_TOKENS = 10**12  # more in one call is corruption (and would not fit int64 sums)

# Record types Claude Code writes that carry no LLM call; counted as ignored under their name.
# Newer clients keep adding such types (titles, agent settings, context-collapse and
# attribution state, ...); any other is still ignored, as "unknown:<type>", never rejected.
KNOWN_TYPES = frozenset(
    {
        "summary",
        "file-history-snapshot",
        "file-history-delta",
        "mode",
        "permission-mode",
        "attachment",
        "progress",
        "last-prompt",
        "ai-title",
        "custom-title",
        "task-summary",
        "agent-name",
        "agent-color",
        "agent-setting",
        "queue-operation",
        "tag",
        "pr-link",
        "worktree-state",
        "bridge-session",
        "atis-latch",
        "attribution-snapshot",
        "content-replacement",
        "marble-origami-commit",
        "marble-origami-snapshot",
        "speculation-accept",
        "cost-state",
        "continued-in",
        "relocated",
        "frame-link",
        "history-suppression",
        "turn_end",
    }
)

_USAGE_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
_DURATION_MS_KEYS = ("durationMs", "duration_ms")
_DURATION_S_KEYS = ("durationSeconds", "duration_seconds")
_DURATION_KEYS = frozenset(_DURATION_MS_KEYS + _DURATION_S_KEYS)
# Excludes inf/NaN (round() would raise) and nonsense beyond a year of runtime.
_MAX_DURATION = 365 * 24 * 3600 * 1000


class BadRecord(Exception):
    """A record that is JSON but not a usable Claude Code record; the message is the reason."""


def read_claude_code(
    path: str | Path,
    contributor: str = "local",
    *,
    origin: str | Path | None = None,
    stream: IO[bytes] | None = None,
) -> FileResult:
    """Read one Claude Code session or sub-agent file into schema rows; never raises on content.

    `origin` is the file's path as the client wrote it (e.g. `<project>/<uuid>/subagents/
    agent-<id>.jsonl`) when `path` is a renamed copy such as a content-addressed landed object;
    the project name and the sub-agent layout are read from it instead of from `path`.
    """
    source = str(path)
    acc = Accounting(source, contributor)
    reader = ClaudeFileReader(source, contributor, acc, origin)
    error = None
    try:
        with gc_paused(), opened(path, stream) as lines:
            feed_records(lines, acc, reader.feed)
    except (OSError, EOFError, zlib.error) as exc:
        error = acc.stopped(exc)
    result = FileResult(source, PROVIDER, acc, error=error)
    with gc_paused():
        reader.finish(result)
    return result


def file_layout(path: Path) -> dict:
    """What the path says: project dir, and whether this is a sub-agent transcript."""
    name = log_stem(path.name)
    layout = {"stem": name, "agent_id": None, "parent": None, "project": path.parent.name or None}
    if name.startswith("agent-") and len(name) > len("agent-"):
        layout["agent_id"] = name[len("agent-") :]
        if path.parent.name == "subagents":
            # <project>/<session uuid>/subagents/agent-<id>.jsonl
            layout["parent"] = path.parent.parent.name or None
            layout["project"] = path.parent.parent.parent.name or None
    return layout


class ClaudeFileReader:
    """Feeds the records of one file into its threads; `finish` turns them into rows."""

    def __init__(self, source: str, contributor: str, acc: Accounting, origin=None):
        self.source = source
        self.contributor = contributor
        self.acc = acc
        self.layout = file_layout(Path(origin if origin is not None else source))
        # A sub-agent file is one thread even though every record says isSidechain.
        self.single_thread = self.layout["agent_id"] is not None
        # Main chains by sessionId: a resumed session's file starts with history copied from the
        # earlier session under that session's id, so those steps keep their original step_id.
        self.root: str | None = None
        self.main_threads: dict[str | None, Thread] = {}
        self.main_thread: Thread | None = None  # main_threads[current root], once looked up
        self.side_threads: dict[str, Thread] = {}
        self.side_chain: dict[str, str] = {}  # sidechain record uuid -> thread key
        self.side_agent: dict[str, bool] = {}  # thread key -> keyed by a real agentId
        self.tool_by_id: dict[str, dict] = {}
        self.started: dict[str | None, datetime] = {}
        self.main_records = 0
        self.latest = datetime.now(UTC) + timedelta(days=1)
        self._last_ts_raw = None
        self._last_ts = None
        # Every event row starts as a copy of this one (a list row, formats/rows.py): copying
        # it costs a fraction of a call that builds a row, per content block.
        self.blank_event = blank("timing_events", contributor)
        self.blank_tool = blank("tool_calls", contributor)  # likewise for tool_calls rows

    # -- per record -------------------------------------------------------------------------

    def feed(self, line: int, rec: dict) -> None:
        sid = rec.get("sessionId")
        if sid != self.root and isinstance(sid, str) and sid:
            self._switch_root(sid)
        if self.root not in self.started:
            self._note_start(rec.get("timestamp"))
        side_key = None
        if rec.get("isSidechain") is True and not self.single_thread:
            side_key = self._chain_key(line, rec)
        kind = rec.get("type")
        used = self.acc.used
        try:
            if kind == "assistant":
                self._assistant(line, rec, side_key)
            elif kind == "user" or _user_message(rec):
                # The message, not the type, makes an input (tracelab-ingest §3.1): a record
                # with a user-role message and no (or another) type is read as TraceLab does.
                self._user(line, rec, side_key)
            else:
                self._other(rec, kind, side_key)
        except BadRecord as bad:
            self.acc.reject(line, str(bad), _raw(rec))
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            # Last resort for a shape nobody anticipated: lose the record, not the file, and
            # keep the line counted once even if it had already been counted as used.
            self.acc.used = used
            self.acc.reject(line, f"unreadable record ({type(exc).__name__}: {exc})", _raw(rec))

    def _switch_root(self, sid: str) -> None:
        if self.root is None and not self.single_thread:
            # Records before the first sessionId belong to that session.
            if None in self.main_threads and sid not in self.main_threads:
                thread = self.main_threads.pop(None)
                thread.root = sid
                self.main_threads[sid] = thread
            if None in self.started:
                self.started.setdefault(sid, self.started.pop(None))
        self.root = sid
        self.main_thread = None

    def _note_start(self, value) -> None:
        try:
            ts = self._timestamp(value)
        except BadRecord:
            return
        if ts is not None:
            self.started[self.root] = ts

    def _chain_key(self, line: int, rec: dict) -> str:
        """Which inline sidechain a record belongs to: its agentId, else the chain it hangs off."""
        agent = rec.get("agentId")
        uuid = rec.get("uuid")
        if isinstance(agent, str) and agent:
            key = agent
            self.side_agent[key] = True
        else:
            parent = rec.get("parentUuid")
            key = self.side_chain.get(parent) if isinstance(parent, str) else None
            if key is None:
                # First record of a new sidechain (a Task prompt has parentUuid null).
                key = uuid if isinstance(uuid, str) and uuid else f"line{line}"
                self.side_agent.setdefault(key, False)
        if isinstance(uuid, str):
            self.side_chain[uuid] = key
        return key

    def _thread(self, side_key: str | None) -> Thread:
        if side_key is None:
            root = None if self.single_thread else self.root
            thread = self.main_threads.get(root)
            if thread is None:
                thread = self.main_threads[root] = Thread(None, root)
            self.main_thread = thread
            return thread
        thread = self.side_threads.get(side_key)
        if thread is None:
            thread = self.side_threads[side_key] = Thread(side_key, self.root)
        return thread

    def _timestamp(self, value) -> datetime | None:
        if value is None:
            return None
        if value == self._last_ts_raw:
            return self._last_ts
        if not isinstance(value, str):
            raise BadRecord(f"timestamp is {type(value).__name__}, not a string")
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise BadRecord(f"unparseable timestamp {value[:40]!r}") from None
        # Mixed naive/aware logs exist; naive means UTC (TraceLab loses such files, B11).
        # A trailing Z already gives UTC itself: no conversion to pay for.
        tz = ts.tzinfo
        if tz is not UTC:
            ts = ts.replace(tzinfo=UTC) if tz is None else ts.astimezone(UTC)
        if ts < EARLIEST or ts > self.latest:
            raise BadRecord(f"implausible timestamp {value[:40]!r}")
        self._last_ts_raw = value
        self._last_ts = ts
        return ts

    def _assistant(self, line: int, rec: dict, side_key: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            raise BadRecord("assistant record without a message object")
        message_id = msg.get("id")
        model = msg.get("model")
        if message_id == SYNTHETIC or model == SYNTHETIC:
            # Placeholders (API errors, "no response"): no LLM call; pending inputs carry over.
            self.acc.ignore(
                "assistant:api_error" if rec.get("isApiErrorMessage") else "assistant:synthetic"
            )
            return
        if msg.get("role") != "assistant":
            raise BadRecord(f"assistant record with message role {_show(msg.get('role'))}")
        if not isinstance(message_id, str) or not message_id:
            if rec.get("isApiErrorMessage"):
                # An error placeholder written without the usual synthetic id and model (shapes
                # in 2026 tools' fixtures): still no LLM call, and not a bad record.
                self.acc.ignore("assistant:api_error")
                return
            raise BadRecord("assistant message without a string id")
        content = msg.get("content")
        usage = _usage(msg.get("usage"))
        ts = self._timestamp(rec.get("timestamp"))

        self.acc.used += 1
        if content.__class__ is not list:
            # Still a response with its usage (tracelab-ingest §3.2 step 3: only the content
            # blocks are skipped); plain-text content comes from some proxies and old clients.
            self.acc.flag("claude: assistant content is not a list (no output events)")
            content = ()
        if side_key is None:
            self.main_records += 1
            thread = self.main_thread
            if thread is None:
                thread = self._thread(None)
        else:
            thread = self._thread(side_key)
        # (The step lookup and usage snapshot are written out here, not as Thread/Step
        # methods: this runs for every assistant line, where a call costs as much as the
        # work done in it.)
        step = thread.by_message.get(message_id)
        # (`x.__class__ is str` below: parsed JSON has no str subclasses; cheaper than a call.)
        if step is None:
            # First record of the response; later ones only fill what it lacked.
            step = thread.new_step(message_id, line)
            get = rec.get
            step.model = model if model.__class__ is str else None
            # Some backends write "" (or nothing): no id, rather than one shared by every step.
            value = get("requestId")
            step.request_id = value if value.__class__ is str and value else None
            value = get("version")
            step.version = value if value.__class__ is str else None
            value = get("cwd")
            step.cwd = value if value.__class__ is str else None
            value = get("gitBranch")
            step.git_branch = value if value.__class__ is str else None
        else:
            if step.model is None and model.__class__ is str:
                step.model = model
            if step.request_id is None and "requestId" in rec:
                step.request_id = _str(rec.get("requestId")) or None
            if usage is not None and step.usage is not None:
                # The records of one response repeat its input counts (only the output grows
                # while it streams). Other input counts mean another API call under the same
                # id (an API fault seen in real logs): merged as TraceLab does, but counted.
                seen = step.usage[0] + step.usage[1] + step.usage[2]
                total = usage[0] + usage[1] + usage[2]
                if total and seen and total != seen:
                    self.acc.flag("claude: one message id with different input tokens (merged)")
        if usage is not None:
            # Keep the fullest snapshot: (output, input total, has stop_reason); later wins ties.
            stop_reason = msg.get("stop_reason")
            score = (usage[3], usage[0] + usage[1] + usage[2], stop_reason is not None)
            if step.score is None or score >= step.score:
                step.score = score
                step.usage = usage
                step.stop_reason = stop_reason if stop_reason.__class__ is str else None
                step.iterations = _iterations(msg["usage"])

        blank = self.blank_event
        events = step.events
        for block in content:
            if not isinstance(block, dict):
                continue
            block_type = block.get("type")
            if block_type == "thinking":
                ev = blank.copy()
                ev[E_EVENT_TYPE] = REASONING
                ev[E_TIMESTAMP] = ts
                ev[E_SOURCE] = "assistant.content.thinking"
                value = block.get("thinking")
                ev[E_CONTENT_CHARS] = len(value) if value.__class__ is str else chars(value)
                events.append(ev)
            elif block_type == "text":
                ev = blank.copy()
                ev[E_EVENT_TYPE] = TEXT
                ev[E_TIMESTAMP] = ts
                ev[E_SOURCE] = "assistant.content.text"
                value = block.get("text")
                ev[E_CONTENT_CHARS] = len(value) if value.__class__ is str else chars(value)
                events.append(ev)
            elif block_type == "tool_use":
                self._tool_use(step, block, ts)

    def _tool_use(self, step, block: dict, ts: datetime | None) -> None:
        call_id = block.get("id")
        if not isinstance(call_id, str):
            return
        tool = step.tools_by_id.get(call_id)
        if tool is None:
            name = block.get("name")
            name = name if isinstance(name, str) else None
            raw_input = block.get("input")
            input_json = None if raw_input is None else json_text(raw_input)
            tool = self.blank_tool.copy()
            tool[T_TOOL_INDEX] = len(step.tools)
            tool[T_TOOL_NAME] = name
            tool[T_CALL_ID] = call_id
            tool[T_EMITTED_AT] = ts
            # A string input (unparsed arguments) is measured as the text, not its JSON quoting
            # (tracelab-ingest §2.2).
            tool[T_INPUT_CHARS] = (
                0
                if input_json is None
                else len(raw_input)
                if raw_input.__class__ is str
                else len(input_json)
            )
            tool[T_INPUT_JSON] = input_json
            step.tools.append(tool)
            step.tools_by_id[call_id] = tool
            ev = self.blank_event.copy()
            ev[E_EVENT_TYPE] = TOOL_CALL
            ev[E_TIMESTAMP] = ts
            ev[E_SOURCE] = "assistant.content.tool_use"
            ev[E_TOOL_CALL_ID] = call_id
            ev[E_TOOL_NAME] = name
            ev[E_TOOL_INDEX] = tool[T_TOOL_INDEX]
            step.events.append(ev)
        self.tool_by_id[call_id] = tool

    def _user(self, line: int, rec: dict, side_key: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            raise BadRecord("user record without a message object")
        if msg.get("role") != "user":
            raise BadRecord(f"user record with message role {_show(msg.get('role'))}")
        content = msg.get("content")
        if not isinstance(content, (str, list)):
            raise BadRecord("user message content is neither text nor a list")
        ts = self._timestamp(rec.get("timestamp"))

        self.acc.used += 1
        if side_key is None:
            self.main_records += 1
            thread = self.main_thread
            if thread is None:
                thread = self._thread(None)
        else:
            thread = self._thread(side_key)
        if rec.get("isCompactSummary") is True:
            thread.after_compaction = True
        pending = thread.pending
        if isinstance(content, str):
            ev = self.blank_event.copy()
            ev[E_EVENT_TYPE] = USER_MESSAGE
            ev[E_TIMESTAMP] = ts
            ev[E_SOURCE] = "user.message"
            ev[E_CONTENT_CHARS] = len(content)
            pending.append(ev)
            return
        had_result = False
        internal = _UNSET
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            had_result = True
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str):
                continue
            size = chars(block.get("content"))
            is_error = bool(block.get("is_error", False))
            ev = self.blank_event.copy()
            ev[E_EVENT_TYPE] = TOOL_RESULT
            ev[E_TIMESTAMP] = ts
            ev[E_SOURCE] = "user.content.tool_result"
            ev[E_TOOL_CALL_ID] = call_id
            ev[E_RESULT_CHARS] = size
            ev[E_IS_ERROR] = is_error
            pending.append(ev)
            tool = self.tool_by_id.get(call_id)
            if tool is not None:
                if internal is _UNSET:
                    internal = _internal_latency(rec.get("toolUseResult"))
                # The last result seen for a call wins (tracelab-ingest §3.4).
                tool[T_RESULT_AT] = ts
                tool[T_RESULT_CHARS] = size
                tool[T_WALL_LATENCY_MS] = delta_ms(tool[T_EMITTED_AT], ts)
                tool[T_INTERNAL_LATENCY_MS] = internal
                tool[T_INTERNAL_LATENCY_SOURCE] = None if internal is None else "tool_use_result"
                tool[T_IS_ERROR] = is_error
        if not had_result:
            ev = self.blank_event.copy()
            ev[E_EVENT_TYPE] = USER_MESSAGE
            ev[E_TIMESTAMP] = ts
            ev[E_SOURCE] = "user.message"
            ev[E_CONTENT_CHARS] = chars(content)
            pending.append(ev)

    def _other(self, rec: dict, kind, side_key: str | None) -> None:
        if kind == "system":
            subtype = rec.get("subtype")
            if subtype == "compact_boundary":
                self._thread(side_key).after_compaction = True
            elif subtype == "microcompact_boundary":
                # Old tool results cleared from the context, no summary: not a compaction
                # (after_compaction), but the next step's input shrinks and its cached prefix
                # breaks where the first cleared result was; counted on that step.
                meta = rec.get("microcompactMetadata")
                saved = meta.get("tokensSaved") if meta.__class__ is dict else None
                ok = saved.__class__ is int and 0 <= saved <= MAX_TOKENS
                if (meta is not None and meta.__class__ is not dict) or (
                    saved is not None and not ok
                ):
                    # unknown on the step, as when unsaid; but bad input is counted
                    self.acc.flag("claude: malformed microcompactMetadata (tokens saved unknown)")
                self._thread(side_key).microcompacted(saved if ok else None)
            # (a name, as unknown types below: the key is published)
            self.acc.ignore(
                f"system:{kind_label(subtype)}" if isinstance(subtype, str) else "system"
            )
        elif kind is None:
            self.acc.ignore("unknown:<no type>")
        elif kind.__class__ is not str:
            raise BadRecord(f"record type is {type(kind).__name__}, not a string")
        elif kind in KNOWN_TYPES:
            self.acc.ignore(kind)
        else:
            self.acc.ignore(f"unknown:{kind_label(kind)}")

    # -- end of file --------------------------------------------------------------------------

    def finish(self, result: FileResult) -> None:
        """Name the threads and emit rows. Inputs still pending at the end are dropped (§3.2)."""
        layout = self.layout
        first_root = next((r for r in self.started if r is not None), None) or next(
            (r for r in self.main_threads if r is not None), None
        )
        fallback = first_root or layout["parent"] or layout["stem"]
        base = {"project": layout["project"], "source_file": self.source}
        threads: list[tuple[dict, Thread]] = []
        if self.single_thread:
            agent = layout["agent_id"]
            parent = first_root or layout["parent"]
            sid = f"{parent}/subagents/agent-{agent}" if parent else layout["stem"]
            start = min(self.started.values(), default=None)
            for thread in self.main_threads.values():
                threads.append((_identity(base, start, sid, parent or sid, parent, agent), thread))
        else:
            lone_agent = (
                self.main_records == 0
                and len(self.side_threads) == 1
                and all(self.side_agent.get(k) for k in self.side_threads)
            )
            for thread in self.main_threads.values():
                root = thread.root or fallback
                start = self.started.get(thread.root, self.started.get(first_root))
                threads.append((_identity(base, start, root, root, None, None), thread))
            for key, thread in self.side_threads.items():
                root = thread.root or fallback
                start = self.started.get(thread.root, self.started.get(first_root))
                # A sub-agent transcript that lost its file name (e.g. a content-addressed copy).
                kind = "subagents/agent-" if lone_agent else "sidechain/"
                threads.append(
                    (_identity(base, start, f"{root}/{kind}{key}", root, root, key), thread)
                )
        dropped = 0
        for identity, thread in threads:
            dropped += len(thread.pending)
            for index, step in enumerate(thread.steps):
                if step.iterations:
                    for reason in step.iterations:
                        self.acc.flag(reason)
                step_rows(
                    step,
                    index,
                    identity,
                    self.contributor,
                    result.rows["steps"],
                    result.rows["tool_calls"],
                    result.rows["timing_events"],
                )
        if dropped:
            # As TraceLab: inputs with no response after them belong to no step (B13).
            self.acc.flag("claude: input events pending at end of file", dropped)


_UNSET = object()


def _identity(
    base: dict, start, session_id: str, root: str, parent: str | None, agent: str | None
) -> dict:
    ident = dict(base)
    ident.update(
        session_id=session_id,
        root_session_id=root,
        parent_session_id=parent,
        agent_id=agent,
        is_sidechain=agent is not None,
        session_started_at=start,
    )
    return ident


def _usage(usage) -> tuple | None:
    """(uncached, cache write, cache read, output, write 5m, write 1h), or None without usage."""
    if usage.__class__ is not dict:
        if usage is None:
            return None
        raise BadRecord("usage is not an object")
    u = usage.get("input_tokens")
    w = usage.get("cache_creation_input_tokens")
    r = usage.get("cache_read_input_tokens")
    o = usage.get("output_tokens")
    if not (
        u.__class__ is int and w.__class__ is int and r.__class__ is int and o.__class__ is int
    ) or not (
        0 <= u <= MAX_TOKENS
        and 0 <= w <= MAX_TOKENS
        and 0 <= r <= MAX_TOKENS
        and 0 <= o <= MAX_TOKENS
    ):
        # Rare shapes: nulls, bools (TraceLab counts them as ints), wrong types, negatives.
        u, w, r, o = values = [_token(usage.get(key), key) for key in _USAGE_KEYS]
        if all(v is None for v in values):
            return None
        u, w, r, o = (v or 0 for v in values)
    split = usage.get("cache_creation")
    if split.__class__ is dict:
        w5 = split.get("ephemeral_5m_input_tokens")
        w1 = split.get("ephemeral_1h_input_tokens")
        if not (
            w5.__class__ is int
            and w1.__class__ is int
            and 0 <= w5 <= MAX_TOKENS
            and 0 <= w1 <= MAX_TOKENS
        ):
            w5 = _token(w5, "ephemeral_5m_input_tokens")
            w1 = _token(w1, "ephemeral_1h_input_tokens")
        return (u, w, r, o, w5, w1)
    return (u, w, r, o, None, None)


# Why a response's usage is not one model call (ClaudeFileReader.finish counts them per step).
_SUMMED_CALLS = "claude: usage sums several model calls (usage.iterations), kept as one step"
_UNCOUNTED_CALLS = "claude: usage.iterations has calls outside its totals (advisor, compaction)"


def _iterations(usage: dict) -> tuple | None:
    """What `usage.iterations` (API, 2026) says about the top-level counts TraceLab reads.

    One entry per sampling pass of the request. Several "message" passes (a server-side tool
    loop, e.g. the advisor tool) are summed in the top-level counts, so the step's input total
    counts its context once per pass; "advisor_message" / "compaction" passes (another model,
    or the API's own compaction) are not in them at all. The counts stay TraceLab's (§5.1);
    the accounting says how often this happens.
    """
    found = usage.get("iterations")
    if found.__class__ is not list or len(found) < 2:
        return None  # absent, empty, or the single pass the top level already is
    kinds = [it.get("type") if it.__class__ is dict else None for it in found]
    reasons = []
    if kinds.count("message") > 1:
        reasons.append(_SUMMED_CALLS)
    if any(kind != "message" for kind in kinds):
        reasons.append(_UNCOUNTED_CALLS)
    return tuple(reasons) or None


def _token(value, key: str) -> int | None:
    """A token count: int (or bool, as TraceLab) >= 0; null/missing -> None; else a bad record."""
    if value is None:
        return None
    if not isinstance(value, int):
        raise BadRecord(f"{key} is {type(value).__name__}, not an integer")
    if value < 0:
        raise BadRecord(f"negative {key}")
    if value > MAX_TOKENS:
        raise BadRecord(f"absurd {key} (> 1e12)")
    return int(value)


def _internal_latency(result) -> int | None:
    """Runner-reported duration from toolUseResult: first usable of the four keys (§3.4)."""
    if not isinstance(result, dict) or _DURATION_KEYS.isdisjoint(result):
        return None  # (most results have none of the keys: one set test instead of four gets)
    for key in _DURATION_MS_KEYS:
        value = result.get(key)
        if isinstance(value, (int, float)) and 0 <= value < _MAX_DURATION:
            return round(float(value))
    for key in _DURATION_S_KEYS:
        value = result.get(key)
        if isinstance(value, (int, float)) and 0 <= value < _MAX_DURATION / 1000:
            return round(float(value) * 1000)
    return None


def _user_message(rec: dict) -> bool:
    msg = rec.get("message")
    return msg.__class__ is dict and msg.get("role") == "user"


def _show(value) -> str:
    """A value for a rejection reason: short strings as themselves, anything else by its type."""
    return repr(value[:40]) if isinstance(value, str) else type(value).__name__


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _raw(rec: dict) -> bytes:
    # feed_records hands us parsed records; a rejected one is kept as its re-serialized JSON.
    try:
        return orjson.dumps(rec)
    except (TypeError, orjson.JSONEncodeError):
        return json_text(rec).encode("utf-8", errors="replace")
