"""Sub-agents' first-call cache outcomes follow the session's Weyl sequence over its sub-agents
(session_model.CLAUDE_SUB_FIRST_STEP): a session's count of uncached first calls stays within
1.5 of its expectation however many sub-agents it spawns."""

from synth_helpers import demo_plans, drawn

from tracelab_pipeline.synth import session_model as sm
from tracelab_pipeline.synth import session_plans
from tracelab_pipeline.synth.presets import layout, resolve


def test_a_sessions_uncached_subagent_first_calls_follow_its_number_of_subagents():
    share = 1 - sm.FIRST_CACHED["claude"]
    misses = []  # uncached first calls less their expectation, in sessions of 10+ sub-agents
    for seed in (0, 1):
        for c in layout(resolve("paper", None, None, None), seed):
            for _, _, plan in session_plans(c, seed, ("claude",)):
                if len(plan.subagents) >= 10:
                    uncached = sum(not sub.steps[0].prefix for sub in plan.subagents)
                    misses.append(uncached - len(plan.subagents) * share)
    assert len(misses) >= 15
    # (independent draws miss by 1.5 or more in 7-8 of these 20 sessions)
    assert all(abs(m) < 1.5 for m in misses), misses


def test_the_weyl_sequence_moves_only_subagent_first_call_prefixes(monkeypatch):
    now = demo_plans(0, ("claude",))
    monkeypatch.setattr(sm.SessionBuilder, "_weyl", lambda self, off, n, step: 0.999)
    uncached = demo_plans(0, ("claude",))  # every sub-agent's first call uncached
    moved = 0
    for a, b in zip(now, uncached, strict=True):
        for ta, tb in zip([a.main, *a.subagents], [b.main, *b.subagents], strict=True):
            assert [drawn(s) for s in ta.steps] == [drawn(s) for s in tb.steps]
            assert [s.prefix + s.append for s in ta.steps] == [
                s.prefix + s.append for s in tb.steps
            ]
            assert [s.prefix for s in ta.steps[1:]] == [s.prefix for s in tb.steps[1:]]
            assert tb.steps[0].prefix == 0 or ta.agent_id is None
            moved += ta.steps[0].prefix != tb.steps[0].prefix
    assert moved
