"""The stratified count of Claude Bash calls in the latency tail (BASH_TAIL_STRATA_Q)."""

import math
import random
from statistics import NormalDist
from types import SimpleNamespace

from tracelab_pipeline.synth.session_model import _TAIL_Z, SessionBuilder

_N = NormalDist()


def _calls(phase: float, mean: float, sd: float, n: int, seed: int):
    state = SimpleNamespace(tail_u=phase, tail_sum=0.0, tail_n=0)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        g = rng.gauss(0.0, 1.0)
        out.append((g, SessionBuilder._bash_tail(state, mean, sd, g)))
    return state, out


def test_a_session_makes_its_expected_count_of_tail_calls():
    # a slow session: p ~ 2 % a call, so 3,000 calls expect ~60, which a binomial misses by ~8
    mean, sd = 0.4, 0.9
    p = 1.0 - _N.cdf((_TAIL_Z - mean) / sd)
    for seed, phase in enumerate((0.0, 0.37, 0.99)):
        state, calls = _calls(phase, mean, sd, 3000, seed)
        tail = sum(mean + sd * g > _TAIL_Z for _, g in calls)
        drawn = sum(mean + sd * g > _TAIL_Z for g, _ in calls)
        assert abs(state.tail_sum - 3000 * p) < 1e-6
        assert math.floor(state.tail_sum) <= tail <= math.ceil(state.tail_sum)
        assert drawn != tail  # (the plain draws miss it at these seeds)


def test_draws_stay_on_their_side_and_their_quantiles_stay_uniform():
    mean, sd = 0.4, 0.9
    c = (_TAIL_Z - mean) / sd
    p = 1.0 - _N.cdf(c)
    body, tail = [], []
    for seed in range(40):
        _, calls = _calls(seed / 40, mean, sd, 2000, seed)
        for g, h in calls:
            if g <= c and h <= c:
                assert h == g  # a body draw left in the body is kept
            (tail if h > c else body).append(h)
    # within each side the noise keeps its conditional law: its quantile there is uniform
    # (in the tail it comes from the phase, spread over the session's tail calls)
    qs = [(1.0 - _N.cdf(h)) / p for h in tail]
    assert abs(sum(qs) / len(qs) - 0.5) < 0.05
    qb = [_N.cdf(h) / (1.0 - p) for h in body]
    assert abs(sum(qb) / len(qb) - 0.5) < 0.01
    # and over the phases each call lands in the tail with its probability
    assert abs(len(tail) / (len(tail) + len(body)) - p) < 0.1 * p
