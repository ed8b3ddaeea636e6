"""Claude's sub-agents follow the session's phases, not per-call draws (session_model
_tool_name, CLAUDE_SUB_STATIC_STEP, CLAUDE_SUB_FIRST_MULT): a seed's count of sub-agents, and of
those whose first call lands in Table 9's 4-8k bin, then follows its calls."""

import math

from synth_helpers import demo_plans

from tracelab_pipeline.synth import session_model as sm
from tracelab_pipeline.synth import session_plans
from tracelab_pipeline.synth.presets import layout, resolve

SEEDS = (0, 1, 2, 3)


def _claude_sessions(seed: int) -> list:
    """(the session's lattice draws, its plan) for the demo preset's Claude sessions."""
    out = []
    for c in layout(resolve("demo", None, None, None), seed):
        plans = [plan for _, _, plan in session_plans(c, seed, ("claude",))]
        out += zip(c.claude_draws, plans, strict=True)
    return out


def test_agent_calls_cross_the_session_accumulator():
    sessions = 0
    for seed in SEEDS:
        for d, plan in _claude_sessions(seed):
            calls = [t for s in plan.main.steps for t in s.tools]
            share = sum(sm.AGENT_SLICE[t.opening][1] - sm.AGENT_SLICE[t.opening][0] for t in calls)
            want = math.floor(d.agent + share) - math.floor(d.agent)
            assert sum(t.name == "Agent" for t in calls) == want
            sessions += want > 0
    assert sessions >= 10


def test_agent_calls_move_no_main_thread_token(monkeypatch):
    now = [demo_plans(seed, ("claude",)) for seed in SEEDS]

    def plain(self, opening=False):  # the per-call draw, as before the accumulator
        names, cum = sm.TOOL_MIX[self.provider, opening]
        return sm.weighted_choice(self.rng, names, cum)

    monkeypatch.setattr(sm.SessionBuilder, "_tool_name", plain)
    before = [demo_plans(seed, ("claude",)) for seed in SEEDS]
    agents = {"now": 0, "before": 0}
    for plans_now, plans_before in zip(now, before, strict=True):
        for a, b in zip(plans_now, plans_before, strict=True):
            agents["now"] += len(a.subagents)
            agents["before"] += len(b.subagents)
            for sa, sb in zip(a.main.steps, b.main.steps, strict=True):
                # (the prefix may move: which misses keep the schemas counts sub-agents' misses)
                assert (sa.prefix + sa.append, sa.output, sa.model) == (
                    sb.prefix + sb.append,
                    sb.output,
                    sb.model,
                )
                for ta, tb in zip(sa.tools, sb.tools, strict=True):
                    assert ta.name == tb.name or "Agent" in (ta.name, tb.name)
    assert agents["now"] != agents["before"]


def test_a_lone_sub_agent_takes_its_prompt_and_first_call_from_the_phase():
    lone = 0
    for seed in SEEDS:
        for d, plan in _claude_sessions(seed):
            if len(plan.subagents) != 1:
                continue
            lone += 1
            first = plan.subagents[0].steps[0]
            w = (d.residual + sm.CLAUDE_SUB_STATIC_OFF) % 1.0
            static = sm._between(6_000, 12_000, w)
            u = (w * sm.CLAUDE_SUB_FIRST_MULT) % 1.0
            cached_p = sm.FIRST_CACHED["claude"]
            if u >= cached_p:
                assert first.prefix == 0
            elif u < cached_p * sm.CLAUDE_SUB_FIRST_SCHEMAS_ONLY:
                assert 4_096 <= first.prefix < min(static, 8_192)
            else:
                assert first.prefix == static
    assert lone >= 10
