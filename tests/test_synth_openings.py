"""The cached part of session openings (session_model: CLAUDE_FIRST_SCHEMAS_ONLY,
CLAUDE_OPENING_PAST_32K_WHOLE via _kept_opening, and Codex's CODEX_CACHED via _codex_cached):
each moves only where the cache ends, never a draw."""

from synth_helpers import demo_plans

from tracelab_pipeline.synth import session_model as sm


def _threads(plan) -> list:
    return [plan.main, *plan.subagents]


def _drawn(step) -> tuple:
    """Everything of a step but where its cache ends (prefix, and so append and uncached)."""
    times = (
        [i.ts for i in step.inputs],
        step.first_out_ms,
        step.last_out_ms,
        [(t.name, t.emitted_ms, t.result_ms, t.result_tokens) for t in step.tools],
    )
    return step.model, step.prefix + step.append, step.output, times


def test_cached_openings_move_prefixes_only(monkeypatch):
    splits, kept = [], []
    codex_cached, kept_opening = sm.SessionBuilder._codex_cached, sm._kept_opening

    def split(self, static, init, u):
        cached, rest = codex_cached(self, static, init, u)
        splits.append((static + init, cached, rest))
        return cached, rest

    def opening(ctx, draw):
        prefix = kept_opening(ctx, draw)
        kept.append((ctx.static, ctx.static + min(ctx.init, sm.CLAUDE_PROJECT_SHARED_MAX), prefix))
        return prefix

    monkeypatch.setattr(sm.SessionBuilder, "_codex_cached", split)
    monkeypatch.setattr(sm, "_kept_opening", opening)
    now = demo_plans(0)
    monkeypatch.setattr(sm.SessionBuilder, "_codex_cached", lambda self, s, i, u: (s, i))
    monkeypatch.setattr(sm, "CLAUDE_FIRST_SCHEMAS_ONLY", {"sub": 0.0, "main": 0.0})
    monkeypatch.setattr(sm, "CLAUDE_OPENING_PAST_32K_WHOLE", 1.0)
    before = demo_plans(0)

    # (c) the Codex opening's sum is kept, both parts in range
    assert splits
    assert all(c > 0 and r >= sm.CODEX_REST_MIN and c + r == s for s, c, r in splits)
    # (a) openings past 32k that are not kept whole are cut below 32k, never into the prompt
    trimmed = [(s, p) for s, whole, p in kept if p < whole]
    assert trimmed and all(s <= p <= 32_767 for s, p in trimmed)
    codex_moved = 0
    schemas_only = {"main": 0, "sub": 0}
    for a, b in zip(now, before, strict=True):
        assert a.provider == b.provider
        for ta, tb in zip(_threads(a), _threads(b), strict=True):
            assert [_drawn(s) for s in ta.steps] == [_drawn(s) for s in tb.steps]
            if a.provider == "codex":
                codex_moved += sum(
                    x.prefix != y.prefix for x, y in zip(ta.steps, tb.steps, strict=True)
                )
                continue
            if ta.steps[0].prefix != tb.steps[0].prefix:
                # a first call finding only the shared tool schemas cached
                static = tb.steps[0].prefix
                assert 4_096 <= ta.steps[0].prefix < min(static, 8_192)
                schemas_only["sub" if ta.agent_id else "main"] += 1
    assert codex_moved and all(schemas_only.values())
