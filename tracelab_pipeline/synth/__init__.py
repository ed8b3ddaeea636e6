"""Synthetic coding-agent workload: raw Claude Code / Codex logs calibrated to the paper,
plus the ground truth (our schema) that normalizing them must reproduce exactly.

    generate(preset="demo", seed=0, inbox_dir=..., truth_dir=..., contributors=, months=, sessions=)

Every session draws from its own RNG seeded by (seed, contributor, provider, index), so the
output is byte-identical for a seed whatever the number of worker processes. Work is split by
contributor; each worker streams its files to the inbox and its truth to a part directory,
and the parts are concatenated in contributor order at the end.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tracelab_pipeline.paths import real_path
from tracelab_pipeline.synth.presets import (
    CLAUDE_VERSION_WEIGHTS,
    CLAUDE_VERSIONS,
    CODEX_VERSION_WEIGHTS,
    CODEX_VERSIONS,
    ContributorPlan,
    layout,
    resolve,
)

__all__ = ["generate"]

_DAY_MS = 86_400_000


def generate(
    preset: str = "demo",
    seed: int = 0,
    inbox_dir: str | Path = "inbox",
    truth_dir: str | Path = "truth",
    *,
    contributors: int | None = None,
    months: int | None = None,
    sessions: int | None = None,
    workers: int = 2,
    progress: bool = False,
) -> dict:
    """Write the inbox and the truth; return a summary (counts, seconds, paths)."""
    t0 = time.perf_counter()
    p = resolve(preset, contributors, months, sessions)
    inbox = Path(inbox_dir)
    truth = Path(truth_dir)
    # (paths.real_path: a link loop then fails below as an OSError, a message, not a traceback)
    real_inbox, real_truth = real_path(inbox), real_path(truth)
    if real_truth == real_inbox or real_inbox in real_truth.parents:
        raise ValueError("the truth directory must not be inside the inbox")
    inbox.mkdir(parents=True, exist_ok=True)
    parts_root = truth / "_parts"
    if parts_root.exists():
        shutil.rmtree(parts_root)
    parts_root.mkdir(parents=True)
    plans = layout(p, seed)
    jobs = [(c, seed, str(inbox), str(parts_root / f"{c.index:03d}")) for c in plans]
    # Big contributors first so the pool stays busy; results are put back in order.
    order = sorted(
        range(len(jobs)), key=lambda i: -(plans[i].claude_sessions + plans[i].codex_sessions)
    )
    results: dict[int, dict] = {}
    bar = _bar(len(jobs), progress)
    if workers <= 1 or len(jobs) <= 1:
        for i in order:
            results[i] = _contributor(*jobs[i])
            bar.update(1)
    else:
        # spawn, not fork: the caller may already run pyarrow/DuckDB threads, which fork copies
        # in whatever state their locks are.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {i: pool.submit(_contributor, *jobs[i]) for i in order}
            for i in order:
                results[i] = futures[i].result()
                bar.update(1)
    bar.close()
    from tracelab_pipeline.synth.truth import merge_parts

    merge_parts([Path(jobs[i][3]) for i in range(len(jobs))], truth)
    shutil.rmtree(parts_root)
    totals = {"sessions": 0, "files": 0, "steps": 0, "tool_calls": 0, "timing_events": 0}
    for r in results.values():
        for k in totals:
            totals[k] += r[k]
    seconds = time.perf_counter() - t0
    return {
        "preset": p.name,
        "seed": seed,
        "contributors": p.contributors,
        "months": p.months,
        **totals,
        "seconds": round(seconds, 2),
        "steps_per_second": round(totals["steps"] / seconds, 1) if seconds else None,
        "inbox": str(inbox),
        "truth": str(truth),
    }


def _contributor(c: ContributorPlan, seed: int, inbox: str, part_dir: str) -> dict:
    from tracelab_pipeline.synth import quirks
    from tracelab_pipeline.synth.claude_writer import ClaudeWriter
    from tracelab_pipeline.synth.codex_writer import CodexWriter
    from tracelab_pipeline.synth.truth import TruthSink

    sink = TruthSink(Path(part_dir))
    inbox_path = Path(inbox)
    files = sessions = 0
    # The latest Claude session of each project, which the next one there may resume.
    latest: dict[str, quirks.ResumeSource | None] = {}
    for provider, rng, plan in session_plans(c, seed):
        if provider == "claude":
            writer = ClaudeWriter(
                plan,
                rng,
                inbox_path,
                resume=quirks.resume_of(seed, plan, latest.get(plan.cwd)),
                microcompact=quirks.microcompact_of(seed, plan),
            )
            files += writer.write()
            latest[plan.cwd] = writer.resume_source()
        else:
            writer = CodexWriter(plan, rng, inbox_path)
            files += writer.write()
            if quirks.compress_rollout(seed, plan, writer.ended_ms, c.period_end_ms):
                writer.compress()
        sink.add(*writer.finish())
        sessions += 1
    counts = sink.close()
    return {"sessions": sessions, "files": files, **counts}


def session_plans(c: ContributorPlan, seed: int, providers: tuple[str, ...] = ("claude", "codex")):
    """Contributor `c`'s sessions as `generate` draws them: (provider, rng, plan), the rng then
    continuing into the writer. Plans alone (no files) are what calibration screens quickly
    (benchmarks/synth_plans.py)."""
    from tracelab_pipeline.synth.session_model import SessionBuilder

    for provider, count, draws in (
        ("claude", c.claude_sessions, c.claude_draws),
        ("codex", c.codex_sessions, c.codex_draws),
    ):
        if provider not in providers:
            continue
        starts = _session_starts(random.Random(f"{seed}:{c.handle}:{provider}:starts"), c, count)
        for i, start in enumerate(starts):
            rng = random.Random(f"{seed}:{c.handle}:{provider}:{i}")
            if provider == "claude":
                version = rng.choices(CLAUDE_VERSIONS, CLAUDE_VERSION_WEIGHTS)[0]
            else:
                version = rng.choices(CODEX_VERSIONS, CODEX_VERSION_WEIGHTS)[0]
            yield (
                provider,
                rng,
                SessionBuilder(rng, provider, c.handle, start, version, draws=draws[i]).build(),
            )


def _session_starts(rng: random.Random, c: ContributorPlan, count: int) -> list[int]:
    """Session start times in the contributor's active window, mostly during waking hours."""
    out = []
    span_days = max(1, (c.window_end_ms - c.window_start_ms) // _DAY_MS)
    for _ in range(count):
        day = c.window_start_ms - c.window_start_ms % _DAY_MS + rng.randrange(span_days) * _DAY_MS
        hour = min(23.9, max(0.0, rng.gauss(14.5, 4.0)))
        out.append(day + int(hour * 3_600_000) + rng.randrange(3_600_000) // 60)
    return sorted(out)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="contributors", unit="contrib")
