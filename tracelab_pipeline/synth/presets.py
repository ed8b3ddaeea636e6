"""Named sizes of a synthetic dataset, and how contributors and sessions are laid out."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from tracelab_pipeline.synth.strata import SessionDraws, provider_draws


@dataclass(frozen=True)
class Preset:
    name: str
    contributors: int
    months: int
    sessions: int
    start: datetime
    # Table 1: 2,676 of 4,265 sessions are Claude's, counting each sub-agent transcript as a
    # session as TraceLab does; about 0.3 sub-agent files per Claude session come on top.
    claude_session_share: float = 0.55


PRESETS = {
    "demo": Preset(
        "demo", contributors=6, months=3, sessions=240, start=datetime(2026, 3, 1, tzinfo=UTC)
    ),
    # Table 1: 43 contributors, Sep 2025 - Jun 2026, 4,265 sessions.
    "paper": Preset(
        "paper", contributors=43, months=10, sessions=3_560, start=datetime(2025, 9, 1, tzinfo=UTC)
    ),
}

MONTH_DAYS = 30.4

HANDLES = (  # noqa: SIM905 - a word list reads better as text
    "ada avery blake casey dana drew eli emery finn gray harper hayden indy jamie jules kai "
    "kendall lane lee logan marlo morgan noel oakley parker quinn reese riley rowan sage sam "
    "skyler sloane tate taylor toby val wren yael zane zion arden bay cruz dale"
).split()

CLAUDE_VERSIONS = ("1.0.98", "2.0.37", "2.1.17", "2.1.97", "2.1.157")
CLAUDE_VERSION_WEIGHTS = (0.08, 0.17, 0.25, 0.25, 0.25)
CODEX_VERSIONS = ("0.77.0", "0.114.0", "0.120.0", "0.121.0")
CODEX_VERSION_WEIGHTS = (0.15, 0.35, 0.3, 0.2)


def resolve(
    preset: str, contributors: int | None, months: int | None, sessions: int | None
) -> Preset:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[preset]
    changes = {
        k: v
        for k, v in (("contributors", contributors), ("months", months), ("sessions", sessions))
        if v
    }
    p = replace(p, **changes)
    if p.contributors > len(HANDLES):
        raise ValueError(f"at most {len(HANDLES)} contributors")
    # The readers reject records dated in the future: such logs would be generated to be lost.
    most = int((datetime.now(UTC) - p.start) / timedelta(days=MONTH_DAYS))
    if p.months > most:
        raise ValueError(
            f"{p.months} months from {p.start:%Y-%m} would date sessions after today: "
            f"at most {most} months for preset {p.name!r}"
        )
    return p


@dataclass(frozen=True)
class ContributorPlan:
    index: int
    handle: str
    claude_sessions: int
    codex_sessions: int
    window_start_ms: int
    window_end_ms: int
    # Session-level draws, one per session in session order (synth/strata.py).
    claude_draws: tuple[SessionDraws, ...] = ()
    codex_draws: tuple[SessionDraws, ...] = ()
    # The end of the preset's whole period ("now" for the data set): Codex compresses the
    # rollouts idle for a week before it (synth/quirks.py).
    period_end_ms: int = 0


def layout(p: Preset, seed: int) -> list[ContributorPlan]:
    """Who uses which agent (Table 1: 37 Claude, 22 Codex, 16 both, of 43) and how much."""
    rng = random.Random(f"layout:{seed}")
    n = p.contributors
    both = max(1, round(n * 16 / 43)) if n >= 3 else n
    claude_only = max(1, round(n * 21 / 43)) if n >= 3 else 0
    kinds = ["both"] * both + ["claude"] * min(claude_only, n - both)
    kinds += ["codex"] * (n - len(kinds))
    rng.shuffle(kinds)
    weights = [rng.lognormvariate(0.0, 1.0) for _ in range(n)]
    n_claude = round(p.sessions * p.claude_session_share)
    n_codex = p.sessions - n_claude
    claude = _allocate(
        n_claude, [w if k != "codex" else 0.0 for w, k in zip(weights, kinds, strict=True)]
    )
    codex = _allocate(
        n_codex, [w if k != "claude" else 0.0 for w, k in zip(weights, kinds, strict=True)]
    )
    start = int(p.start.timestamp() * 1000)
    span = int(p.months * MONTH_DAYS * 86_400_000)
    draws = {
        "claude": _slices(provider_draws(seed, "claude", n_claude), claude),
        "codex": _slices(provider_draws(seed, "codex", n_codex), codex),
    }
    out = []
    for i in range(n):
        a = rng.uniform(0, 0.4) * span
        b = span - rng.uniform(0, 0.3) * span
        out.append(
            ContributorPlan(
                i,
                HANDLES[i],
                claude[i],
                codex[i],
                start + int(a),
                start + int(b),
                claude_draws=draws["claude"][i],
                codex_draws=draws["codex"][i],
                period_end_ms=start + span,
            )
        )
    return out


def _slices(values: list, counts: list[int]) -> list[tuple]:
    out, at = [], 0
    for c in counts:
        out.append(tuple(values[at : at + c]))
        at += c
    return out


def _allocate(total: int, weights: list[float]) -> list[int]:
    s = sum(weights)
    if s <= 0 or total <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out
