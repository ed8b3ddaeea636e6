"""Claude's turn context sent early (session_model.CLAUDE_TURN_CONTEXT_EARLY): part of a prompt's
turn context rides on the previous step's tool results; only the two steps' token split moves."""

import random
from types import SimpleNamespace

from synth_helpers import demo_plans, drawn

from tracelab_pipeline.synth import session_model as sm


def _threads(seed: int) -> list:
    return [t for plan in demo_plans(seed, ("claude",)) for t in (plan.main, *plan.subagents)]


def test_turn_context_sent_early_moves_only_the_split(monkeypatch):
    now = _threads(0)
    monkeypatch.setattr(sm, "CLAUDE_TURN_CONTEXT_EARLY", 0.0)
    before = _threads(0)
    moved = 0
    for ta, tb in zip(now, before, strict=True):
        assert [drawn(s) for s in ta.steps] == [drawn(s) for s in tb.steps]  # no draw moved
        for i, (a, b) in enumerate(zip(ta.steps, tb.steps, strict=True)):
            if (a.prefix, a.append) == (b.prefix, b.append):
                continue
            if a.prefix + a.append == b.prefix + b.append:
                continue  # the prompt step: same context, less of it sent fresh
            # the step before a prompt carries that prompt's moved turn context
            assert (a.prefix, a.uncached) == (b.prefix, b.uncached) and a.append > b.append
            nxt_a, nxt_b = ta.steps[i + 1], tb.steps[i + 1]
            assert nxt_a.inputs[-1].kind == "prompt"
            assert nxt_a.prefix + nxt_a.append == nxt_b.prefix + nxt_b.append
            moved += 1
    assert moved


def _prompt(seed: int, prev_total: int, fresh: int, moved: int) -> tuple:
    """One Claude prompt drawn by _tokens from a hand-built state: 1M window, an idle gap of
    an hour past the 5-minute TTL (where the cache outcome weighs the cached context)."""
    builder = sm.SessionBuilder(random.Random(seed), "claude", "c", 0, "2.1.0")
    builder.plan = SimpleNamespace(cache_ttl_1h=False)
    ctx = sm._Context(static=20_000, limit=1_000_000)
    ctx.init, ctx.prev_total, ctx.prev_output, ctx.turn_start = 8_000, prev_total, 500, 200_000
    step = sm.StepPlan(model="claude-opus-4-7")
    outcome = builder._tokens(
        step, ctx, fresh, user=True, first=False, gap=3_900.0, ready=0, moved=moved
    )
    return outcome, step.compaction_before, step.prefix + step.append


def test_the_prompt_decides_on_the_context_as_without_the_move():
    """The move (previous step's total +m, the prompt's fresh -m) changes no decision at the
    prompt: the cache outcome, whether it compacts, its total. Checked where the miss chance
    rises with the cached context (MISS_LARGE_CONTEXT, from 200k), with a large move."""
    outcomes, moved = set(), 60_000
    for seed in range(400):
        without = _prompt(seed, 300_000, 80_000, 0)
        with_move = _prompt(seed, 300_000 + moved, 80_000 - moved, moved)
        assert with_move == without, seed
        outcomes.add(without[0])
    assert {0, 1, 2} <= outcomes  # hits, misses and large-context misses were all drawn
