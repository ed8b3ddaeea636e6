"""The Mooncake replay trace (FAST'25 format), one JSON line per step with a submit time.

Line: {"timestamp": ms from trace start, "input_length": prefix + append tokens,
"output_length": output tokens incl. reasoning, "hash_ids": one id per 512-token block,
"step_id": the step's pseudonym (the join to `steps`; AIPerf 0.13.0, GuideLLM 0.8.1 and
DynoSim 1.6.1 load lines with it)}, as Mooncake's own traces: no `session_id`, so each line is
an independent request. AIPerf 0.13.0
`mooncake_trace` groups lines that share a `session_id` into one conversation and accumulates
its turns (their prompts and the live answers), and DynoSim reads such lines as closed-loop:
with it, this open-loop file sent about the sum of a thread's earlier prompts. The thread is
in the closed-loop file (mooncake_sessions.py), whose n-th line is this file's n-th line.

Submit time = `input_ready_at` (the latest input event at or before the first output: when the
request left the client); when a step has none, `first_output_at` (the model was answering by
then). A step with neither has no place on the time line: it is left out and counted, never
given an invented time.

Block ids are synthesized (the public layer has no content hashes): a thread's call keeps the
first min(floor(prefix / 512), floor(previous input / 512)) ids of its previous call and gets
fresh ids for the rest, so the provider-reported prefix-cache hit is what a replay can reuse, and
the previous call's partial last block is never reused: an id stands for one block of one size
(AIPerf 0.13.0 materializes an id once and refuses the file when a later line asks for the same
id at another size, which a partial block kept as a whole one did). Threads (a session's main
chain, each sub-agent) never share ids. Fresh ids come from one counter, thread after thread
in the order the partitions are read, so the ids in the file are dense except the fresh ids of
untimed steps.

Memory: per timed step a few integers, its step id (a Python string) and its chain as runs of
consecutive ids (start, length).
As every call drops its previous call's partial last block, a chain has a run per earlier call
whose fresh ids it still holds (21 on average at the paper scale, against 297 ids); the ids
themselves exist only while their chunk of lines is written.
"""

from __future__ import annotations

from array import array
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.release.files import GZIP_LEVEL, gzip_writer
from tracelab_pipeline.release.mooncake_sessions import DONE_TIME, NO_TIME, closed_loop

BLOCK_TOKENS = 512
SUBMIT_TIME = ("input_ready_at", "first_output_at")
_THREAD_ORDER = [(c, "ascending") for c in ("provider", "session_id", "step_index", "step_id")]
_CHUNK = 1 << 12  # steps gathered per numpy pass while writing

Runs = list[tuple[int, int]]


def block_chain(
    previous: Runs,
    previous_input: int,
    input_length: int,
    prefix: int,
    next_id: int,
    block_tokens: int = BLOCK_TOKENS,
    full_blocks_only: bool = False,
) -> tuple[Runs, int]:
    """The call's chain as runs: the reusable head of the previous call's chain (`previous`,
    for a call of `previous_input` tokens), then fresh ids from `next_id`. Returns (runs, the
    next unused id).

    Only the previous call's whole blocks are reusable: its partial last block (Mooncake counts
    one, ceil) holds fewer tokens than a whole block, and an id must keep one size. The Weka
    format (weka.py) has only full blocks (`full_blocks_only`: floor)."""
    # floor, or ceil in integers
    blocks = input_length // block_tokens if full_blocks_only else -(-input_length // block_tokens)
    keep = min(prefix // block_tokens, previous_input // block_tokens, blocks)
    runs: Runs = []
    for start, n in previous:
        if keep <= 0:
            break
        runs.append((start, min(n, keep)))
        keep -= n
    fresh = blocks - sum(n for _, n in runs)
    if fresh and runs and sum(runs[-1]) == next_id:
        runs[-1] = (runs[-1][0], runs[-1][1] + fresh)
    elif fresh:
        runs.append((next_id, fresh))
    return runs, next_id + fresh


class MooncakeTrace:
    """Steps are added a partition at a time (`add`), then written sorted by submit time."""

    def __init__(self) -> None:
        self.next_id = 0
        self.untimed = 0
        self.sessions: list[str] = []  # thread pseudonyms, indexed by `session`
        # per timed step
        self.submit = array("q")  # microseconds since the epoch
        self.done = array("q")  # DONE_TIME in microseconds, NO_TIME when null
        self.input_length = array("q")
        self.output_length = array("q")
        self.session = array("q")
        self.runs_end = array("q")  # its runs are run_start/run_length[previous end:end]
        self.run_start = array("q")
        self.run_length = array("q")
        self.step_ids: list[str] = []

    def add(self, steps: pa.Table) -> None:
        """Every step of the partition's threads (a thread must not continue in a later call)."""
        steps = steps.sort_by(_THREAD_ORDER)
        submit = pc.coalesce(*(steps.column(c) for c in SUBMIT_TIME)).cast(pa.int64())
        done = steps.column(DONE_TIME).cast(pa.int64()).fill_null(NO_TIME)
        thread = None
        columns = (
            "provider",
            "session_id",
            "step_id",
            "input_tokens_total",
            "prefix_tokens",
            "output_tokens",
        )
        for provider, session, step_id, total, prefix, output, at, end in zip(
            *(steps.column(c).to_pylist() for c in columns),
            submit.to_pylist(),
            done.to_pylist(),
            strict=True,
        ):
            if thread != (provider, session):
                thread, chain, previous_total = (provider, session), [], 0
                self.sessions.append(session)
            chain, self.next_id = block_chain(chain, previous_total, total, prefix, self.next_id)
            previous_total = total
            if at is None:
                self.untimed += 1
                continue
            self.submit.append(at)
            self.done.append(end)
            self.input_length.append(total)
            self.output_length.append(output)
            self.session.append(len(self.sessions) - 1)
            self.step_ids.append(step_id)
            self.run_start.extend(start for start, _ in chain)
            self.run_length.extend(n for _, n in chain)
            self.runs_end.append(len(self.run_start))

    def write(
        self, path: Path, sessions_path: Path | None = None, *, level: int = GZIP_LEVEL
    ) -> dict:
        """The trace as gzip JSONL, sorted by (submit time, order of adding): deterministic.
        With `sessions_path`, its closed-loop form too (mooncake_sessions.py): the same lines,
        written in the same pass, with `delay` in place of a later line's `timestamp`."""
        submit, done, input_length, output_length, session, ends, run_start, run_length = (
            np.frombuffer(a, dtype=np.int64)
            for a in (
                self.submit,
                self.done,
                self.input_length,
                self.output_length,
                self.session,
                self.runs_end,
                self.run_start,
                self.run_length,
            )
        )
        begins = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        order = np.argsort(submit, kind="stable")
        first = submit[order[0]] if len(order) else 0
        delays, closed = closed_loop(session[order], submit[order], done[order])
        with ExitStack() as stack:
            files = [
                stack.enter_context(gzip_writer(stack.enter_context(open(p, "wb")), level))
                for p in (path, sessions_path)
                if p is not None
            ]
            for i in range(0, len(order), _CHUNK):
                chunk = order[i : i + _CHUNK]
                # the chunk's chains, expanded to ids in one pass, then cut per step
                runs = ranges(begins[chunk], ends[chunk] - begins[chunk])
                ids = ranges(run_start[runs], run_length[runs])
                blocks = -(-input_length[chunk] // BLOCK_TOKENS)
                # The fields after the first are serialized once: each file's first key is
                # spliced in front, and the closed-loop file's session_id appended (orjson
                # writes no spaces).
                tails = [
                    orjson.dumps(
                        {
                            "input_length": inp,
                            "output_length": out,
                            "hash_ids": hash_ids,
                            "step_id": self.step_ids[j],
                        },
                        option=orjson.OPT_SERIALIZE_NUMPY,
                    )[1:]
                    for inp, out, hash_ids, j in zip(
                        input_length[chunk].tolist(),
                        output_length[chunk].tolist(),
                        np.split(ids, np.cumsum(blocks)[:-1]),
                        chunk.tolist(),
                        strict=True,
                    )
                ]
                # integer ms, truncated (a call 0.9 ms after the start is at 0)
                stamps = ((submit[chunk] - first) // 1000).tolist()
                files[0].write(b"".join(_keyed("timestamp", stamps, [t + b"\n" for t in tails])))
                if sessions_path is not None:
                    tails = [
                        t[:-1] + b',"session_id":' + orjson.dumps(self.sessions[s]) + b"}\n"
                        for t, s in zip(tails, session[chunk].tolist(), strict=True)
                    ]
                    # a thread's first line, and a line whose previous call has no end time,
                    # keep their timestamp (delays[line] == -1)
                    chunk_delays = delays[i : i + _CHUNK]
                    heads = np.where(chunk_delays >= 0, chunk_delays, stamps).tolist()
                    keys = np.where(chunk_delays >= 0, "delay", "timestamp").tolist()
                    files[1].write(b"".join(_keyed(keys, heads, tails)))
        return {"rows": len(order), "steps_without_time": self.untimed, "sessions": closed}


def _keyed(keys: str | list[str], values: list[int], tails: list[bytes]):
    """`{"<key>":<value>,` + tail for each line: the tail is the rest of a serialized object."""
    if isinstance(keys, str):
        keys = [keys] * len(values)
    for key, value, tail in zip(keys, values, tails, strict=True):
        yield b'{"%s":%d,' % (key.encode(), value) + tail


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """range(s, s + n) for each (s, n), concatenated, without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum(), dtype=np.int64)
