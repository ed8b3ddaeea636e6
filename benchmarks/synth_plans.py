"""Screen a generator change in seconds: session plans only, no files (run by hand).

    uv run python benchmarks/synth_plans.py [--seeds 0,1,2,3] [--provider claude|codex] [--cost]

Builds every session of the paper preset exactly as `generate` does (synth.session_plans)
without writing logs or truth, and prints per seed the token statistics a calibration pass
moves most: the user-step prefix-cache hit rate (Table 11, token-weighted; the own check's
bound is 3 points), Table 9's append-by-prefix-bin values within tolerance (p99 35 %, others
15 %) with the rows that fail, and Table 4's compactions (its rule: a drop of 64k from near
the thread's peak that does not recover) with their sessions' p90 / p99 and user share,
and Table 12's user-initiated append, fresh tokens and prefill amplification; with --cost
also Table 5's per-session and per-request medians and p90s and Table 13's cost reduction and
average saving per reduced step (both providers).

Measured against the full check on seeds 0-1: Table 9's and Claude's Table 4 counts are equal,
the hit rates within 0.002, Codex's user share ~0.8 points high (interrupted turns and their
inputs are left out here). A change that looks good here still needs the full check
(`benchmarks/synth.py --check`, ~40 s per seed), which also sees timing and every table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tracelab_pipeline.metrics.table_09_append_by_prefix_bin import EDGES, K, bin_label
from tracelab_pipeline.report.tables import paper_values
from tracelab_pipeline.synth import session_plans
from tracelab_pipeline.synth.calibration import TARGETS
from tracelab_pipeline.synth.codex_writer import metadata_seconds, wall_time_ms
from tracelab_pipeline.synth.presets import layout, resolve

HIT_RATE = {"claude": 0.869, "codex": 0.782}  # Table 11, user steps
# Inputs that make a step a user step (its first event a user message), as the logs write them:
# Claude records interrupts and compaction summaries as user messages, Codex only prompts.
USER_INPUTS = {"claude": {"prompt", "interrupt", "compact_summary"}, "codex": {"prompt"}}
# Table 4 (tracelab-metrics): a drop of at least this many tokens of prefix + append, from at
# least NEAR_PEAK of the thread's maximum, with none of the next REBOUND_STEPS back at NEAR_PEAK
# of the level before the drop.
MIN_DROP, NEAR_PEAK, REBOUND_STEPS = 64_000, 0.75, 3


def _model_shares() -> dict[str, dict[str, float]]:
    """Table 1's model mix (share of a provider's steps; the own check allows 3 points), for the
    models of at least 5 % of their provider's steps."""
    shares: dict[str, dict[str, float]] = {}
    for t in TARGETS:
        if t.key.startswith("model_share.") and t.paper >= 0.05:
            _, provider, model = t.key.split(".", 2)
            shares.setdefault(provider, {})[model] = t.paper
    return shares


MODEL_SHARES = _model_shares()
TOLERANCE = {"n": 0.15, "avg": 0.15, "p50": 0.15, "p90": 0.15, "p99": 0.35}


def table_9_paper(provider: str) -> dict[str, dict]:
    block = provider.capitalize()
    rows = paper_values()["table_09_append_by_prefix_bin"]["rows"]
    return {label: values for b, label, values in rows if b == block and values.get("n")}


def screen(seed: int, provider: str) -> str:
    appends: dict[str, list[int]] = {bin_label(i): [] for i in range(len(EDGES))}
    lows = [e * K for e in EDGES]
    cached = sent = 0
    per_thread: list[int] = []  # Table 4 compactions of each thread that has one
    by_trigger = {"user": 0, "tool": 0}
    user_append = user_fresh = 0  # Table 12's user-initiated block (fresh = growth - prior output)
    for c in layout(resolve("paper", None, None, None), seed):
        for _, _, plan in session_plans(c, seed, (provider,)):
            for thread in (plan.main, *plan.subagents):
                steps = [s for s in thread.steps if not s.aborted]
                for j, step in enumerate(steps):
                    i = int(np.searchsorted(lows, step.prefix, side="right")) - 1
                    appends[bin_label(i)].append(step.append)
                    if any(u.kind in USER_INPUTS[provider] for u in step.inputs):
                        cached += step.prefix
                        sent += step.prefix + step.append
                        if j:
                            prev = steps[j - 1]
                            user_append += step.append
                            user_fresh += (
                                max(0, step.prefix + step.append - prev.prefix - prev.append)
                                - prev.output
                            )
                found = compactions(steps)
                for trigger in found:
                    by_trigger[trigger] += 1
                if found:
                    per_thread.append(len(found))
    paper = table_9_paper(provider)
    ok = total = 0
    failing = []
    for label, want in paper.items():
        a = np.asarray(appends[label], dtype=float)
        got = {"n": len(a)}
        if len(a):
            got |= {
                "avg": a.mean(),
                **dict(zip(("p50", "p90", "p99"), np.percentile(a, [50, 90, 99]), strict=True)),
            }
        for stat, tol in TOLERANCE.items():
            if stat not in want or stat not in got:  # an empty bin: no verdict, as the report
                continue
            total += 1
            dev = got[stat] / want[stat] - 1
            if abs(dev) <= tol:
                ok += 1
            else:
                failing.append(f"{label} {stat} {dev * 100:+.0f}%")
    rate = cached / sent if sent else float("nan")
    n = sum(by_trigger.values())
    p90, p99 = np.percentile(per_thread, [90, 99]) if per_thread else (float("nan"),) * 2
    return (
        f"seed {seed} {provider}: user hit rate {rate:.4f} (Table 11 {HIT_RATE[provider]}), "
        f"Table 9 {ok}/{total}, "
        f"Table 4 compactions {n} ({by_trigger['user'] / max(n, 1):.1%} user-initiated) in "
        f"{len(per_thread)} sessions, p90 {p90:.0f} p99 {p99:.0f}\n"
        f"  Table 12 user append {user_append / 1e6:.1f}M fresh {user_fresh / 1e6:.2f}M "
        f"amplification {user_append / max(user_fresh, 1):.1f}\n"
        f"  Table 9 failing: {', '.join(failing) or 'none'}"
    )


def cost_medians(seed: int) -> str:
    """Table 5's per-session and per-request medians (total, append, prefix, output) from the
    plans of both providers, priced as the metrics do (Claude append = uncached input + cache
    writes at the 5-minute rate; every thread, sub-agents included, is a session; a request
    starts at a prompt). Equal to the full check on seed 0 (sessions $0.848, requests $0.272).
    Table 13 as its metric computes it over the user steps that have a predecessor (on seed 0
    within 4 points of the full check: plans -5 / +10 % for Claude, +7 / -14 % for Codex
    against -7.2 / +11.4 % and +3.7 / -14.5 %): a model's price moves these at once."""
    from tracelab_pipeline.metrics.pricing import load_pricing

    pricing, prices = load_pricing(), {}
    sessions, requests = [], []
    by_model: dict[tuple[str, str], int] = {}  # steps per (provider, model): Table 1's mix
    saved = {p: [0.0, 0] for p in USER_INPUTS}  # Table 13: cost reduction, reduced steps
    for c in layout(resolve("paper", None, None, None), seed):
        for provider, _, plan in session_plans(c, seed):
            for thread in (plan.main, *plan.subagents):
                total, current, priced, before = np.zeros(3), None, 0, None
                for step in thread.steps:
                    if step.aborted:  # no usage report: not a step
                        continue
                    sent, prev = step.prefix + step.append, before
                    before = sent
                    if current is None or any(u.kind == "prompt" for u in step.inputs):
                        if current is not None:
                            requests.append(current)
                        current = np.zeros(3)
                    key = (provider, step.model)
                    by_model[key] = by_model.get(key, 0) + 1
                    if key not in prices:
                        prices[key] = pricing.resolve(*key)
                    p = prices[key]
                    if p is None:
                        continue
                    written = step.append - step.uncached if provider == "claude" else 0
                    write = p.cache_write_5m or p.input  # (the metrics' fallback too)
                    user = any(u.kind in USER_INPUTS[provider] for u in step.inputs)
                    if prev is not None and user:
                        cut = step.append - min(step.append, max(0, sent - prev))
                        w = min(max(0, written - cut), step.append - cut)
                        # (the metric shrinks cache writes first; the cut moves to the prefix)
                        gain = (
                            (step.append - written) * p.input
                            + written * write
                            - ((step.append - cut - w) * p.input + w * write + cut * p.cache_read)
                        ) / 1e6
                        if cut and gain > 0:
                            saved[provider][0] += gain
                            saved[provider][1] += 1
                    cost = (
                        np.array(
                            [
                                (step.append - written) * p.input + written * write,
                                step.prefix * p.cache_read,
                                step.output * p.output,
                            ]
                        )
                        / 1e6
                    )
                    total, current, priced = total + cost, current + cost, priced + 1
                if current is not None:
                    requests.append(current)
                if priced:
                    sessions.append(total)
    parts = {"Append tokens": 0, "Prefix tokens": 1, "Output tokens": 2}
    rows = paper_values()["table_05_cost_distribution"]["rows"]
    out = []
    for block, units in (("Per session", sessions), ("Per request", requests)):
        a = np.asarray(units)
        columns = {"Total": a.sum(axis=1)} | {m: a[:, i] for m, i in parts.items()}
        got = {m: np.median(x) for m, x in columns.items()}
        want = {m: v["p50"] for b, m, v in rows if b == block}
        devs = " ".join(f"{m.split()[0]} {got[m] / want[m] - 1:+.0%}" for m in got)
        p90 = {m: v["p90"] for b, m, v in rows if b == block}
        devs90 = " ".join(
            f"{m.split()[0]} {np.percentile(x, 90) / p90[m] - 1:+.0%}" for m, x in columns.items()
        )
        out.append(
            f"{block.lower()} p50 ${got['Total']:.3f} (paper ${want['Total']}): {devs}, "
            f"p90 {devs90}"
        )
    t13 = {m: v for _, m, v in paper_values()["table_13_human_think_counterfactual"]["rows"]}
    out.append(
        "Table 13 cost reduction / avg saved per reduced step: "
        + " ".join(
            f"{p} {v / t13['Cost reduction'][p] - 1:+.0%} / "
            f"{v / max(n, 1) / t13['Avg saved / reduced step'][p] - 1:+.0%}"
            for p, (v, n) in saved.items()
        )
    )
    for provider, shares in MODEL_SHARES.items():
        n = sum(v for (p, _), v in by_model.items() if p == provider)
        devs = " ".join(
            f"{m.removeprefix('claude-')} {(by_model.get((provider, m), 0) / n - w) * 100:+.1f}"
            for m, w in shares.items()
        )
        out.append(f"{provider} step shares (pt): {devs}")
    return f"seed {seed} Table 5: " + "; ".join(out)


def apply_patch_timing(seed: int) -> str:
    """Table 10's apply_patch row from the Codex plans, timed two ways: as our reader does
    (a "Wall time" line, else a JSON output's metadata.duration_seconds, which codex_writer
    writes as the wall time less 0.05 s, rounded to 0.1 s) and as TraceLab did (the "Wall time"
    line only: B9 in tracelab-ingest). Equal to the full check on seed 0 for the first."""
    ours, tracelab = [], []
    for c in layout(resolve("paper", None, None, None), seed):
        for _, _, plan in session_plans(c, seed, ("codex",)):
            for thread in (plan.main, *plan.subagents):
                for step in thread.steps:
                    for t in step.tools:
                        wall = t.result_ms - t.emitted_ms
                        if t.name != "apply_patch" or wall <= 0:
                            continue
                        if t.internal_s is not None:
                            internal = wall_time_ms(t.internal_s)
                            tracelab.append((wall, internal))
                        else:
                            internal = round(metadata_seconds(wall) * 1000)
                        ours.append((wall, internal))
    out = []
    for label, calls in (("reader", ours), ("Wall time only", tracelab)):
        a = np.asarray(calls, dtype=float) / 1000
        res = np.maximum(a[:, 0] - a[:, 1], 0)
        p50, p90, p99 = np.percentile(res, [50, 90, 99])
        out.append(
            f"{label}: {len(a):,} calls, e2e {a[:, 0].sum() / 3600:.2f} h, int "
            f"{a[:, 1].sum() / 3600:.2f} h, res {res.sum() / 3600:.2f} h, avg {res.mean():.2f} s, "
            f"p50/p90/p99 {p50:.2f}/{p90:.2f}/{p99:.1f} s"
        )
    return (
        f"seed {seed} Table 10 apply_patch (paper 2.5k, 0.5 h, 0.3 h, 0.21 h, 0.30 s, "
        f"0.01/0.41/3.9 s): " + "; ".join(out)
    )


def compactions(steps) -> list[str]:
    """Table 4's compactions in one thread's steps, by trigger (a prompt opens the step, or
    not: tool results do)."""
    totals = [s.prefix + s.append for s in steps]
    if len(totals) < 2 or max(totals) <= 0:
        return []
    peak = max(totals)
    found = []
    for i in range(1, len(totals) - 1):
        before = totals[i - 1]
        if (
            before - totals[i] >= MIN_DROP
            and before >= NEAR_PEAK * peak
            and all(t < NEAR_PEAK * before for t in totals[i + 1 : i + 1 + REBOUND_STEPS])
        ):
            prompt = any(u.kind == "prompt" for u in steps[i].inputs)
            found.append("user" if prompt else "tool")
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--provider", choices=("claude", "codex"), default="claude")
    ap.add_argument("--cost", action="store_true", help="also Table 5's medians (~5 s per seed)")
    ap.add_argument(
        "--table10", action="store_true", help="also Table 10's apply_patch row, timed two ways"
    )
    args = ap.parse_args()
    for seed in (int(s) for s in args.seeds.split(",")):
        start = time.perf_counter()
        print(screen(seed, args.provider), f"({time.perf_counter() - start:.1f} s)")
        if args.cost:
            print(cost_medians(seed))
        if args.table10:
            print(apply_patch_timing(seed))


if __name__ == "__main__":
    main()
