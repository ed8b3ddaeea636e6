"""What a cache miss keeps, fits that move only the missing step's prefix
(session_model.CLAUDE_SMALL_MISS_DROPS, MISS_PARTIAL_KEEP_ENDS, CODEX_BASE_SHARE): no draw, no
total moves."""

from synth_helpers import demo_plans, drawn

from tracelab_pipeline.synth import session_model as sm


def _moved(monkeypatch, name: str, off, providers: tuple[str, ...], seeds=(0,)) -> list[tuple]:
    """(thread kind, prefix now, prefix with the fit off, seed and session) of every step whose
    prefix the fit moves, after checking that it moves nothing else."""
    now = [demo_plans(seed, providers) for seed in seeds]
    monkeypatch.setattr(sm, name, off)
    before = [demo_plans(seed, providers) for seed in seeds]
    moved = []
    for seed, plans_now, plans_before in zip(seeds, now, before, strict=True):
        for i, (pa, pb) in enumerate(zip(plans_now, plans_before, strict=True)):
            threads = [("main", pa.main, pb.main)]
            threads += [("sub", a, b) for a, b in zip(pa.subagents, pb.subagents, strict=True)]
            for kind, ta, tb in threads:
                assert [drawn(s) for s in ta.steps] == [drawn(s) for s in tb.steps]
                for a, b in zip(ta.steps, tb.steps, strict=True):
                    assert (a.prefix + a.append, a.uncached) == (b.prefix + b.append, b.uncached)
                    if a.prefix != b.prefix:
                        moved.append(
                            (kind, a.prefix, b.prefix, (seed, i), a.compaction_before, a.append)
                        )
    return moved


def test_claude_misses_at_short_contexts_drop_a_large_system_prompt(monkeypatch):
    moved = _moved(monkeypatch, "CLAUDE_SMALL_MISS_DROPS", ((1, 0.0), (2, 0.0)), ("claude",))
    assert moved
    for kind, now, before, *_ in moved:
        assert kind == "main" and now == 0 and before >= sm.CLAUDE_SMALL_MISS_DROPS_STATIC


def test_codex_partial_misses_keep_little_or_most(monkeypatch):
    moved = _moved(monkeypatch, "MISS_PARTIAL_KEEP_ENDS", 0.0, ("codex",))
    assert moved
    # the same draws, reshaped toward both ends: some keep less, some more
    assert any(now < before for _, now, before, *_ in moved)
    assert any(now > before for _, now, before, *_ in moved)


def test_a_codex_session_keeps_the_shared_base_once_at_most(monkeypatch):
    monkeypatch.setattr(sm, "CODEX_BASE_MISS_SIZE", 0.0)  # (the demo has few large sessions)
    off = dict.fromkeys(sm.CODEX_BASE_SHARE, 0.0)
    moved = _moved(monkeypatch, "CODEX_BASE_SHARE", off, ("codex",), seeds=(0, 1, 2, 3))
    low, high = sm.CODEX_SHARED_BASE
    sessions = [session for *_, session, _, _ in moved]
    assert len(sessions) == len(set(sessions)) >= 3
    for _, now, before, *_ in moved:
        # instead of the session's own cached part (never below the base) or nothing
        assert low <= now < high and (before == 0 or before >= now)
    # all three kinds: a compaction, a miss keeping the cached part, a miss dropping everything
    assert any(compaction for *_, compaction, _ in moved)
    assert any(before == 0 for _, _, before, *_ in moved)
    assert any(before > 0 and not compaction for _, _, before, _, compaction, _ in moved)


def test_codex_misses_keep_the_shared_base_only_at_large_contexts(monkeypatch):
    # a wider window and every session (the fit: the top 3 % by size), so the demo has some
    monkeypatch.setattr(sm, "CODEX_BASE_MISS_SIZE", 0.0)
    wide = {"compact": 0.0, "miss": 0.25, "drop": 0.0}
    monkeypatch.setattr(sm, "CODEX_BASE_SHARE", wide)
    off = dict.fromkeys(wide, 0.0)
    moved = _moved(monkeypatch, "CODEX_BASE_SHARE", off, ("codex",), seeds=(0, 1, 2, 3))
    assert moved
    for _, now, before, _, compaction, append in moved:
        # a miss that would keep the session's cached part, past CODEX_BASE_MISS_FROM
        assert not compaction and before > now and now + append >= sm.CODEX_BASE_MISS_FROM


def test_codex_sessions_caching_only_the_base_drop_it_at_a_miss(monkeypatch):
    monkeypatch.setattr(sm, "CODEX_BASE_SHARE", dict.fromkeys(sm.CODEX_BASE_SHARE, 0.0))
    low, high = sm.CODEX_SHARED_BASE
    moved = _moved(monkeypatch, "CODEX_SHARED_BASE", (low, 0), ("codex",), seeds=(0, 1, 2))
    assert moved
    for _, now, before, *_ in moved:
        assert now == 0 and 0 < before < high
