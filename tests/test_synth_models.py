"""Claude models of main threads and sub-agents (calibration.CLAUDE_SUBAGENT_HAIKU_P /
CLAUDE_MAIN_HAIKU_KEEP)."""

from synth_helpers import demo_plans

from tracelab_pipeline.synth import calibration as cal
from tracelab_pipeline.synth.sampling import choice_at
from tracelab_pipeline.synth.session_model import CLAUDE_MODEL_MIX, HAIKU, _main_claude_model

QUANTILES = [i / 2000 for i in range(2000)]


def test_only_the_sessions_in_haikus_band_change_model():
    names, cum = CLAUDE_MODEL_MIX[False]
    moved = kept = 0
    for u in QUANTILES:
        before = choice_at(names, cum, u)
        model, from_haiku = _main_claude_model(False, u)
        if before != HAIKU:
            assert (model, from_haiku) == (before, False)
        elif model == HAIKU:
            assert not from_haiku
            kept += 1
        else:
            # spread over the 1M-capable models, never onto a natively-200k one
            assert from_haiku and cal.CONTEXT_LIMIT[model] == 1_000_000
            moved += 1
    assert abs(kept / (kept + moved) - cal.CLAUDE_MAIN_HAIKU_KEEP) < 0.02
    # the longest sessions never ran Haiku and still do not
    assert all(_main_claude_model(True, u)[0] != HAIKU for u in QUANTILES)


def test_light_sub_agents_run_haiku_as_explore_agents():
    light = explore = 0
    for seed in range(12):
        for plan in demo_plans(seed, ("claude",)):
            for sub in plan.subagents:
                planned = len(sub.steps) - 1  # its tool-initiated steps, and a final answer
                if sub.agent_type == "Explore":
                    assert {s.model for s in sub.steps} == {HAIKU}
                    explore += 1
                else:
                    assert sub.agent_type == "general-purpose"
                if planned <= cal.CLAUDE_SUBAGENT_HAIKU_MAX_STEPS:
                    light += 1
                else:
                    assert sub.agent_type == "general-purpose"
    # ~550 light sub-agents over 12 seeds: the share within ~3 standard errors
    assert light > 400 and abs(explore / light - cal.CLAUDE_SUBAGENT_HAIKU_P) < 0.06


def _tokens(plan) -> list[tuple]:
    return [
        (s.prefix, s.append, s.output, s.reasoning_tokens, s.uncached)
        for thread in (plan.main, *plan.subagents)
        for s in thread.steps
    ]


def test_main_threads_moved_out_of_haiku_keep_their_tokens(monkeypatch):
    """A main thread moved out of Haiku's band keeps Haiku's 200k window: only its price
    changes, not one token of any step (the premise of pricing sub-agents at Haiku rates)."""
    now = demo_plans(1, ("claude",))
    monkeypatch.setattr(cal, "CLAUDE_MAIN_HAIKU_KEEP", 1.0)  # every Haiku pick kept, as before
    before = demo_plans(1, ("claude",))
    moved = [
        (a, b)
        for a, b in zip(now, before, strict=True)
        if b.main.steps and b.main.steps[0].model == HAIKU != a.main.steps[0].model
    ]
    assert moved
    for a, b in moved:
        assert _tokens(a) == _tokens(b)
