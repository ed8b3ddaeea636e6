"""What a cache miss keeps, fits that move only the missing step's prefix
(session_model.CLAUDE_SMALL_MISS_DROPS, MISS_PARTIAL_KEEP_ENDS, CODEX_BASE_SHARE): no draw, no
total moves."""

from types import SimpleNamespace
from typing import NamedTuple

from synth_helpers import demo_plans, drawn

from tracelab_pipeline.synth import session_model as sm


class Moved(NamedTuple):
    kind: str  # "main" or "sub" thread
    now: int  # prefix
    before: int  # prefix with the fit off
    session: tuple[int, int]  # (seed, index)
    compaction: bool  # the step follows a compaction
    append: int


def _moved(monkeypatch, off: dict, providers: tuple[str, ...], seeds=(0,)) -> list[Moved]:
    """Every step whose prefix the fit moves, after checking that it moves nothing else. `off`
    maps session_model names ("NAME" or "Class.attribute") to their values with the fit off."""
    now = [demo_plans(seed, providers) for seed in seeds]
    for name, value in off.items():
        *owner, attribute = name.split(".")
        monkeypatch.setattr(getattr(sm, owner[0]) if owner else sm, attribute, value)
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
                            Moved(
                                kind, a.prefix, b.prefix, (seed, i), a.compaction_before, a.append
                            )
                        )
    return moved


def test_claude_misses_at_short_contexts_drop_a_large_system_prompt(monkeypatch):
    moved = _moved(monkeypatch, {"CLAUDE_SMALL_MISS_DROPS": ((1, 0.0), (2, 0.0))}, ("claude",))
    assert moved
    for m in moved:
        assert m.kind == "main" and m.now == 0 and m.before >= sm.CLAUDE_SMALL_MISS_DROPS_STATIC


def test_codex_partial_misses_keep_little_or_most(monkeypatch):
    moved = _moved(monkeypatch, {"MISS_PARTIAL_KEEP_ENDS": 0.0}, ("codex",))
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
    moved = _moved(monkeypatch, off, ("codex",), seeds=(0, 1, 2, 3))
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
    moved = _moved(
        monkeypatch, {"CODEX_BASE_SHARE": dict.fromkeys(wide, 0.0)}, ("codex",), (0, 1, 2, 3)
    )
    assert moved
    for m in moved:
        # a miss that would keep the session's cached part, past CODEX_BASE_MISS_FROM
        assert not m.compaction and m.before > m.now and m.now + m.append >= sm.CODEX_BASE_MISS_FROM


def test_the_shared_base_windows_are_disjoint_and_take_the_first_candidate_only():
    ctx = SimpleNamespace(static=1_900)
    low, high = sm.CODEX_SHARED_BASE
    hits = dict.fromkeys(sm.CODEX_BASE_SHARE, 0)
    for k in range(10_000):
        chosen = []
        for kind in sm.CODEX_BASE_SHARE:
            session = SimpleNamespace(residual_u=k / 10_000, base_calls={kind: 0})
            first = sm.SessionBuilder._codex_base(session, ctx, kind)
            assert sm.SessionBuilder._codex_base(session, ctx, kind) is None
            if first is not None:
                assert low <= first <= ctx.static
                chosen.append(kind)
        assert len(chosen) <= 1  # a session keeps the base at one kind of step
        for kind in chosen:
            hits[kind] += 1
    for kind, share in sm.CODEX_BASE_SHARE.items():
        assert abs(hits[kind] / 10_000 - share) < 1e-3


def test_codex_misses_dropping_everything_keep_the_shared_base_only_in_their_window(monkeypatch):
    # a wider share, so the demo has some; only the drop kind
    wide = {"compact": 0.0, "miss": 0.0, "drop": 0.6}
    monkeypatch.setattr(sm, "CODEX_BASE_SHARE", wide)
    moved = _moved(
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
