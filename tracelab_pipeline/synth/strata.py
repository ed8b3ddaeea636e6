"""Session-level draws spread evenly over all sessions of a provider (variance reduction).

A handful of sessions hold a fifth of a provider's steps (Table 2: p99 of 1,107 tool-initiated
steps against a median of 15), so with independent draws per session the provider totals of
Table 1 move by +-10 % from seed to seed, and whatever a few huge sessions draw (their model,
their pace) moves the step-weighted statistics (model mix, per-tool latency medians) with them.

Here every session still gets uniform quantiles with the same marginal distributions, but:
- the size quantile is stratified: one draw in each of the n equal strata of [0, 1];
- the other session-level quantiles follow a rank-1 lattice in size order (a Weyl sequence per
  coordinate, with a random offset), so sessions of similar size, the largest ones above all,
  get well-spread models and paces instead of independent ones.
A seeded shuffle then decides which session of which contributor gets which draw.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionDraws:
    size: float  # quantile of the session's tool-initiated steps
    requests: float  # quantile of the requests' own noise (correlated with size in the model)
    model: float  # the session's first model
    tool_pace: float  # session-level tool latency pace
    gen_pace: float  # session-level generation pace
    cache: float  # cache TTL / context window variant
    # size of the opening's fixed part: Claude's cached system prompt and tool schemas; for
    # Codex one input of the opening's cached / written split (session_model.CODEX_CACHED)
    static: float
    # phase of the session's shell_command residuals (calibration.SHELL_RESIDUAL_STEP), also
    # of the Codex steps keeping only the shared base (session_model.CODEX_BASE_SHARE) and of
    # Claude sub-agents' first-call outcomes (session_model.CLAUDE_SUB_FIRST_STEP)
    residual: float = 0.5


_DIMS = 6  # lattice dimensions after size


# Weyl steps: fractional parts of square roots of primes. Quadratic irrationals are badly
# approximable by fractions, so each coordinate k * alpha mod 1 stays evenly spread at every
# n (a step close to a fraction such as 15/23 would bunch the draws into 23 bands).
_ALPHA = [math.sqrt(p) % 1.0 for p in (2, 3, 5, 7, 11, 13)][:_DIMS]
_RESIDUAL_ALPHA = math.sqrt(19) % 1.0


def provider_draws(seed: int, provider: str, n: int) -> list[SessionDraws]:
    """Draws for all `n` sessions of a provider, in random session order."""
    rng = random.Random(f"draws:{seed}:{provider}")
    sizes = [(k + rng.random()) / n for k in range(n)]  # ascending: k is also the size rank
    offsets = [rng.random() for _ in range(_DIMS)]
    # The residual phase joined later: its own offset stream, so the draws above and the
    # shuffle below are those of the generator before it.
    residual = random.Random(f"draws:{seed}:{provider}:residual").random()
    out = []
    for rank, size in enumerate(sizes):
        q = [(offsets[j] + rank * _ALPHA[j]) % 1.0 for j in range(_DIMS)]
        out.append(SessionDraws(size, *q, (residual + rank * _RESIDUAL_ALPHA) % 1.0))
    rng.shuffle(out)
    return out
