"""The Weka / kv-cache-tester session trace (`weka.jsonl.gz`): one JSON line per session, the
shape AIPerf `weka_trace`, GuideLLM `weka` and WEKA's trace_replay_tester read
(serving-ecosystem.md §1.4 B).

Line: {"id": root session pseudonym, "models": models of the main chain in order of first use,
"block_size": 64, "hash_id_scope": "local", "requests": [...], "totals": {"contributor",
"provider", "steps_without_time"}}; `totals` is the format's opaque summary, the only place
for fields of ours (AIPerf's models reject unknown keys everywhere else).

A request (a step of the main chain): {"t": s from the session's first call, "type": "s",
"model", "in": input_tokens_total, "out": output_tokens, "hash_ids", "input_types", "stop",
"api_time", "think_time"}; every other thread of the session (a sub-agent) is one
{"type": "subagent", "t": its first call, "agent_id", "subagent_type": "", "duration_ms",
"tool_use_count", "status": "completed", "models", "requests": [its own requests]} entry,
placed among the main chain's requests at its start time. The format nests one level: a
sub-agent spawned by a sub-agent is placed in the session's list as well (counted).

- Submit time as in the Mooncake trace (`input_ready_at`, else `first_output_at`); a step with
  neither is left out (counted), but still holds its place in its thread's chain. Nested
  requests' `t` are on the session's clock too (AIPerf reads a nested `t` at or after its
  entry's `t` as such).
- `hash_ids`: floor(in / 64) ids, full blocks only, synthesized like the Mooncake chain
  (mooncake.block_chain) at 64 tokens; numbered from 1 within each line, thread after thread
  (the main chain, then the sub-agents in their order in the list); threads share no ids.
- `api_time` = `last_output_at` - `input_ready_at` (request sent to the model's last output);
  null when either is missing; below zero (the log's clocks disagree) becomes 0 (counted).
  `think_time` = submit time - the thread's previous request's `last_output_at` (the
  client's gap: tool runs, the user, the agent itself), below zero becomes 0 (counted); null
  on a thread's first request or when the previous end is unknown.
- `stop`: "tool_use" when the step made tool calls (or Claude said `tool_use`); "end_turn"
  when Claude said so, or when the step produced output, called no tool and the log gives no
  stop reason (Codex never does); "" otherwise (another stop reason, or no output logged).
- `input_types` from `trigger`: "user" -> ["text"], "tool" -> ["tool_result"], and the other
  type appended when the step was fed both; [] for "none".
- Not in the public layer, so not given: `output_types`, `ttft`, `tool_tokens`,
  `system_tokens`, `total_tokens`; `subagent_type` is a required string in AIPerf, so it is ""
  (unknown); `status` is "completed" (SUBAGENT_STATUS); `model` is "" where the log names none;
  `type` is "s" as both
  clients stream.

Memory: one partition's steps as Python values, and a line is written request by request, so
only one request's ids exist at a time.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections import Counter
from itertools import groupby
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.release.files import gzip_writer
from tracelab_pipeline.release.mooncake import SUBMIT_TIME, Runs, block_chain, ranges
from tracelab_pipeline.release.mooncake_sessions import DONE_TIME

BLOCK_TOKENS = 64
HASH_ID_SCOPE = "local"
REQUEST_TYPE = "s"  # streaming: Claude Code and Codex CLI both stream
# The log does not say how a sub-agent ended, only that its thread ran to its last logged
# call. DynoSim 1.6.1 (dynamo.replay, trace_format="weka") refuses every status but
# "completed" and "async_launched" (the latter for sub-agents whose run was not recorded), and
# refused each session with a sub-agent when this was "" (unknown).
SUBAGENT_STATUS = "completed"
INPUT_TYPES = {"user": "text", "tool": "tool_result"}
_ORDER = [
    (c, "ascending") for c in ("provider", "root_session_id", "session_id", "step_index", "step_id")
]
_VALUES = (
    "contributor",
    "provider",
    "root_session_id",
    "session_id",
    "parent_session_id",
    "agent_id",
    "model",
    "input_tokens_total",
    "prefix_tokens",
    "output_tokens",
    "trigger",
    "current_user_message_count",
    "current_tool_result_count",
    "stop_reason",
    "tool_call_count",
)
# What MANIFEST.json reports (weka.*): lines, requests and entries written, and what is left
# out or has no value.
COUNTS = (
    "lines",
    "requests",
    "subagents",
    "steps_without_time",
    "sessions_without_time",
    "sessions_without_main_thread",
    "subagents_without_time",
    "subagents_of_subagents",
    "negative_think_times_clamped",
    "think_times_unknown",
    "negative_api_times_clamped",
)
_FLUSH_BYTES = 1 << 20
_DIRECT_BYTES = 1 << 16
_DUMPS = orjson.OPT_SERIALIZE_NUMPY


class WekaTrace:
    """Sessions are written a partition at a time (`add`): a session (its main chain and its
    sub-agents) never spans two partitions."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.counts: Counter = Counter(dict.fromkeys(COUNTS, 0))
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def add(self, steps: pa.Table) -> None:
        steps = steps.sort_by(_ORDER)
        columns = {c: steps.column(c).to_pylist() for c in _VALUES}
        times = {
            "submit": pc.coalesce(*(steps.column(c) for c in SUBMIT_TIME)),
            "ready": steps.column("input_ready_at"),
            "done": steps.column(DONE_TIME),
        }
        columns |= {k: v.cast(pa.int64()).to_pylist() for k, v in times.items()}
        rows = [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
        for _, session in groupby(rows, key=lambda r: (r["provider"], r["root_session_id"])):
            self._session(list(session))
        self._flush()

    def _session(self, rows: list[dict]) -> None:
        root = rows[0]["root_session_id"]
        threads = [list(t) for _, t in groupby(rows, key=lambda r: r["session_id"])]
        main = next((t for t in threads if t[0]["session_id"] == root), None)
        subs = [t for t in threads if t is not main]
        # sub-agents in order of their first call (untimed ones last: they are left out)
        subs.sort(key=lambda t: (min(_timed(t), default=None) is None, min(_timed(t), default=0)))
        untimed = sum(r["submit"] is None for r in rows)
        self.counts["steps_without_time"] += untimed
        timed = _timed(rows)
        if not timed:
            self.counts["sessions_without_time"] += 1
            return
        start = min(timed)
        next_id = 1
        chains = {}
        for thread in [main] * (main is not None) + subs:
            chain: Runs = []
            previous_total = 0
            for r in thread:
                chain, next_id = block_chain(
                    chain,
                    previous_total,
                    r["input_tokens_total"],
                    r["prefix_tokens"],
                    next_id,
                    BLOCK_TOKENS,
                    full_blocks_only=True,
                )
                chains[id(r)] = chain
                previous_total = r["input_tokens_total"]
        # the list: the main chain's requests and the sub-agent entries, by start time (a
        # request before a sub-agent starting in the same microsecond: it spawned it)
        items = [(r["submit"], 0, i, r) for i, r in enumerate(main or [])]
        items = [item for item in items if item[0] is not None]
        items += [(min(_timed(t)), 1, i, t) for i, t in enumerate(subs) if _timed(t)]
        items.sort(key=lambda item: item[:3])
        self.counts["sessions_without_main_thread"] += main is None
        self.counts["subagents_without_time"] += sum(not _timed(t) for t in subs)
        self.counts["subagents_of_subagents"] += sum(
            t[0]["parent_session_id"] not in (root, None) for t in subs
        )
        head = {
            "id": root,
            "models": _models(main or []),
            "block_size": BLOCK_TOKENS,
            "hash_id_scope": HASH_ID_SCOPE,
        }
        self._write(orjson.dumps(head)[:-1] + b',"requests":[')
        previous_done = {}
        for n, (_, kind, _, item) in enumerate(items):
            if n:
                self._write(b",")
            if kind == 0:
                self._write(
                    orjson.dumps(self._request(item, start, previous_done, chains), option=_DUMPS)
                )
                continue
            self._subagent(item, start, previous_done, chains)
        first = rows[0]
        totals = {
            "contributor": first["contributor"],
            "provider": first["provider"],
            "steps_without_time": untimed,
        }
        self._write(b'],"totals":' + orjson.dumps(totals) + b"}\n")
        self.counts["lines"] += 1

    def _subagent(self, thread: list[dict], start: int, previous_done: dict, chains) -> None:
        first = min(_timed(thread))
        ends = [r["done"] for r in thread if r["submit"] is not None and r["done"] is not None]
        entry = {
            "t": _seconds(first - start),
            "type": "subagent",
            "agent_id": thread[0]["agent_id"] or thread[0]["session_id"],
            "subagent_type": "",
            "duration_ms": (max(ends) - first) // 1000 if ends else None,
            "tool_use_count": sum(r["tool_call_count"] for r in thread),
            "status": SUBAGENT_STATUS,
            "models": _models(thread),
        }
        self._write(orjson.dumps(entry)[:-1] + b',"requests":[')
        timed = sorted((r for r in thread if r["submit"] is not None), key=lambda r: r["submit"])
        for n, r in enumerate(timed):
            request = self._request(r, start, previous_done, chains)
            self._write((b"," if n else b"") + orjson.dumps(request, option=_DUMPS))
        self._write(b"]}")
        self.counts["subagents"] += 1

    def _request(self, r: dict, start: int, previous_done: dict, chains) -> dict:
        thread = r["session_id"]
        think = None
        if thread in previous_done and previous_done[thread] is not None:
            gap = r["submit"] - previous_done[thread]
            self.counts["negative_think_times_clamped"] += gap < 0
            think = _seconds(max(gap, 0))
        elif thread in previous_done:
            self.counts["think_times_unknown"] += 1
        previous_done[thread] = r["done"]
        chain = chains[id(r)]
        ready, done = r["ready"], r["done"]
        api = None
        if ready is not None and done is not None:
            self.counts["negative_api_times_clamped"] += done < ready
            api = _seconds(max(done - ready, 0))
        self.counts["requests"] += 1
        return {
            "t": _seconds(r["submit"] - start),
            "type": REQUEST_TYPE,
            "model": r["model"] or "",
            "in": r["input_tokens_total"],
            "out": r["output_tokens"],
            "hash_ids": ranges(
                np.array([s for s, _ in chain], dtype=np.int64),
                np.array([n for _, n in chain], dtype=np.int64),
            ),
            "input_types": input_types(r),
            "stop": stop(r),
            "api_time": api,
            "think_time": think,
        }

    def _write(self, piece: bytes) -> None:
        """Small pieces (keys, brackets, short requests) are gathered; a long request goes to
        the file as it is (joining it into a buffer first was a tenth of the writer's time)."""
        if len(piece) >= _DIRECT_BYTES:
            self._flush()
            self.f.write(piece)
            return
        self._pending.append(piece)
        self._pending_bytes += len(piece)
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.f.write(b"".join(self._pending))
            self._pending, self._pending_bytes = [], 0


def input_types(r: dict) -> list[str]:
    """What fed the step: the trigger's type first, then the other one if it fed it too."""
    first = INPUT_TYPES.get(r["trigger"])
    if first is None:
        return []
    fed = {
        "text": r["current_user_message_count"] > 0,
        "tool_result": r["current_tool_result_count"] > 0,
    }
    return [first] + [t for t in ("text", "tool_result") if t != first and fed[t]]


def stop(r: dict) -> str:
    if r["tool_call_count"] > 0 or r["stop_reason"] == "tool_use":
        return "tool_use"
    if r["stop_reason"] == "end_turn" or (r["stop_reason"] is None and r["done"] is not None):
        return "end_turn"
    return ""


def _timed(thread: list[dict]) -> list[int]:
    return [r["submit"] for r in thread if r["submit"] is not None]


def _models(thread: list[dict]) -> list[str]:
    """Models of the thread's requests (steps with a time), in order of first use."""
    return list(dict.fromkeys(r["model"] for r in thread if r["submit"] is not None and r["model"]))


def _seconds(microseconds: int) -> float:
    """Seconds with ms precision, truncated (as the Mooncake trace's ms)."""
    return (microseconds // 1000) / 1000


# The columns WekaTrace.add reads: all the child process is sent.
_COLUMNS = tuple(
    dict.fromkeys([*(c for c, _ in _ORDER), *_VALUES, *SUBMIT_TIME, "input_ready_at", DONE_TIME])
)
_QUEUED_PARTITIONS = 8
_CHILD = "from tracelab_pipeline.release.weka import child_main; child_main(sys.argv[1])"
_LENGTH = 8  # bytes of a message's length prefix; a length of 0 ends the stream


class WekaProcess:
    """A WekaTrace written by a child process: the same `add` calls, so the same bytes.

    The Weka file is most of the release's bytes and a third of its Python work; in a process
    of its own, its serialization and compression run on the other core while the builder
    writes the other files (threads of one process would wait on the GIL). A partition's steps
    go to the child's stdin as Arrow IPC, length-prefixed, up to _QUEUED_PARTITIONS ahead of
    it. A plain subprocess rather than multiprocessing: spawn re-imports the caller's
    __main__ (a script without a main guard would run again), and fork would copy the locks of
    Arrow's and the gzip writers' threads."""

    def __init__(self, path: Path) -> None:
        # -c with this package's root first: `-m` would import whatever the working directory holds
        root = str(Path(__file__).resolve().parents[2])
        code = f"import sys; sys.path.insert(0, {root!r}); {_CHILD}"
        self._child = subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUED_PARTITIONS)
        self._error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="weka-feeder", daemon=True)
        self._feeder.start()
        self.counts: Counter = Counter()

    def _feed(self) -> None:
        while (message := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._child.stdin.write(message)
                except OSError as exc:  # the child died: reported by add or on exit
                    self._error = exc

    def __enter__(self) -> WekaProcess:
        return self

    def add(self, steps: pa.Table) -> None:
        if self._error is not None or self._child.poll() is not None:
            self._fail()
        sink = pa.BufferOutputStream()
        table = steps.select(list(_COLUMNS))
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        data = sink.getvalue().to_pybytes()
        self._queue.put(len(data).to_bytes(_LENGTH, "little") + data)

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:  # the build failed: the file goes with its staging directory
            self._child.kill()
        else:
            self._queue.put(bytes(_LENGTH))
        self._queue.put(None)
        self._feeder.join()
        with contextlib.suppress(OSError):  # the child is gone: nothing was left to flush
            self._child.stdin.close()
        out = self._child.stdout.read()
        if self._child.wait() != 0 or self._error is not None:
            if exc_type is None:
                self._fail()
            return
        self.counts = Counter(json.loads(out))

    def _fail(self) -> None:
        self._child.kill()
        code = self._child.wait()
        raise RuntimeError(f"the Weka writer process failed (exit code {code}): {self._error}")


def child_main(path: str) -> None:
    """The child: partitions from stdin, the file at `path`, the counts as JSON on stdout."""
    source = sys.stdin.buffer
    with open(path, "wb") as raw, gzip_writer(raw) as f:
        trace = WekaTrace(f)
        while n := int.from_bytes(_read_exactly(source, _LENGTH), "little"):
            trace.add(pa.ipc.open_stream(_read_exactly(source, n)).read_all())
    sys.stdout.write(json.dumps(dict(trace.counts)))


def _read_exactly(source: BinaryIO, n: int) -> bytes:
    data = source.read(n)
    if len(data) != n:  # the builder went away without ending the stream
        raise SystemExit("weka: input ended early")
    return data
