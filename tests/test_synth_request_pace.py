"""The request-level tool pace of large sessions (calibration.TOOL_REQUEST_RHO)."""

from statistics import NormalDist

from tracelab_pipeline.synth import calibration as cal
from tracelab_pipeline.synth.session_model import _request_paces


def test_single_and_small_requests_get_no_pace():
    assert _request_paces([40]) == [None]
    skip = cal.REQUEST_PACE_SKIP_STEPS
    paces = _request_paces([30, skip, 0, 12])
    assert paces[1] is None and paces[2] is None
    assert paces[0] is not None and paces[3] is not None


def test_bigger_requests_are_slower_and_scores_are_centred_over_later_steps():
    split = [300, 120, 40, 40, 9, 5, 3]
    paces = _request_paces(split)
    ranked = [p for _, p in sorted(zip(split, paces, strict=True), reverse=True)]
    assert ranked == sorted(ranked, reverse=True)
    assert min(paces) == cal.REQUEST_PACE_FLOOR  # the smallest follow-ups are floored
    # above the floor, weighted by the later tool steps they score, the scores' quantiles of
    # N(0, 1) average 1/2: the pooled latencies stay on their knots
    split = [100, 90, 80]
    paces = _request_paces(split)
    assert min(paces) > cal.REQUEST_PACE_FLOOR
    w = [max(0, n - cal.REQUEST_PACE_SKIP_STEPS) for n in split]
    mean_u = sum(wi * NormalDist().cdf(-p) for wi, p in zip(w, paces, strict=True)) / sum(w)
    assert abs(mean_u - 0.5) < 1e-9


def test_order_of_the_split_does_not_matter():
    split = [5, 80, 20, 3]
    by_size = dict(zip(split, _request_paces(split), strict=True))
    shuffled = [20, 3, 80, 5]
    assert dict(zip(shuffled, _request_paces(shuffled), strict=True)) == by_size
