"""Which Codex sessions cache under 2,048 also follows what their first call writes
(session_model.CODEX_SMALL_*): the opening's sum is kept, and only the smaller sessions move."""

import itertools
from types import SimpleNamespace

from synth_helpers import moved_prefixes

from tracelab_pipeline.synth import session_model as sm


def _splits() -> list[tuple[float, int, int, tuple[int, int]]]:
    """(size quantile, static, init, (cached, rest)) over a grid of openings and sessions."""
    out = []
    for q, static, init, u in itertools.product(
        (0.02, 0.1, 0.3, 0.5, 0.79, 0.8, 0.95),
        range(2_000, 7_001, 500),
        range(2_000, 10_001, 250),
        (0.001, 0.01, 0.05, 0.2),
    ):
        session = SimpleNamespace(size_q=q)
        out.append((q, static, init, sm.SessionBuilder._codex_cached(session, static, init, u)))
    return out


def test_small_cached_sessions_write_little_on_their_first_call(monkeypatch):
    top, edge = sm.CODEX_SHARED_BASE[1], sm.CODEX_SMALL_SIZE
    now = _splits()
    monkeypatch.setattr(sm, "CODEX_SMALL_SIZE", 0.0)  # the fit off
    before = _splits()
    moved = {"out": 0, "in": 0}
    for (q, static, init, (cached, rest)), (*_, (cached0, rest0)) in zip(now, before, strict=True):
        assert cached + rest == cached0 + rest0 == static + init
        assert rest >= sm.CODEX_REST_MIN
        if q >= edge:
            assert cached == cached0  # the larger sessions keep their split
            continue
        if cached < top:
            assert rest <= sm.CODEX_SMALL_PUSH_REST
        elif cached < sm.CODEX_SMALL_PULL_CACHED:
            assert rest >= sm.CODEX_SMALL_PULL_REST
        if cached0 < top <= cached:
            moved["out"] += 1
            assert cached == top and rest0 > sm.CODEX_SMALL_PUSH_REST
        elif cached < top <= cached0:
            moved["in"] += 1
            assert cached == top - 1 and rest0 < sm.CODEX_SMALL_PULL_REST
    assert moved["out"] and moved["in"]


def test_only_the_small_sessions_first_calls_split_differently_in_the_plans(monkeypatch):
    moved = moved_prefixes(monkeypatch, {"CODEX_SMALL_SIZE": 0.0}, ("codex",), (0, 1))
    assert moved
    top = sm.CODEX_SHARED_BASE[1]
    openings = {}
    for m in moved:
        openings.setdefault(m.session, m)  # a session's moved steps come in step order
    # in each, the opening's cached part crosses the base's top one way or the other
    assert all(min(m.now, m.before) < top <= max(m.now, m.before) for m in openings.values())
