"""What a cache miss keeps, two fits that move only the missing step's prefix
(session_model.CLAUDE_SMALL_MISS_DROPS, MISS_PARTIAL_KEEP_ENDS): no draw, no total moves."""

from synth_helpers import demo_plans, drawn

from tracelab_pipeline.synth import session_model as sm


def _moved(monkeypatch, name: str, off, providers: tuple[str, ...]) -> list[tuple]:
    """(thread kind, prefix now, prefix with the fit off) of every step whose prefix the fit
    moves, after checking that it moves nothing else."""
    now = demo_plans(0, providers)
    monkeypatch.setattr(sm, name, off)
    before = demo_plans(0, providers)
    moved = []
    for pa, pb in zip(now, before, strict=True):
        threads = [("main", pa.main, pb.main)]
        threads += [("sub", a, b) for a, b in zip(pa.subagents, pb.subagents, strict=True)]
        for kind, ta, tb in threads:
            assert [drawn(s) for s in ta.steps] == [drawn(s) for s in tb.steps]
            for a, b in zip(ta.steps, tb.steps, strict=True):
                assert (a.prefix + a.append, a.uncached) == (b.prefix + b.append, b.uncached)
                if a.prefix != b.prefix:
                    moved.append((kind, a.prefix, b.prefix))
    return moved


def test_claude_misses_at_short_contexts_drop_a_large_system_prompt(monkeypatch):
    moved = _moved(monkeypatch, "CLAUDE_SMALL_MISS_DROPS", ((1, 0.0), (2, 0.0)), ("claude",))
    assert moved
    for kind, now, before in moved:
        assert kind == "main" and now == 0 and before >= sm.CLAUDE_SMALL_MISS_DROPS_STATIC


def test_codex_partial_misses_keep_little_or_most(monkeypatch):
    moved = _moved(monkeypatch, "MISS_PARTIAL_KEEP_ENDS", 0.0, ("codex",))
    assert moved
    # the same draws, reshaped toward both ends: some keep less, some more
    assert any(now < before for _, now, before in moved)
    assert any(now > before for _, now, before in moved)
