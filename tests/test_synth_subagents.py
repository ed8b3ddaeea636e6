"""Sub-agents' first-call cache outcomes follow the session's Weyl sequence over its sub-agents
(session_model.CLAUDE_SUB_FIRST_STEP): a session's count of uncached first calls stays within
one or so of its expectation however many sub-agents it spawns."""

from tracelab_pipeline.synth import session_model as sm
from tracelab_pipeline.synth import session_plans
from tracelab_pipeline.synth.presets import layout, resolve


def test_a_sessions_uncached_subagent_first_calls_follow_its_number_of_subagents():
    share = 1 - sm.FIRST_CACHED["claude"]
    misses = []  # uncached first calls less their expectation, in sessions of 10+ sub-agents
    for c in layout(resolve("paper", None, None, None), 0)[10:20]:
        for _, _, plan in session_plans(c, 0, ("claude",)):
            if len(plan.subagents) >= 10:
                uncached = sum(not sub.steps[0].prefix for sub in plan.subagents)
                misses.append(uncached - len(plan.subagents) * share)
    assert len(misses) >= 4
    # (independent draws miss by 1.5 or more in about 4 of 10 such sessions)
    assert all(abs(m) < 1.5 for m in misses), misses
