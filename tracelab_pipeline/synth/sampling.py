"""Random draws shaped by the paper's published percentiles.

Most paper statistics come as (p25, p50, p90, p99) rows. `QuantileDist` turns such a row into a
sampler by interpolating the inverse CDF between the known percentiles (log-linearly, since the
quantities are heavy-tailed), so the generated percentiles land on the paper's by construction
and only the mean and the extreme tail are left to the tail knot.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence


class QuantileDist:
    """Inverse-CDF sampler through knots (q, value), q increasing in [0, 1]."""

    __slots__ = ("_qs", "_vs", "_logs")

    def __init__(self, knots: Sequence[tuple[float, float]]):
        knots = sorted(knots)
        if knots[0][0] != 0.0 or knots[-1][0] != 1.0:
            raise ValueError("knots must span q = 0 .. 1")
        self._qs = [q for q, _ in knots]
        self._vs = [float(v) for _, v in knots]
        if any(b < a for a, b in zip(self._vs, self._vs[1:], strict=False)):
            raise ValueError(f"knot values must not decrease: {self._vs}")
        self._logs = [math.log(v) if v > 0 else None for v in self._vs]

    def ppf(self, u: float) -> float:
        qs = self._qs
        i = bisect.bisect_right(qs, u) - 1
        if i >= len(qs) - 1:
            return self._vs[-1]
        if i < 0:
            return self._vs[0]
        q0, q1 = qs[i], qs[i + 1]
        f = (u - q0) / (q1 - q0) if q1 > q0 else 0.0
        l0, l1 = self._logs[i], self._logs[i + 1]
        if l0 is None or l1 is None:
            return self._vs[i] + f * (self._vs[i + 1] - self._vs[i])
        return math.exp(l0 + f * (l1 - l0))

    def sample(self, rng: random.Random) -> float:
        return self.ppf(rng.random())


def paper_dist(
    p25: float, p50: float, p90: float, p99: float, lo: float, hi: float
) -> QuantileDist:
    """The common case: the paper's four percentiles plus chosen minimum and maximum."""
    return QuantileDist([(0.0, lo), (0.25, p25), (0.5, p50), (0.9, p90), (0.99, p99), (1.0, hi)])


def weighted_choice(rng: random.Random, names: Sequence[str], cum_weights: Sequence[float]) -> str:
    return choice_at(names, cum_weights, rng.random())


def choice_at(names: Sequence[str], cum_weights: Sequence[float], u: float) -> str:
    """The name whose share of the cumulative weights holds the quantile `u`."""
    return names[bisect.bisect_right(cum_weights, u * cum_weights[-1])]


def cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out
