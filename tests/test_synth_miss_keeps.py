"""What a cache miss keeps, fits that move only the missing step's prefix
(session_model.CLAUDE_SMALL_MISS_DROPS, CLAUDE_SCHEMAS_MISS_FROM, CLAUDE_OPENING_MISSES_MAX,
MISS_PARTIAL_KEEP_ENDS, CODEX_BASE_SHARE, CODEX_BASE_MISS_FROM / _SIZE, CODEX_BASE_DROP): no
draw, no total moves."""

from types import SimpleNamespace

from synth_helpers import moved_prefixes

from tracelab_pipeline.synth import session_model as sm


def test_claude_misses_at_short_contexts_drop_a_large_system_prompt(monkeypatch):
    moved = moved_prefixes(
        monkeypatch, {"CLAUDE_SMALL_MISS_DROPS": ((1, 0.0), (2, 0.0))}, ("claude",)
    )
    assert moved
    for m in moved:
        assert m.kind == "main" and m.now == 0 and m.before >= sm.CLAUDE_SMALL_MISS_DROPS_STATIC


def test_codex_partial_misses_keep_little_or_most(monkeypatch):
    moved = moved_prefixes(monkeypatch, {"MISS_PARTIAL_KEEP_ENDS": 0.0}, ("codex",))
    assert moved
    # the same draws, reshaped toward both ends: some keep less, some more
    assert any(m.now < m.before for m in moved)
    assert any(m.now > m.before for m in moved)


def test_codex_steps_keep_the_shared_base_once_a_session_at_most(monkeypatch):
    monkeypatch.setattr(sm, "CODEX_BASE_MISS_SIZE", 0.0)  # (the demo has few large sessions)
    # off: the code before the fit, so that a draw added in it would show
    off = {
        "SessionBuilder._codex_base": lambda self, ctx, kind: None,
        "SessionBuilder._codex_kept": lambda self, ctx, kind, seen=0: ctx.static,
    }
    moved = moved_prefixes(monkeypatch, off, ("codex",), seeds=(0, 1, 2, 3))
    low, high = sm.CODEX_SHARED_BASE
    base = [m for m in moved if m.now]
    small = [m for m in moved if not m.now]
    # sessions caching less than the base's top drop it instead of keeping it
    assert small and all(0 < m.before < high for m in small)
    sessions = [m.session for m in base]
    assert len(sessions) == len(set(sessions)) >= 3
    for m in base:
        assert low <= m.now < high and (m.before == 0 or m.before >= m.now)
    # all three kinds: a compaction, a miss keeping the cached part, a miss dropping everything
    assert any(m.compaction for m in base)
    assert any(m.before == 0 for m in base)
    assert any(m.before > 0 and not m.compaction for m in base)


def test_codex_misses_keep_the_shared_base_only_at_large_contexts(monkeypatch):
    # a wider window and every session (the fit: the top 3 % by size), so the demo has some
    monkeypatch.setattr(sm, "CODEX_BASE_MISS_SIZE", 0.0)
    wide = {"compact": 0.0, "miss": 0.25, "drop": 0.0}
    monkeypatch.setattr(sm, "CODEX_BASE_SHARE", wide)
    moved = moved_prefixes(
        monkeypatch, {"CODEX_BASE_SHARE": dict.fromkeys(wide, 0.0)}, ("codex",), (0, 1, 2, 3)
    )
    assert moved
    for m in moved:
        # a miss that would keep the session's cached part, past CODEX_BASE_MISS_FROM
        assert not m.compaction and m.before > m.now and m.now + m.append >= sm.CODEX_BASE_MISS_FROM


def _builder(phase: float, size_q: float = 0.0) -> sm.SessionBuilder:
    """A builder with no session drawn: what the shared-base methods read."""
    b = object.__new__(sm.SessionBuilder)
    b.residual_u, b.size_q = phase, size_q
    b.base_calls = dict.fromkeys(sm.CODEX_BASE_SHARE, 0)
    return b


def test_the_shared_base_windows_are_disjoint_and_take_the_first_candidate_only():
    ctx = SimpleNamespace(static=1_900)
    low, high = sm.CODEX_SHARED_BASE
    hits = dict.fromkeys(sm.CODEX_BASE_SHARE, 0)
    for k in range(10_000):
        chosen, session = [], _builder(k / 10_000)
        for kind in sm.CODEX_BASE_SHARE:
            first = session._codex_base(ctx, kind)
            assert session._codex_base(ctx, kind) is None
            if first is not None:
                assert low <= first <= ctx.static
                chosen.append(kind)
        assert len(chosen) <= 1  # a session keeps the base at one kind of step
        for kind in chosen:
            hits[kind] += 1
    for kind, share in sm.CODEX_BASE_SHARE.items():
        assert abs(hits[kind] / 10_000 - share) < 1e-3


def _in_miss_window(size_q: float) -> sm.SessionBuilder:
    """A builder whose phase is in the "miss" kind's window."""
    share, off = sm.CODEX_BASE_SHARE["miss"], sm.CODEX_BASE_OFFSET["miss"]
    return _builder((share / 2 - off) % 1.0, size_q)


def test_a_miss_keeps_the_shared_base_at_the_first_chance_past_the_edge_in_large_sessions():
    ctx, edge = SimpleNamespace(static=3_000), sm.CODEX_BASE_MISS_FROM
    low, high = sm.CODEX_SHARED_BASE
    large = _in_miss_window(sm.CODEX_BASE_MISS_SIZE)
    assert large._codex_kept(ctx, "miss", edge - 1) == ctx.static  # too early, no chance used
    assert low <= large._codex_kept(ctx, "miss", edge) < high  # the first miss past the edge
    assert large._codex_kept(ctx, "miss", edge) == ctx.static  # once a session
    smaller = _in_miss_window(sm.CODEX_BASE_MISS_SIZE - 0.01)
    assert smaller._codex_kept(ctx, "miss", edge) == ctx.static


def test_codex_misses_dropping_everything_keep_the_shared_base_only_in_their_window(monkeypatch):
    # a wider share, so the demo has some; only the drop kind
    wide = {"compact": 0.0, "miss": 0.0, "drop": 0.6}
    monkeypatch.setattr(sm, "CODEX_BASE_SHARE", wide)
    moved = moved_prefixes(
        monkeypatch, {"CODEX_BASE_SHARE": dict.fromkeys(wide, 0.0)}, ("codex",), (0, 1, 2, 3)
    )
    assert moved
    # the window starts above where misses begin to drop everything (MISS_DROPS_ALL_FROM), so
    # the shortest of those (appends 45-50k) drop the base too
    assert sm.CODEX_BASE_DROP[0] > sm.MISS_DROPS_ALL_FROM["codex"]
    low, high = sm.CODEX_SHARED_BASE
    for m in moved:
        # a miss that would drop everything, from a conversation inside CODEX_BASE_DROP (the
        # step's total is at least what it had seen, and a miss adds less than 10k to that)
        assert not m.compaction and m.before == 0 and low <= m.now < high
        assert sm.CODEX_BASE_DROP[0] <= m.now + m.append < sm.CODEX_BASE_DROP[1] + 10_000


def test_claude_misses_in_young_threads_drop_the_tool_schemas_too(monkeypatch):
    edge = sm.CLAUDE_SCHEMAS_MISS_FROM
    young = moved_prefixes(monkeypatch, {"CLAUDE_SCHEMAS_MISS_FROM": 0}, ("claude",), (0, 1, 2))
    assert young
    # (a miss's step adds the prompt and the previous output to what it had seen: < 10k here)
    for m in young:
        assert m.now == 0 and 4_096 <= m.before < 8_192
        assert m.append < edge + 10_000


def test_claude_misses_in_older_threads_still_keep_the_tool_schemas(monkeypatch):
    edge = sm.CLAUDE_SCHEMAS_MISS_FROM
    older = moved_prefixes(
        monkeypatch, {"CLAUDE_SCHEMAS_MISS_FROM": 10**12}, ("claude",), (0, 1, 2)
    )
    assert older
    for m in older:
        assert m.before == 0 and 4_096 <= m.now < 8_192
        assert m.now + m.append >= edge


def test_claude_schemas_keeping_misses_start_past_the_edge(monkeypatch):
    # with the edge back at 100k, the misses that now drop everything kept only the schemas,
    # and every one of them had seen at least 100k but less than the edge (plus what the step
    # itself adds: tool results or a prompt, under 25k here)
    moved = moved_prefixes(
        monkeypatch, {"CLAUDE_SCHEMAS_MISS_FROM": 100_000}, ("claude",), (0, 1, 2, 3)
    )
    assert moved
    for m in moved:
        assert m.kind == "main" and m.now == 0 and 4_096 <= m.before < 8_192
        assert 100_000 <= m.now + m.append < sm.CLAUDE_SCHEMAS_MISS_FROM + 25_000


def test_claude_sessions_keep_the_opening_on_a_limited_number_of_misses(monkeypatch):
    # (low limits, so the demo's smaller sessions reach them)
    monkeypatch.setattr(sm, "CLAUDE_OPENING_MISSES_MAX", 2)
    moved = moved_prefixes(
        monkeypatch, {"CLAUDE_OPENING_MISSES_MAX": 10**9}, ("claude",), (0, 1, 2)
    )
    assert moved
    # main-thread misses that kept the opening (at least the system prompt) drop everything
    assert all(m.kind == "main" and m.now == 0 and m.before >= 9_000 for m in moved)
    # a limit of 2 instead of 3 drops exactly one more miss (the third) in each session that
    # had three or more
    monkeypatch.setattr(sm, "CLAUDE_OPENING_MISSES_MAX", 2)
    third = moved_prefixes(monkeypatch, {"CLAUDE_OPENING_MISSES_MAX": 3}, ("claude",), (0, 1, 2))
    sessions = [m.session for m in third]
    assert third and len(set(sessions)) == len(sessions)
    assert set(sessions) == {m.session for m in moved}


def test_the_opening_limit_counts_the_main_threads_misses_only():
    builder = object.__new__(sm.SessionBuilder)
    builder.opening_misses = 0
    ctx = SimpleNamespace(static=12_000, init=5_000, sub=False)
    sub = SimpleNamespace(static=8_000, init=2_000, sub=True)
    kept = [builder._capped_opening(ctx, 0.5) for _ in range(sm.CLAUDE_OPENING_MISSES_MAX)]
    assert kept == [sm._kept_opening(ctx, 0.5)] * sm.CLAUDE_OPENING_MISSES_MAX and kept[0] > 0
    assert builder._capped_opening(sub, 0.5) == sm._kept_opening(sub, 0.5) > 0
    assert builder._capped_opening(ctx, 0.5) == 0  # past the limit
    assert builder.opening_misses == sm.CLAUDE_OPENING_MISSES_MAX + 1
