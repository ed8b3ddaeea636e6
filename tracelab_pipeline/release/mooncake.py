"""The Mooncake replay trace (FAST'25 format), one JSON line per step with a submit time.

Line: {"timestamp": ms from trace start, "input_length": prefix + append tokens,
"output_length": output tokens incl. reasoning, "hash_ids": one id per 512-token block,
"session_id": the agent thread's pseudonym}.

Submit time = `input_ready_at` (the latest input event at or before the first output: when the
request left the client); when a step has none, `first_output_at` (the model was answering by
then). A step with neither has no place on the time line: it is left out and counted, never
given an invented time.

Block ids are synthesized (the public layer has no content hashes): a thread's call keeps the
first min(floor(prefix / 512), len(previous chain)) ids of its previous call and gets fresh ids
for the rest, so the provider-reported prefix-cache hit is what a replay can reuse, and the
previous call's partial last block is never reused. Threads (a session's main chain, each
sub-agent) never share ids. Fresh ids come from one counter, thread after thread in the order
the partitions are read, so the ids in the file are dense except the fresh ids of untimed steps.

Memory: per timed step a few integers and its chain as runs of consecutive ids (start, length).
As every call drops its previous call's partial last block, a chain has a run per earlier call
whose fresh ids it still holds (21 on average at the paper scale, against 297 ids); the ids
themselves exist only while their chunk of lines is written.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelab_pipeline.release.files import GZIP_LEVEL, gzip_writer

BLOCK_TOKENS = 512
SUBMIT_TIME = ("input_ready_at", "first_output_at")
_THREAD_ORDER = [(c, "ascending") for c in ("provider", "session_id", "step_index", "step_id")]
_CHUNK = 1 << 12  # steps gathered per numpy pass while writing

Runs = list[tuple[int, int]]


def block_chain(previous: Runs, input_length: int, prefix: int, next_id: int) -> tuple[Runs, int]:
    """The call's chain as runs: the reusable head of the previous call's chain, then fresh ids
    from `next_id`. Returns (runs, the next unused id)."""
    blocks = -(-input_length // BLOCK_TOKENS)  # ceil, in integers
    keep = min(prefix // BLOCK_TOKENS, sum(n for _, n in previous), blocks)
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
        self.input_length = array("q")
        self.output_length = array("q")
        self.session = array("q")
        self.runs_end = array("q")  # its runs are run_start/run_length[previous end:end]
        self.run_start = array("q")
        self.run_length = array("q")

    def add(self, steps: pa.Table) -> None:
        """Every step of the partition's threads (a thread must not continue in a later call)."""
        steps = steps.sort_by(_THREAD_ORDER)
        submit = pc.coalesce(*(steps.column(c) for c in SUBMIT_TIME)).cast(pa.int64())
        thread = None
        columns = ("provider", "session_id", "input_tokens_total", "prefix_tokens", "output_tokens")
        for provider, session, total, prefix, output, at in zip(
            *(steps.column(c).to_pylist() for c in columns), submit.to_pylist(), strict=True
        ):
            if thread != (provider, session):
                thread, chain = (provider, session), []
                self.sessions.append(session)
            chain, self.next_id = block_chain(chain, total, prefix, self.next_id)
            if at is None:
                self.untimed += 1
                continue
            self.submit.append(at)
            self.input_length.append(total)
            self.output_length.append(output)
            self.session.append(len(self.sessions) - 1)
            self.run_start.extend(start for start, _ in chain)
            self.run_length.extend(n for _, n in chain)
            self.runs_end.append(len(self.run_start))

    def write(self, path: Path, level: int = GZIP_LEVEL) -> dict[str, int]:
        """The trace as gzip JSONL, sorted by (submit time, order of adding): deterministic."""
        submit, input_length, output_length, session, ends, run_start, run_length = (
            np.frombuffer(a, dtype=np.int64)
            for a in (
                self.submit,
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
        with open(path, "wb") as raw, gzip_writer(raw, level) as f:
            for i in range(0, len(order), _CHUNK):
                chunk = order[i : i + _CHUNK]
                # the chunk's chains, expanded to ids in one pass, then cut per step
                runs = _ranges(begins[chunk], ends[chunk] - begins[chunk])
                ids = _ranges(run_start[runs], run_length[runs])
                blocks = -(-input_length[chunk] // BLOCK_TOKENS)
                lines = [
                    orjson.dumps(
                        {
                            "timestamp": ts,
                            "input_length": inp,
                            "output_length": out,
                            "hash_ids": hash_ids,
                            "session_id": self.sessions[s],
                        },
                        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
                    )
                    for ts, inp, out, hash_ids, s in zip(
                        # integer ms, truncated (a call 0.9 ms after the start is at 0)
                        ((submit[chunk] - first) // 1000).tolist(),
                        input_length[chunk].tolist(),
                        output_length[chunk].tolist(),
                        np.split(ids, np.cumsum(blocks)[:-1]),
                        session[chunk].tolist(),
                        strict=True,
                    )
                ]
                f.write(b"".join(lines))
        return {"rows": len(order), "steps_without_time": self.untimed}


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """range(s, s + n) for each (s, n), concatenated, without a Python loop."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum(), dtype=np.int64)
