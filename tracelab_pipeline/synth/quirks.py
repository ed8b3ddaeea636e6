"""Log shapes that real machines add to what the clients first write, and which of the
generated sessions get them.

- Codex rewrites a rollout idle for 7 days as `rollout-*.jsonl.zst` (zstd level 3) and deletes
  the plain file (formats/zstd.py): a share of the rollouts that ended a week or more before the
  preset's end is written that way.
- `claude --resume` continues an earlier session in a new file that first repeats the earlier
  file's records, under the earlier session id or under the new one (normalize/dedup.py): a
  share of Claude sessions resumes the contributor's previous session in the same project.
- Claude Code's `microcompact_boundary` (old tool results cleared without a summary) before a
  step of a share of Claude sessions.

Every choice here draws from its own stream, keyed by the seed and the session id, never from
the streams the calibrated draws use: with or without these quirks, every session's steps,
tokens and times are the same, and only where and how the records are written changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tracelab_pipeline.synth.session_model import SessionPlan

ZSTD_IDLE_MS = 7 * 86_400_000
ZSTD_LEVEL = 3
# Not every rollout: a machine compresses only once a client that does it has run there.
ZSTD_SHARE = 0.4
RESUME_SHARE = 0.25  # of the sessions that can resume an earlier one (resume_candidate)
MICROCOMPACT_SHARE = 0.06  # of Claude 2.x sessions with a step after a tool call


def stream(seed: int, session_id: str, quirk: str) -> random.Random:
    return random.Random(f"{seed}:{session_id}:{quirk}")


# ---------------------------------------------------------------------- Codex zstd


def compress_rollout(seed: int, plan: SessionPlan, ended_ms: int, period_end_ms: int) -> bool:
    """Whether this rollout is stored compressed (it ended at `ended_ms`)."""
    if ended_ms > period_end_ms - ZSTD_IDLE_MS:
        return False
    return stream(seed, plan.session_id, "zstd").random() < ZSTD_SHARE


def zstd_rewrite(path: Path) -> Path:
    """`path` rewritten as `<path>.zst`, as Codex does (one frame, the size in its header);
    the plain file is deleted. Streams, so memory does not grow with the rollout."""
    import zstandard

    out = path.with_name(path.name + ".zst")
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with open(path, "rb") as src, open(out, "wb") as dst:
        compressor.copy_stream(src, dst, size=path.stat().st_size)
    path.unlink()
    return out


# ---------------------------------------------------------------------- Claude resume


@dataclass(frozen=True)
class ResumeSource:
    """What a later session needs to resume this one."""

    session_id: str
    main_path: Path
    ended_ms: int


@dataclass(frozen=True)
class Resume:
    """A session's file starts with `source`'s file: its lines, under the source's session id
    or (`new_id`) rewritten to the resuming session's id."""

    source: ResumeSource
    new_id: bool


def resume_source(plan: SessionPlan, main_path: Path) -> ResumeSource | None:
    """`plan` as something a later session may resume, if the readers can tell what of the
    repeated history is a copy. Not for 1.x clients, whose sub-agents are inline sidechains
    (their copies would make threads of their own); not when the main thread's last call had
    tools: a resume under a new id would give their results to its first step as inputs."""
    steps = plan.main.steps
    if plan.version.startswith("1.") or not steps or steps[-1].tools:
        return None
    ended = max(steps[-1].last_out_ms, steps[-1].first_out_ms, plan.main.end_ms)
    return ResumeSource(plan.session_id, main_path, ended)


def resume_of(seed: int, plan: SessionPlan, source: ResumeSource | None) -> Resume | None:
    """Whether `plan` resumes `source` (the contributor's latest earlier session in the same
    project), and how. Only when the readers recover the session's start from its own first
    prompt: a 2.x client, after the source ended, a first step whose only input is a prompt."""
    if source is None or plan.version.startswith("1."):
        return None
    first = plan.main.steps[0] if plan.main.steps else None
    if first is None or [i.kind for i in first.inputs] != ["prompt"]:
        return None
    # (+1: the turn_duration record written just after the source's last call)
    if first.inputs[0].ts <= source.ended_ms + 1 or first.inputs[0].ts > first.first_out_ms:
        return None
    rng = stream(seed, plan.session_id, "resume")
    if rng.random() >= RESUME_SHARE:
        return None
    return Resume(source, new_id=rng.random() < 0.5)


# ---------------------------------------------------------------------- microcompaction


@dataclass(frozen=True)
class Microcompact:
    step: int  # index in the main thread of the step the boundary is written before
    tokens_saved: int
    tool_ids: tuple[str, ...]
    uuid_rng: random.Random


def microcompact_of(seed: int, plan: SessionPlan) -> Microcompact | None:
    if plan.version.startswith("1."):
        return None
    steps = plan.main.steps
    rng = stream(seed, plan.session_id, "microcompact")
    if rng.random() >= MICROCOMPACT_SHARE:
        return None
    # Steps that follow at least one tool call (microcompaction clears old tool results).
    first_tool = next((i for i, s in enumerate(steps) if s.tools), None)
    if first_tool is None or first_tool + 1 >= len(steps):
        return None
    at = rng.randrange(first_tool + 1, len(steps))
    cleared = [t.call_id for s in steps[:at] for t in s.tools]
    cleared = cleared[: rng.randint(1, min(len(cleared), 12))]
    saved = rng.randint(500, max(500, min(60_000, steps[at].prefix)))
    return Microcompact(at, saved, tuple(cleared), rng)
