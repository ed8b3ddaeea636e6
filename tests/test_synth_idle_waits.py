"""Human waits past the cache's TTL, settled once the cache outcome is drawn
(session_model.SessionBuilder._settled_wait, calibration.IDLE_*)."""

import math
from itertools import pairwise

from synth_helpers import demo_plans

from tracelab_pipeline.synth import calibration as cal
from tracelab_pipeline.synth.session_model import (
    HUMAN_WAIT,
    HUMAN_WAIT_QUICK,
    MISS_AFTER_IDLE,
    SessionBuilder,
    SessionPlan,
    ThreadPlan,
)


def _builder(size_z: float, ttl_1h: bool = False) -> SessionBuilder:
    b = SessionBuilder.__new__(SessionBuilder)
    b.provider, b.size_z = "codex", size_z
    b.plan = SessionPlan("codex", "s", 0, "c", "/", "main", "0", ttl_1h, ThreadPlan(None))
    return b


def test_largest_sessions_reply_quickly_when_the_cache_survived():
    big = _builder(cal.IDLE_SETTLE_Z + 0.1)
    lo, hi = (HUMAN_WAIT_QUICK.ppf(q) for q in cal.IDLE_HIT_REPLY_Q)
    settled = []
    for u in (0.70, 0.8, 0.9, 0.95, 0.999):
        gap = HUMAN_WAIT_QUICK.ppf(u)
        assert gap >= 300
        settled.append(big._settled_wait(HUMAN_WAIT_QUICK, u, gap, 0))
    # within the TTL, above the pooled median wait, in the order they were drawn
    assert all(lo <= s < hi <= 300 for s in settled)
    assert settled == sorted(settled) and HUMAN_WAIT.ppf(0.5) < lo
    # a 1-hour TTL: only waits past the hour count, and they settle the same way
    one_hour = _builder(cal.IDLE_SETTLE_Z + 0.1, ttl_1h=True)
    assert lo <= one_hour._settled_wait(HUMAN_WAIT_QUICK, 0.95, 7_200.0, 0) < hi
    # ranked from the hour, not from 5 min: a wait right at the hour is the quickest reply
    assert math.isclose(one_hour._settled_wait(HUMAN_WAIT_QUICK, cal.WAIT_LONG_Q, 7_200.0, 0), lo)


def test_misses_move_only_where_their_outcome_still_holds():
    big = _builder(cal.IDLE_SETTLE_Z + 0.1)
    flat_from = MISS_AFTER_IDLE["codex"][-1][0]  # the miss probability is flat beyond
    assert big._settled_wait(HUMAN_WAIT_QUICK, 0.99, 50_000.0, 1) == 50_000.0 * (
        cal.IDLE_LONG_MISS_STRETCH
    )
    assert big._settled_wait(HUMAN_WAIT_QUICK, 0.999, 440_000.0, 1) == cal.HUMAN_WAIT_S[-1]
    assert big._settled_wait(HUMAN_WAIT_QUICK, 0.95, flat_from - 1, 1) == flat_from - 1
    # below the largest sessions: misses under 1 h are drawn closer to it, hits stay
    small = _builder(cal.IDLE_SETTLE_Z - 0.5)
    us = (0.70, 0.8, 0.9, 0.92)
    moved = [small._settled_wait(HUMAN_WAIT, u, HUMAN_WAIT.ppf(u), 1) for u in us]
    assert all(HUMAN_WAIT.ppf(u) < m < 3_600 for u, m in zip(us, moved, strict=True))
    assert moved == sorted(moved)
    assert small._settled_wait(HUMAN_WAIT, 0.95, 7_200.0, 1) == 7_200.0
    hit = _builder(cal.IDLE_SETTLE_Z - 0.5)
    assert hit._settled_wait(HUMAN_WAIT, 0.8, HUMAN_WAIT.ppf(0.8), 0) == HUMAN_WAIT.ppf(0.8)


def _steps(plan) -> list:
    return [s for thread in (plan.main, *plan.subagents) for s in thread.steps]


def _times(thread) -> list[int]:
    return [t for s in thread.steps for t in (*(i.ts for i in s.inputs), s.last_out_ms)]


def test_settling_moves_timestamps_only(monkeypatch):
    now = demo_plans(0)
    monkeypatch.setattr(cal, "IDLE_SETTLE_Z", float("inf"))
    monkeypatch.setattr(cal, "IDLE_MISS_TO_HOUR", 1.0)  # every wait where it was drawn
    before = demo_plans(0)
    moved = redirects = 0
    for a, b in zip(now, before, strict=True):
        sa, sb = _steps(a), _steps(b)
        assert [(s.prefix, s.append, s.output, s.uncached, len(s.tools)) for s in sa] == [
            (s.prefix, s.append, s.output, s.uncached, len(s.tools)) for s in sb
        ]
        moved += sum(x.inputs != y.inputs for x, y in zip(sa, sb, strict=True))
        # a settled wait moves the whole step with its prompt, not the prompt alone
        first = [
            (x, y)
            for x, y in zip(sa, sb, strict=True)
            if x.inputs and x.inputs[-1].kind == "prompt"
        ]
        assert [x.last_out_ms - x.inputs[-1].ts for x, _ in first] == [
            y.last_out_ms - y.inputs[-1].ts for _, y in first
        ]
        for thread in (a.main, *a.subagents):
            assert _times(thread) == sorted(_times(thread))
        # the wait after an Esc-interrupted turn is in the next step's generation span: as drawn
        for ta, tb in zip((a.main, *a.subagents), (b.main, *b.subagents), strict=True):
            for (pa, na), (pb, nb) in zip(pairwise(ta.steps), pairwise(tb.steps), strict=True):
                if not na.inputs or na.inputs[-1].kind != "prompt":
                    continue  # a tool step: no human wait before it
                wait_a, wait_b = (
                    na.inputs[-1].ts - pa.last_out_ms,
                    nb.inputs[-1].ts - pb.last_out_ms,
                )
                if pa.aborted:
                    assert wait_a == wait_b
                    redirects += 1
                elif wait_a != wait_b:  # only a wait past the cache's TTL (5 min here) settles
                    assert wait_b >= 300_000
    assert moved  # some prompts came at another time
    assert redirects
