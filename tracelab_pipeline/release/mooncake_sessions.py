"""The closed-loop form of the Mooncake trace (`mooncake.sessions.jsonl.gz`).

The same lines as the open-loop trace (same steps, same order, same hash ids; written in the
same pass, mooncake.MooncakeTrace.write), plus `session_id` (the agent thread's pseudonym; only
this file has it), but a thread's line after its first carries `delay` instead of `timestamp`:
the client's gap, in integer ms (truncated), between the end of the thread's previous call and
this call's submit time. A replayer (AIPerf and DynoSim `mooncake`
with `session_id`) then sends a thread's next call only once its previous call has finished
on the server under test, plus that gap: causality is kept, the arrival process emerges.

- The end of a call (`done`) is DONE_TIME, `last_output_at`: the latest reasoning, text or
  tool-call event of the step, the last thing the model produced before the client acted.
- The previous call is the thread's previous line, i.e. its previous step with a submit time
  (steps without one are left out of both files, so a gap may span one).
- A gap below zero (the next call was sent before the previous one's last output was
  logged: overlapping calls of one thread) becomes 0 and is counted.
- When the previous call has no `done` (no output event at all), there is no gap to give:
  the line keeps its `timestamp` (ms from the trace start, as in the open file) and is
  counted; DynoSim reads a timestamp on a session's later line as the gap from the previous
  line's timestamp.
"""

from __future__ import annotations

import numpy as np

DONE_TIME = "last_output_at"
NO_TIME = np.iinfo(np.int64).min  # DONE_TIME was null


def closed_loop(
    session: np.ndarray, submit: np.ndarray, done: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """Per line, the arrays given in file order (thread index, submit and done times in
    microseconds): the delay in ms, or -1 where the line carries its `timestamp`. Returns
    (delays, counts)."""
    n = len(session)
    by_thread = np.argsort(session, kind="stable")  # each thread's lines, in file order
    previous = np.full(n, -1, dtype=np.int64)
    same = session[by_thread[1:]] == session[by_thread[:-1]]
    previous[by_thread[1:][same]] = by_thread[:-1][same]
    has_previous = previous >= 0
    previous_done = np.where(has_previous, done[np.maximum(previous, 0)], NO_TIME)
    known = previous_done != NO_TIME
    gap = np.where(known, submit - np.where(known, previous_done, 0), 0)
    delays = np.where(known, np.maximum(gap, 0) // 1000, -1)
    counts = {
        "threads": int(n - has_previous.sum()),
        "rows_with_delay": int(known.sum()),
        "negative_gaps_clamped": int((known & (gap < 0)).sum()),
        "rows_timed_as_previous_call_has_no_end": int((has_previous & ~known).sum()),
    }
    return delays, counts
