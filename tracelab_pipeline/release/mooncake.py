"""The Mooncake trace (docs/release.md): one JSON line per LLM call (step), sorted by submit time.

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
sub-agent) never share ids. Ids are numbered 0, 1, ... in order of first appearance in the file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa

BLOCK_TOKENS = 512
_MS = timedelta(milliseconds=1)
SUBMIT_TIME = ("input_ready_at", "first_output_at")
_COLUMNS = (
    "contributor",
    "provider",
    "session_id",
    "step_index",
    "step_id",
    "input_tokens_total",
    "prefix_tokens",
    "output_tokens",
    *SUBMIT_TIME,
)


def block_chain(
    previous: list[int], input_length: int, prefix: int, fresh: Iterator[int]
) -> list[int]:
    """The call's ids: the reusable head of the previous call's chain, then fresh ids."""
    blocks = -(-input_length // BLOCK_TOKENS)  # ceil, in integers
    keep = min(prefix // BLOCK_TOKENS, len(previous), blocks)
    return previous[:keep] + [next(fresh) for _ in range(blocks - keep)]


def submit_time(step: dict) -> datetime | None:
    return next((step[c] for c in SUBMIT_TIME if step[c] is not None), None)


def mooncake_rows(steps: pa.Table) -> tuple[list[dict], int]:
    """(rows in file order, steps left out for want of a time)."""
    rows = steps.select(list(_COLUMNS)).to_pylist()
    threads: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        threads[(row["contributor"], row["provider"], row["session_id"])].append(row)
    provisional = iter(range(2**62))
    timed = []
    for key in sorted(threads):
        previous: list[int] = []
        for row in sorted(threads[key], key=lambda r: (r["step_index"], r["step_id"])):
            previous = row["chain"] = block_chain(
                previous, row["input_tokens_total"], row["prefix_tokens"], provisional
            )
            row["submit"] = submit_time(row)
            if row["submit"] is not None:
                timed.append(row)
    timed.sort(
        key=lambda r: (
            r["submit"],
            r["contributor"],
            r["session_id"],
            r["step_index"],
            r["step_id"],
        )
    )
    start = timed[0]["submit"] if timed else None
    final: dict[int, int] = {}
    out = []
    for row in timed:
        out.append(
            {
                # integer ms, truncated (a call 0.9 ms after the start is at 0)
                "timestamp": (row["submit"] - start) // _MS,
                "input_length": row["input_tokens_total"],
                "output_length": row["output_tokens"],
                "hash_ids": [final.setdefault(i, len(final)) for i in row["chain"]],
                "session_id": row["session_id"],
            }
        )
    return out, len(rows) - len(timed)


def write_mooncake(steps: pa.Table, path: str | Path) -> dict[str, int]:
    rows, untimed = mooncake_rows(steps)
    with open(path, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row) + b"\n")
    return {"rows": len(rows), "steps_without_time": untimed}
