"""The workload model: one coding-agent session as a plan of steps, tools, tokens and times.

A plan is provider-neutral numbers (timestamps in integer ms, token counts, sizes, latencies);
the writers turn it into the exact records Claude Code or Codex would write. The structure
follows the paper: a session is a run of requests (a user prompt, then an autonomous loop of
tool-initiated steps, Table 2), separated by human think time (Table 7); context accumulates
step by step (Table 3), is served from the prefix cache unless an idle gap evicted it
(Table 11, Fig 11), is compacted near the model's context limit (Table 4), and the previous
output is either re-sent as append or cached as prefix depending on the model (Fig 3).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

from tracelab_pipeline.synth import calibration as cal
from tracelab_pipeline.synth import ids
from tracelab_pipeline.synth.sampling import (
    QuantileDist,
    choice_at,
    cumulative,
    paper_dist,
    weighted_choice,
)
from tracelab_pipeline.synth.strata import SessionDraws


def _dist(t: tuple, *knots: tuple[float, float] | None) -> QuantileDist:
    """(p25, p50, p90, p99, max) as a sampler; `knots`, extra (quantile, value) knots between
    them, shape the distribution there (calibration.TOOL_LATENCY_TAIL_KNOT,
    CODEX_RESIDUAL_KNOT, CODEX_RESIDUAL_TAIL, HUMAN_WAIT_BODY_KNOTS)."""
    p25, p50, p90, p99, hi = t
    extra = [k for k in knots if k is not None]
    if not extra:
        return paper_dist(p25, p50, p90, p99, lo=min(p25, p50) / 4, hi=hi)
    lo = min(p25, p50) / 4
    return QuantileDist(
        [(0.0, lo), (0.25, p25), (0.5, p50), (0.9, p90), (0.99, p99), *extra, (1.0, hi)]
    )


_NORMAL = NormalDist()


U300 = cal.WAIT_U300  # where HUMAN_WAIT crosses 300 s (the 5-min cache TTL)


def _quick_human_wait() -> QuantileDist:
    """HUMAN_WAIT with calibration.HUMAN_WAIT_BODY_KNOTS below 300 s for large sessions."""
    # 300 s pinned at its quantile, so every quantile keeps its side of the 5-min TTL
    return _dist(cal.HUMAN_WAIT_S, (U300, 300.0), *cal.HUMAN_WAIT_BODY_KNOTS)


HUMAN_WAIT = _dist(cal.HUMAN_WAIT_S)
HUMAN_WAIT_QUICK = _quick_human_wait()


_GEN_OUT = 0.6
GENERATION = QuantileDist(cal.GENERATION_S)
OUTPUT = {p: QuantileDist(v) for p, v in cal.OUTPUT_TOKENS.items()}
TOOL_LATENCY = {
    name: _dist(v, cal.TOOL_LATENCY_TAIL_KNOT.get(name)) for name, v in cal.TOOL_LATENCY_S.items()
}
RESIDUAL = {
    name: _dist(v, cal.CODEX_RESIDUAL_KNOT.get(name), *cal.CODEX_RESIDUAL_TAIL.get(name, ()))
    for name, v in cal.CODEX_RESIDUAL_S.items()
}
APPLY_PATCH_EXEC = _dist(cal.APPLY_PATCH_EXEC_S, *cal.APPLY_PATCH_EXEC_KNOTS)
# Session shape (Table 2): requests and tool-initiated steps, correlated.
# (The knots above p90 give the longest sessions, which SIZE_RHO_TAIL pairs with the top request
# quantiles, most of the requests: Table 12. Table 2's per-session requests keep p90 18 / p99
# 137 once the one-request sub-agent sessions are counted, and the median request 1 tool step.)
REQUESTS = QuantileDist(
    [(0, 1), (0.51, 1), (0.511, 2), (0.9, 21), (0.97, 70), (0.99, 170), (1.0, 500)]
)
TOOL_STEPS = QuantileDist([(0, 1), (0.25, 6), (0.5, 24), (0.9, 140), (0.99, 1107), (1.0, 4000)])
# Size of the fresh content a tool result adds (tokens): chosen so that append per step lands on
# Table 8/9 (median ~850 with the re-sent previous output on top).
# Codex's results are bimodal (short command output vs file dumps: Table 8's append p50 886 with
# p90 8,310), with the tail bounded by Table 3's average positive growth of tool-initiated steps
# (1,783 tokens = mean result + re-sent output) and Table 12's tool-step fresh share (40.5 %).
RESULT_TOKENS = {
    "claude": QuantileDist(
        [(0, 8), (0.25, 72), (0.5, 215), (0.9, 1800), (0.99, 7800), (1.0, 3.6e4)]
    ),
    "codex": QuantileDist(
        [
            (0, 8),
            (0.25, 100),
            (0.5, 150),
            (0.75, 800),
            (0.85, 1300),
            (0.92, 3200),
            (0.99, 8000),
            (1.0, 11000),
        ]
    ),
}
# Fresh harness context a new user turn adds besides the prompt (Codex re-sends its environment
# context and instructions, Claude Code attaches system reminders and file snippets): Table 3's
# average positive growth of user-initiated steps is 2,742 (Codex) / 1,527 (Claude) tokens,
# far more than a median prompt, and Table 12's user-step fresh tokens (20.4M / 11.4M).
TURN_CONTEXT_TOKENS = {
    "claude": QuantileDist([(0, 0), (0.4, 25), (0.6, 150), (0.9, 900), (0.99, 6000), (1.0, 2e4)]),
    "codex": QuantileDist([(0, 0), (0.3, 90), (0.5, 760), (0.9, 3900), (0.99, 12e3), (1.0, 2.4e4)]),
}
PROMPT_CHARS = QuantileDist(
    [(0, 2), (0.25, 60), (0.5, 180), (0.9, 1400), (0.99, 9000), (1.0, 40000)]
)
SUBAGENT_STEPS = QuantileDist([(0, 1), (0.5, 7), (0.9, 24), (0.99, 70), (1.0, 150)])


def _claude_mix(longest: bool) -> tuple[list[str], list[float]]:
    """Claude's model weights: the longest sessions draw among 1M-window models only, the
    others weigh the natively-200k ones up (calibration.CLAUDE_1M_FROM_Q / _200K_MODEL_BOOST)."""
    weights = {}
    for name, w in cal.CLAUDE_MODELS.items():
        native_200k = cal.CONTEXT_LIMIT.get(name, 200_000) <= 200_000
        if longest and native_200k:
            continue
        weights[name] = w * (cal.CLAUDE_200K_MODEL_BOOST if native_200k else 1.0)
    return list(weights), cumulative(weights.values())


CLAUDE_MODEL_MIX = {longest: _claude_mix(longest) for longest in (False, True)}
CODEX_MODEL_NAMES = list(cal.CODEX_MODELS)
CODEX_MODEL_CUM = cumulative(cal.CODEX_MODELS.values())
HAIKU = "claude-haiku-4-5"


def _main_claude_model(longest: bool, u: float) -> tuple[str, bool]:
    """A main thread's model at quantile `u`, and whether it was moved out of Haiku: within
    Haiku's band only the first CLAUDE_MAIN_HAIKU_KEEP keeps Haiku (its sub-agents bring the rest
    of Table 1's share); the rest of the band is spread over the 1M-capable models, so no other
    session's first model moves. (A mid-session switch drawn into that rest now lands on a
    1M-capable model instead of Haiku: in a 1M-window session it is taken where a switch to
    Haiku was refused for its smaller window.)"""
    names, cum = CLAUDE_MODEL_MIX[longest]
    model = choice_at(names, cum, u)
    if model != HAIKU:
        return model, False
    i = names.index(HAIKU)
    lo = cum[i - 1] if i else 0.0
    v = (u * cum[-1] - lo) / (cum[i] - lo)  # the position within Haiku's band
    keep = cal.CLAUDE_MAIN_HAIKU_KEEP
    if v < keep:
        return HAIKU, False
    return choice_at(*CLAUDE_MODEL_MIX[True], (v - keep) / (1.0 - keep)), True


def _later_tools(mix: dict[str, float], opening: dict[str, float], share: float) -> dict:
    """Weights of the calls after a request's openings that keep the pooled mix on `mix`."""
    total, open_total = sum(mix.values()), sum(opening.values())
    return {
        name: max(0.0, w / total - share * opening.get(name, 0.0) / open_total) / (1.0 - share)
        for name, w in mix.items()
    }


# Tool choice by position in the request (calibration.OPENING_TOOLS; Fig 7, Table 7).
TOOL_MIX = {
    (provider, opening): (list(weights), cumulative(weights.values()))
    for provider, target in (("claude", cal.CLAUDE_TOOLS), ("codex", cal.CODEX_TOOLS))
    for opening, weights in (
        (True, cal.OPENING_TOOLS[provider]),
        (
            False,
            _later_tools(target, cal.OPENING_TOOLS[provider], cal.OPENING_SHARE[provider]),
        ),
    )
}
# Tool calls per tool-emitting step of the large sessions, which hold most steps (Table 1:
# 142,388 Claude calls over 140,338 steps, 290,122 Codex calls over 216,823 steps, i.e. ~1.18 and
# ~1.46 per tool-emitting step once the openings of requests and the small sessions below have
# taken their share).
CALLS_PER_STEP = {
    "claude": ([1, 2, 3, 4, 5, 7], cumulative([0.99, 0.007, 0.002, 0.001, 0.0, 0.0])),
    "codex": ([1, 2, 3, 4, 5, 7], cumulative([0.76, 0.15, 0.05, 0.025, 0.01, 0.005])),
}
# Small sessions call tools more in parallel: Table 2's median session has 15 tool-initiated
# steps but 25 tool calls (p25: 4 steps, 8 calls), while a step averages 1.2 calls overall.
CALLS_PER_STEP_SMALL = ([1, 2, 3, 4, 5, 7], cumulative([0.46, 0.34, 0.12, 0.05, 0.02, 0.01]))
# A request often opens with parallel exploration (Table 2: 2 tool calls per request at p50
# although the median request has a single tool-initiated step).
FIRST_CALLS = ([1, 2, 3, 4, 5], cumulative([0.46, 0.3, 0.14, 0.06, 0.04]))
# Steps per session differ by provider (Table 1: 140,338 Claude steps over 2,676 sessions
# including sub-agents, 216,823 Codex steps over 1,589).
TOOL_STEP_SCALE = {"claude": 0.6, "codex": 1.29}
# Correlation of a session's tool-initiated steps with its requests (normal scores). Higher
# values put more context under later prompts (Table 12) but more tool steps into the median
# request (Table 2: 1), which 0.88 already breaks for all sessions ...
SIZE_RHO = 0.75
# ... so it rises to SIZE_RHO_TAIL only between these normal scores of session size (the top
# ~5 %): Table 12's user steps append 672M (Claude) at an 86.9 % hit rate, i.e. ~300k tokens of
# context each against ~200k for the average step, so the requests sit mostly in the longest
# sessions.
SIZE_RHO_TAIL = 0.97
SIZE_RHO_TAIL_Z = (1.6, 2.4)
# Requests per session beyond the second, by provider (Table 3 / Table 13: 16,927 Claude vs
# 17,033 Codex user-initiated steps over 2,676 vs 1,589 sessions).
REQUEST_SCALE = {"claude": 0.72, "codex": 0.92}
REQUEST_SPLIT_ALPHA = 0.3
# No single request takes more than this weight (mean weight 0.3): long sessions spread their
# work (Table 2: p99 of 86 tool-initiated steps and 113 tool calls per request although
# sessions reach 1,107 / 1,438).
REQUEST_WEIGHT_MAX = 2.0
# A session has at least one request per this many tool-initiated steps: the split above still
# gives the first request the largest share, and without a floor the few very long sessions
# with few prompts put single requests far past Table 2's p99 (86 steps, 113 calls).
REQUEST_STEPS_MAX = 25
# Prefix-cache misses (Table 11 hit rates, Fig 11 idle gaps). Tool-result steps miss rarely.
# User steps idle past the TTL miss the more often the longer the idle time, as knots
# (log idle seconds, miss probability): rising through the hour (so that the low-hit user
# steps' median gap, ~21 min, does not sit on the edge between a short-gap and a long-gap group)
# and on to almost sure after hours (their p90, ~10.6 h).
MISS_TOOL_P = {"claude": 0.011, "codex": 0.007}
MISS_AFTER_IDLE = {
    "claude": ((300, 0.3), (3600, 0.68), (36_000, 0.93)),
    # Codex: Table 11's user hit rate is 78.2 %; with 0.5 / 0.88 / 0.97 it was 79.0-79.8 % on
    # seeds 0-3, Tables 12/13's Codex user append / append reduction 7-10 % low and Table 13's
    # Codex saving per reduced step $0.091-0.096 ($0.116): too few user steps paid a re-prefill.
    "codex": ((300, 0.6), (3600, 0.92), (36_000, 0.98)),
}
# Claude user steps past their cache's TTL miss more often the larger the cached conversation,
# as knots (cached tokens, share of the remaining hits that miss): a long conversation's cache
# entry is the costliest to keep, and Table 12's Claude user steps append 672M at an 86.9 % hit
# rate, i.e. their misses sit at long contexts (~300k per user step). With waits past 1 h no
# longer tied to session size (calibration.WAIT_LONG_*), the long sessions' idle misses alone
# left Claude's user-step append at 551-569M on seeds 0-1 (it was 550-685M on seeds 0-3 before,
# now 587-655M; the Claude user hit rate is 0.841-0.850, Table 11: 0.869). These misses keep the
# system prompt and project context (the project's other sessions send the same opening;
# dropping everything, as other misses mostly do, put Table 9 at -5 over seeds 0-3: Claude's
# <1k / 4-8k bins' averages are already above the paper, its 16-32k average below).
# (0.2 at 600k, Table 11's Claude user hit rate 0.839-0.849 -> 0.849-0.860 plan-only, but Table
# 12's Claude user-step append 604-671M -> 545-622M on seeds 0-3 (672M); with 0.2-0.25 and
# follow-ups placed at a full context, see _split, the rate was 0.851-0.864 at 612-699M, but
# Table 9's Claude <1k avg +18..+22 % and Table 4's user-initiated share moved: 493-496/536 on
# seed 0 vs 499, not kept; benchmarks/synth_paper_check.txt.)
MISS_LARGE_CONTEXT = {"claude": ((200_000, 0.0), (600_000, 0.45))}
# Share of later requests that switch to a newly drawn model (Table 1's step shares by model
# then depend less on the model the few longest sessions start with).
MODEL_SWITCH_P = 0.6
# Codex's first-call context (environment context, AGENTS.md), tokens: added to CODEX_STATIC it
# makes the opening's total, which CODEX_CACHED splits into the cached part and the rest the
# first call writes (this draw also weighs on the split). Table 9: its 8-16k prefix bin is mostly
# ordinary growth (median append 2.9k), and the 4-8k bin (3,501 steps) is not: 1,000-9,000 left
# ~1,100 ordinary steps of small projects there (4.4-4.5k steps on seeds 0-3).
CODEX_INIT = (2_000, 10_000)
# Codex's opening: instructions and tool schemas drawn here, tokens, plus CODEX_INIT; every
# later token count carries the sum (Table 9: 90 / 2,108 / 3,501 steps in the 1-2k / 2-4k / 4-8k
# bins, mostly first calls, compactions and misses keeping the cached part).
CODEX_STATIC = (2_000, 7_000)
# How much of that opening is the cached part (its prefix bin) is drawn apart: CODEX_CACHED at a
# quantile whose normal score weighs the session's tool-step score and the CODEX_INIT draw
# (CODEX_CACHED_WEIGHTS; the CODEX_STATIC quantile for the rest), the rest of the opening (at
# least CODEX_REST_MIN) being written by the first call. Sessions with more tool schemas cached
# carry more project context and run longer; small sessions with a small opening cache a short
# prompt. The weights are fitted, the paper gives neither correlation. The sum is kept, so no
# draw moves: only the prefix of first calls, compactions and the misses that keep the cached
# part. Why: with the cached part the plain CODEX_STATIC draw, the 1-2k bin was the ~1 % of
# sessions at 2,000-2,047 (rounded down to 1,920), whose few large ones put their compactions
# (append ~23k) and misses (35k tool, 143k user) there: avg / p50 / p90 +79..+1,146 % on
# seeds 0-3 (the paper's median is 4.3k); and the 2-4k bin (first calls 6.6k, compactions
# 22.7k, misses ~100k) had its median at +30..+38 % (20.8k) while 4-8k's passed. Plans of seeds
# 0-3 now: 2-4k median +11..+15 %, 4-8k median +5..+14 %, 1-2k 1-3 of 5 values within (was
# 1-2), still off by its few large sessions (benchmarks/synth_paper_check.txt).
CODEX_CACHED = (1_900, 6_000)
# (The weights' squares must sum below 1: the noise's weight is the square root of the rest.)
CODEX_CACHED_WEIGHTS = (0.25, 0.7)
CODEX_REST_MIN = 1_000
# Which sessions cache under 2,048 (the top of CODEX_SHARED_BASE; Table 9's 1-2k bin holds their
# first calls) also follows what their first call writes, the rest of the opening: among the
# sessions below the CODEX_SMALL_SIZE size quantile, one that would write more than
# CODEX_SMALL_PUSH_REST caches 2,048 instead, and one caching under CODEX_SMALL_PULL_CACHED
# that would write less than CODEX_SMALL_PULL_REST caches 2,047 (the opening's sum kept, no
# draw). A fit: the paper's 1-2k median (4.3k) sits among small first calls, and ours was +11 %
# on average over the plans of seeds 0-11 (-4..+25 %; now -8..+12 %). The size edge keeps the
# larger sessions' many compactions where they were (without it, pulled sessions moved them
# from the 2-4k bin to under 1k: <1k n +15..+18 % on 3 of those seeds;
# benchmarks/synth_paper_check.txt).
CODEX_SMALL_PUSH_REST = 4_800
CODEX_SMALL_PULL_REST = 3_400
CODEX_SMALL_PULL_CACHED = 2_600
CODEX_SMALL_SIZE = 0.8
# Codex's base instructions are a prefix shared by every session of a client version, so a
# session whose own cached part (CODEX_CACHED) is gone can still hit that shared base: Table 9's
# 1-2k bin (90 steps; avg / p50 / p90 / p99 22.2k / 4.3k / 63.9k / 192.6k). Only a session's
# first step of each kind can keep it, chosen by the session's phase (`residual_u`, a lattice
# over all sessions in size order, synth/strata.py; no draw), so the bin's steps come one from
# each of many sessions, not all from the few large ones among the sessions with a small cached
# part:
# - "compact": that share of the sessions' first compaction that would keep the cached part
#   (appends ~26k: the bin's middle);
# - "miss": that share of the first miss that would keep the cached part once the conversation
#   holds CODEX_BASE_MISS_FROM, in the sessions of the top CODEX_BASE_MISS_SIZE quantile by size
#   (2-3 a seed, appends 150-250k: the bin's top). The top quantile is a fixed block of ~48
#   sessions whose lattice phases are evenly spread, so about as many fall in the window on
#   every seed; the first such miss at any context and size (~5 a seed, appends of 33-196k,
#   scattered over the size ranks) left the p99 at -61..-7 % on the plans of seeds 0-11;
# - "drop": that share of their first miss that drops everything (MISS_DROPS_ALL_FROM, 45k)
#   while the conversation holds CODEX_BASE_DROP: the shared base outlives the session's own
#   entries a little (appends 50-73k, ~10-20 a seed: they set the bin's p90). The bin's p90 is
#   about its 9th-largest step, so with the window from 45k it sat low where a seed had few
#   of them (-20..+0 %, mean -7 %, over the plans of seeds 0-11); from 50k at a larger share
#   (as many steps) it is -9..+4 % (mean -2 %).
# A session whose cached part is itself under 2,048 (the top of CODEX_SHARED_BASE; ~50 a seed,
# whose first calls, appends ~3.5k, are the bin's lower half) counts as caching only the base:
# its other compactions and misses that would keep it drop everything instead.
# All of it is a fit; the paper says only that the bin has steps near 190k (its p99): the
# shares, the edges, the size block, that rule, and the base's size, spread over
# CODEX_SHARED_BASE by the phase (only its bin matters). Whether a session has a first
# compaction or a late miss follows its size, so those counts spread less between seeds than
# independent picks would; whether it has a drop-everything miss at 50-70k follows its own
# draws, so that count spreads about as much. Over the plans of seeds 0-11 the 1-2k p90 went
# from -75..+144 % to -9..+4 %, p99 to -19..+11 %; the p50 sits among the small-cached
# sessions' first calls (CODEX_SMALL_PUSH_REST; benchmarks/synth_paper_check.txt). The phase is
# the one the shell_command and apply_patch timings start from (_weyl): no paper table crosses
# the two, and a phase of its own (its own offset and step, as strata.py adds the residual's) left
# more of the bin's values out on those plans, 12 against 7 (before the late "miss" kind), so
# the fit's counts hold some luck of the phase.
CODEX_SHARED_BASE = (1_024, 2_048)
CODEX_BASE_SHARE = {"compact": 0.065, "miss": 0.05, "drop": 0.25}
CODEX_BASE_DROP = (50_000, 70_000)
CODEX_BASE_MISS_FROM = 150_000
CODEX_BASE_MISS_SIZE = 0.97
# (Each kind's offset on the session's phase: disjoint windows, so a session gives one kind.)
CODEX_BASE_OFFSET = {"compact": 0.75, "miss": 0.875, "drop": 0.375}
# Claude's first-call context besides the cached system prompt (project instructions, memory,
# MCP tool schemas), log-uniform between these (log tokens): Table 9's 16-32k bin holds 10,248
# steps with a median append of 1.3k, i.e. many sessions start below 32k and grow through it,
# and Table 5's median session costs $0.61.
CLAUDE_INIT_LOG = (math.log(3_000), math.log(40_000))
# Claude Code's cached system prompt and tool schemas, tokens: a miss that keeps them lands in
# Table 9's 8-16k / 16-32k bins (avg append 38.8K / 35.4K, p99 549K / 661K); a larger prompt
# empties the 8-16k bin (4,034 steps).
CLAUDE_STATIC = (9_000, 24_000)
# Codex's ordinary reductions at a new user turn, log-uniform (log tokens), Table 3 ordinary.
CODEX_DROP_LOG = (math.log(1_025), math.log(63_000))
# Factor on tool-result sizes by the context so far, as knots (context tokens, factor): early in
# a context the agent explores (whole files, broad searches), later it makes targeted reads and
# edits. Table 9's median / p90 append by prefix bin: Codex 2.9k / 1.9k at 8-16k / 16-32k
# against ~800 past 64k (and fewer steps in those bins); Claude p90 5.3k / p99 27k at 32-64k
# against 3.1-3.2k / 8.8-10k past 128k (0.85 / 0.8 there put p90 +20 % and p99 +20-36 % on
# seeds 0-3, and 1.2 at 45k the 32-64k p99 at -36 %); Codex's 8-16k median (2.9k) was 2.2-2.4k
# with a factor of 1.0 at 8k.
RESULT_BY_CONTEXT = {
    "claude": ((24_000, 1.0), (45_000, 1.4), (90_000, 0.95), (180_000, 0.75), (300_000, 0.7)),
    "codex": ((8_000, 1.5), (16_000, 2.2), (24_000, 3.0), (40_000, 1.8), (64_000, 1.0)),
}
# Final answers are longer than mid-loop outputs (normal-score shift of the output draw):
# Table 3's average positive growth of user-initiated steps (1,527 / 2,742) is the re-sent
# final answer plus the new prompt, whose fresh part Table 12 puts at 11.4M / 20.4M.
FINAL_OUTPUT_SHIFT = 0.15
# Output per step by the session's planned size (its tool-initiated steps plus the opening one),
# as knots (steps, factor), fitted to Table 5's per-session output median: the median session
# (single-request, 13-18 steps) spent $0.22-0.23 on output on seeds 0-3 against the paper's
# $0.16 at full outputs and Opus-priced sub-agents. The factor scales every main-thread step of
# the session, final answers included, whatever tools it calls (sub-agents keep 1). Why small
# sessions would write less is a guess the paper does not test: questions and look-ups call
# read-only tools with short arguments, working sessions write code, and Edit / Write /
# apply_patch payloads are output tokens. Sub-agents on Haiku (calibration.CLAUDE_SUBAGENT_HAIKU_P)
# lower the same median through prices; with both, it is -7..-14 % (plans of seeds 0-3): the
# knots were fitted before the Haiku sub-agents and were not refitted. From 60 planned steps
# (the sessions that hold most steps, so Table 8's per-step outputs) the factor is 1. No draw
# is added, so a small session makes the same number of draws, but those whose outcome depends
# on token counts (cache misses, rewinds) can still fall otherwise: 1 of the demo's 240
# sessions changed.
# (Codex's factor is milder: its outputs are re-sent as append, and 0.55-0.6 put Table 9's Codex
# 8-16k median, 2.9k, at -15 % on seed 2.)
OUTPUT_BY_SIZE = {"claude": ((10, 0.55), (60, 1.0)), "codex": ((10, 0.75), (60, 1.0))}
# Claude Code re-renders the end of the conversation at a new prompt (system reminders move),
# so the cache read stops short of the previous call's input by a few hundred to a few thousand
# tokens at most (Table 13: $3,680 saved over ~14,000 Claude user steps, $0.263 each, most
# of it at the misses; Table 9's medians leave no room for larger lags). Each such lag makes its
# step a "reduced" one saving almost nothing: with 0.85 of the hits lagging, 87 % of Claude user
# steps were reduced (paper ~83 %) and the average saving $0.204-0.226 on seeds 0-3 (-15..-23 %)
# while the misses' total saving was -6..-17 %; 0.68 centred the average. 0.68 -> 0.6: Table
# 13's total average per reduced step (both providers, $0.192) was -10.2/-11.0/-17.2/-10.6 % on
# seeds 0-3 (Codex's is -12..-14 %), now -6.2/-7.2/-13.6/-6.6 % (seed 2 passes); Claude's own
# -0.5/-2.7/-11.2/-0.5 -> +10.1/+7.2/-1.7/+10.2 %. Prefix only: 507/509/504/510 -> 507/509/505/510.
CLAUDE_TURN_REWRITE = (0.6, math.log(10), math.log(600))
# The lag is drawn for this share of prompts whatever the share above, so that tuning it changes
# only those steps' prefixes, not the rest of the session's draws.
CLAUDE_TURN_REWRITE_DRAW = 0.85
# Share of a Claude prompt's turn context (TURN_CONTEXT_TOKENS) that the previous request's last
# tool results carry instead, once the conversation holds CLAUDE_TURN_CONTEXT_EARLY_FROM tokens
# (Claude Code's system reminders ride on tool results as well as on prompts). Table 12: Claude's
# user-step fresh tokens were +5..+12 % on seeds 0-3 (11.4M) and its user-step amplification
# -10..-22 % (58.8) at a user hit rate 0.2-0.3 pt above the own check's bound (the append cannot
# rise). The prompt's total stays as it was and every decision at the prompt (reductions, the
# cache outcome, what a miss keeps) reads the context as without the move (`seen` in _tokens),
# so no draw moves: only the two steps' token split. Plans: fresh -11..-12 %, amplification
# +11..+13 %, Table 9 Claude pass counts unchanged (0.15 applied at any context size put seed
# 3's 16-32k p50 at +15 %, out). A fit to Table 12; the paper does not split the turn context.
CLAUDE_TURN_CONTEXT_EARLY = 0.3
CLAUDE_TURN_CONTEXT_EARLY_FROM = 64_000
# Seconds from an Esc-interrupted Codex turn to the user's redirecting prompt.
ABORT_REDIRECT_S = (3.0, 90.0)
ABORT_REDIRECT_P = 0.5
# Share of gpt-5.4 calls that re-send the previous output anyway (Fig 3: 13 % of its pairs look
# output-resend; cache misses and partial misses make up the rest; 0.05 put the share 0.3-1.6
# points above 13 % on seeds 0-3).
OUTPUT_RESEND_P = 0.04
# Share of Codex context cycles that compact at a lower level (share of the window between).
CODEX_LOW_COMPACT = (0.03, 0.5, 0.68)
# Rewinds at a new prompt once the conversation holds this many tokens, probability per prompt.
REWIND_FROM = 100_000
REWIND_P = {"claude": 0.004, "codex": 0.005}
REWIND_BELOW = 0.75  # share of the context limit: rewinds happen mid-task, not at a full context
# Share of first calls that find the shared system prompt cached (Table 9: Claude's <1k bin holds
# 2,937 steps with a median append of 78k, many of them uncached first calls, the rest misses;
# the median sits between the two groups). CLAUDE_DROP_KEEPS_OPENING below takes the largest
# misses out of the bin, so fewer uncached first calls are what hold its median: at 0.62 it is
# -5..-14 % on seeds 0-3 (plans), inside the own check's bound.
FIRST_CACHED = {"claude": 0.62, "codex": 0.99}
# Compaction summary (Codex keeps the recent user messages next to it), tokens; whether the
# system prompt stays cached across the compaction (Table 9: Codex's 2-8k bins, medians ~21-26k,
# which the compactions, with the opening context on top, sit at).
# (Codex (10k, 40k), for Table 4's Codex average per compacting session, 3.57 vs 4.23 on seed 0:
# 3.67-3.76 plan-only, but seed 0's own check fails on Table 9's Codex 4-8k median, +31.6 %.)
# (Codex (4k, 18k) / (3k, 16k) for Table 9's Codex 2-4k median, +30 %: plan-only, seeds 0-1,
# +23..+30 % / +15..+19 %, but the 4-8k median drops alike, -13..-16 % / -18 %; sessions re-draw.)
COMPACT_SUMMARY = {"claude": (6_000, 30_000), "codex": (5_000, 22_000)}
COMPACT_KEEPS_STATIC = {"claude": 0.9, "codex": 0.995}
# A miss keeps the system prompt below the first value of the draw; Codex then keeps its opening
# context too below the second; Claude keeps 4-8k of tool schemas below the second; below the
# third the start of the conversation survives. Codex: Table 9's 2-4k bin (2,108 steps, avg
# 56k) holds more misses than its 4-16k bins (whose avg 60k / 23k a 40 % share of opening-keeping
# misses overshot: 8-16k +31 %), and its 16-32k bin larger appends (avg 9.6k) from partial ones,
# which keep up to 85 % of the conversation (MISS_PARTIAL_KEEP_MAX; Table 9: with 75 % Codex's
# 32-64k avg / p99 were 4.2-4.4k / 74-82k on seeds 0-3 (3.7k / 50.4k), now 4.0-4.2k / 69-77k;
# Table 12's Codex user-step append 450-467M -> 442-459M (454.7M); with 90 % it was 399-420M
# in an earlier tree; Table 13's append reduction 37.0 %).
MISS_KEEPS = {"claude": (0.4, 0.48, 0.48), "codex": (0.42, 0.52, 0.88)}
# (A Codex partial keep of at least 0.1 / 0.2 of the conversation, for the 32-64k p99: plan-only
# p99 +42..+53 % / +33..+38 %, but 16-32k p99 -28..-36 % / -41..-50 %, avg -13..-20 % / -24..-31 %.)
MISS_PARTIAL_KEEP_MAX = 0.85
# How much a partial miss keeps, as a share of MISS_PARTIAL_KEEP_MAX: uniform, mixed by this
# weight with an arcsine shape ((1 - cos(pi u)) / 2 of the same draw u), which keeps the mean
# and puts more of the misses near keeping little or most: an eviction from the end takes a
# conversation's recent blocks or reaches deep. A fit to Table 9 (Codex only: Claude's misses
# have no partial kind): its 32-64k p99 (50.4k) is the partial misses keeping 10-50 % of a
# 120-200k conversation, and was +42/+30/+30/+25 % on seeds 0-3 (+25..+41 % on seeds 4-10);
# with 0.6 +26/+10/+16/+9 % (plans), 16-32k p99 / avg -21..-23 / -8..-14 ->
# -16..-17 / -5..-12 %, 64-128k avg -7..-9 -> -9..-11 %, 8-16k avg +1..+6 -> +4..+10 %.
# Only those steps' prefix moves (no draw added; Table 12's Codex user append +0.2M).
# (1.0: 32-64k p99 +17/0/+8/+3 %, 64-128k avg -10..-12 %, 8-16k avg +8..+14 %.)
MISS_PARTIAL_KEEP_ENDS = 0.6
# Claude misses that keep the system prompt keep the project context (CLAUDE.md, memory, MCP
# schemas: the session's opening, the same on every call) too, more often the longer the
# conversation, as knots (cached tokens, share): the project's other sessions send the same
# opening, and a long session overlaps more of them. Table 9: Claude's 8-16k bin had avg / p90
# appends of 46-50k / 126-148k on seeds 0-3 (38.8k / 108.5k), its 32-64k avg 2.2-2.3k (2.8k).
# (Letting the prompt-dropping misses keep it too, 0.4 from 60k, put the 32-64k avg / p99 at
# 8.5k / 312k and the <1k median at 53-56k.)
# (0.35 -> 0.5 at 600k, with CLAUDE_PROJECT_SHARED_MAX 16k -> 14k: Table 9's Claude 32-64k avg
# +24 % on seed 2 passes, seed 1's 8-16k p90 passes and its 32-64k avg fails; 16-32k avg
# -27..-34 % -> -22..-30 %, still low. Same draws, only those misses' prefix: 507/509/503/510
# -> 507/509/504/510. Plan-only: 0.7 at 600k took the 8-16k bin's avg / p90 to -23..-27 %;
# 12-13k put seed 0's 16-32k p90 at +16..+17 % or seed 1's 32-64k p99 at -39 %.)
CLAUDE_MISS_KEEPS_PROJECT = ((150_000, 0.0), (600_000, 0.5))
# ... but only the part of the project context the project's sessions share, tokens (CLAUDE.md,
# MCP schemas; memory, git status and the environment differ): Table 9's Claude 32-64k bin had
# avg appends +55..+96 % and p99 -1..+38 % on seeds 0-3 (2.8k / 27.3k), nearly all its appends
# over 50k being misses keeping a 32k+ opening; now +11..+77 % / -30..+17 %, and 16-32k avg
# -30..-36 % -> -24..-34 % (35.4k). Table 9 +1 on seeds 0-1; no draw moves (only those steps'
# prefix), Claude user hit rate -0.0003 (seed 0: 0.8394, the own check's bound is 0.839).
# (Plan-only: 10k +2/-1/+1/+1 per seed, seed 1's 32-64k p99 -41 %; 12-14k, 18k +0..+1;
# capping only one of the two miss kinds: +1 on seed 0 only.)
CLAUDE_PROJECT_SHARED_MAX = 14_000  # (16k before; see CLAUDE_MISS_KEEPS_PROJECT)
# Share of Codex tool-step misses of the partial kind (MISS_KEEPS) that keep at least the
# request's start: mid-request, seconds after the previous call, the request's first call is
# the freshest cache entry (as with PARTIAL_MISS). Table 9 Codex 32-64k p99 (50.4k) was
# +36..+52 % on seeds 0-3, the top 1 % of its 30k steps being partial misses of long
# conversations (576 on seed 0, 237 of them tool steps; appends of 80-90k); plan-only with
# 0.75: +25..+42 % (passes on seeds 1-3), 16-32k avg -9..-14 % (9.6k; was -5..-11 %). Only
# those steps' prefix changes (no re-draws): paper tables 499/501/500/502 -> 499/502/501/503.
# (Plan-only: 1.0 fails the 16-32k avg on seed 2 (-15.1 %); 0.5 p99 +28..+47 %.)
CODEX_TOOL_MISS_KEEPS_TURN = 0.75
# Tool-result steps whose cache holds only the request's start (Table 9's append p99 at
# 64-256k prefixes: Codex 31k / 21k; Table 12: Codex tool-step append 661M).
# (Claude 0.004 -> 0.002: Table 9's Claude >256k p99, 8.8k, was +36.1 % on seed 0 and its 32-64k
# avg +15.8 % on seed 1; both pass now (507/509/503/510). The draw is the same, only those
# steps' prefix changes: Claude tool-step append -5.4..-6.8M on seeds 0-3 (Table 12, 481.8M:
# now -3.7..-0.8 %), Claude tool hit rate +0.1 pt, Table 8's percentiles as they were.)
PARTIAL_MISS = {"claude": 0.002, "codex": 0.022}
# A Codex miss drops even the cached instructions only once the conversation holds this many
# tokens (below it the shared system prompt, the most-used cache entry, is still there): Table 9
# Codex <1k bin, 626 steps with a median append of 124.3k, had n +14..+18 % and median -10..-21 %
# on seeds 0-3, now (45k) n -5..+3 % and median -2..-9 % (plan-only Table 9 Codex +2/0/+1/+1).
# The draws are unchanged (only those steps' prefix). (30k: <1k median -15 % on seed 2; 60k:
# n -14 %; 80-100k: n -19..-42 %, 2-4k median +37..+49 %.)
# (30k / 20k, for the 2-4k median: it moves by 1-2 points only; <1k median -12..-18 %.)
MISS_DROPS_ALL_FROM = {"codex": 45_000}
# Share of the Claude misses that would drop everything which keep the shared opening (system
# prompt + the project's shared context) instead, as knots (cached tokens, share of that draw
# range): the largest contexts are 1M-window sessions of heavy users, whose other sessions keep
# that opening warm. Table 9's Claude <1k bin (p90 344.3k) had p90 +25..+31 % on seeds 0-3, its
# top decile all such misses past ~440k cached; the kept openings add large appends to the
# 16-32k bin, whose avg is low. Same draw as the miss kind (no re-draws). With FIRST_CACHED:
# <1k p90 +7..+15 % on seeds 0-3 (plans); seed 0's 16-32k / 8-16k p90s, steep there, are then
# just outside (benchmarks/synth_paper_check.txt).
CLAUDE_DROP_KEEPS_OPENING = ((400_000, 0.0), (700_000, 0.5))
# Share of the Claude misses keeping an opening (system prompt + shared project context) of 32k
# or more that keep it whole; the others keep the system prompt and a part of the project
# context below 32k, drawn uniformly. Every miss keeping an opening (_kept_opening) has 150k or
# more cached (CLAUDE_MISS_KEEPS_PROJECT from 150k, MISS_LARGE_CONTEXT from 200k,
# CLAUDE_DROP_KEEPS_OPENING from 400k), so those past 32k are mostly in the few heavy 1M-window
# sessions with a large system prompt: Table 9's Claude 32-64k bin (avg 2.8k over
# 20,919 steps, 59M) had 28-74M of appends from 58-143 of them on seeds 0-3 on top of its ~46M
# of ordinary growth, i.e. avg +19..+96 %. A fit to the bin's edge, not a paper fact; the trimmed
# ones land in the 16-32k bin, whose avg is low and p90 steep (benchmarks/synth_paper_check.txt).
CLAUDE_OPENING_PAST_32K_WHOLE = 0.8
# Share of the Claude misses that would keep a system prompt of 16k or more (MISS_KEEPS) which
# drop everything instead, as knots (cached tokens, share): the mirror of
# CLAUDE_DROP_KEEPS_OPENING, a short conversation is more often a light user's, whose other
# sessions do not keep the shared prompt warm. Table 9's Claude 16-32k p90 (30.7k) is the
# bottom of the misses keeping that prompt (~9 % of the bin's steps), so it was steep and high:
# +26/+4/+11/+15 % on seeds 0-3 and out on 4 of seeds 4-11 (+16..+31 %, plans); now
# +13/-6/-5/+2 %, out on seed 11 only (-18 %). Those under 150k cached land in the <1k bin
# (n -5..-9 -> -2..-5 %). A fit to the bin, not a paper fact; prompts under 16k are left alone
# because the 8-16k bin's median (3.5k) falls with its large appends (-16/-17 % on seeds 0/3
# with them). Same draw (no re-draws; only those steps' prefix). Main threads only, as
# sub-agents' prompts are 6-12k (_thread).
CLAUDE_SMALL_MISS_DROPS = ((60_000, 0.6), (150_000, 0.0))
CLAUDE_SMALL_MISS_DROPS_STATIC = 16_384
# Share of Claude first calls (taken from those that find the cache warm, FIRST_CACHED) that find
# only the tool schemas cached, 4-8k, and send the rest of the system prompt again, for
# sub-agents and main threads. A sub-agent's agent type has its own prompt after the schemas all
# types share, and the first call of a rarely used type finds only those; a main thread's system
# prompt carries the session's environment (working directory, git status, date) after them, and
# a session opened where no other ran lately shares only the schemas. Table 9's Claude 4-8k bin
# (median 17.2k) is half small appends and half misses keeping the schemas (appends 40-570k): the
# sub-agents' calls (appends 1-10k) are the former, the main threads' (the system prompt's rest,
# project context and first prompt: 8-50k, median ~23k) the only steps near the median. With
# those, 1-9 steps within 15 % of 17.2k became 12-28 (plans of seeds 0-11), and the median
# lands inside when the two groups' counts differ by less than that number. Fits to the bin,
# not paper facts (benchmarks/synth_paper_check.txt). Only those steps' prefix moves (no draw
# added).
CLAUDE_FIRST_SCHEMAS_ONLY = {"sub": 0.08, "main": 0.08}
# A sub-agent's first-call outcome (cached, schemas only, uncached) comes from the session's
# Weyl sequence over its sub-agents (this step), not from the call's own draw (still drawn,
# so later draws stay): the session's count of each outcome then follows its number of
# sub-agents without binomial noise, which concentrated in the few sessions that spawn dozens
# and moved Table 9's Claude 4-8k balance by tens of steps between seeds.
CLAUDE_SUB_FIRST_STEP = math.sqrt(31) % 1.0
# Claude misses in a thread of fewer cached tokens than this that would keep only the tool
# schemas drop everything instead (their draw is unchanged): their appends, 16-112k, put the 4-8k
# bin's large group in reach of its median, where the main threads' schemas-only first calls
# (above) now are. A fit to that bin's balance; they move to the <1k bin (2,937 steps, median
# append 78k; its median within 3 points of before on seeds 0-3, full check). 112.5k (was
# 100k): the bin's median inside on 8 of seeds 0-11's plans (7 before; seed 2 +27.7 -> +6.9 %,
# seed 0 -6.5 -> -13.3 %), but the edge is narrow: seeds 0 and 2 are 1-2 steps from the groups'
# boundary (105k left seed 2 out; 110k / 115k put seed 2 / seed 0 within a step of it; the log
# has the numbers).
CLAUDE_SCHEMAS_MISS_FROM = 112_500
# A Claude main thread's misses that would keep the shared opening (system prompt + project
# context: CLAUDE_MISS_KEEPS_PROJECT, MISS_LARGE_CONTEXT, CLAUDE_DROP_KEEPS_OPENING) drop
# everything past the session's this-many-th: the opening stays warm while the project's other
# sessions send it, and a session that has come back to it this often has outlived that
# activity (a days-long 1M-window session). A fit, not a paper fact: those misses cluster in the
# few largest sessions (one of 2,503 main-thread steps, its opening under 16k, gave 54 of seed
# 1's top tenth of Table 9's Claude 8-16k bin, most of them such misses), and they set that
# bin's p90 (+16.9 % on seed 1). With 25 (0-3 sessions a seed reach it): +9.8 %; the other
# seeds' 8-16k values move by at most 3.5 points (seed 11), the dropped steps land in the <1k
# bin (its p90 up by up to 7.9 points: seed 2 +10.7 %, seed 1 +13.8 %) and the 16-32k bin
# loses some large appends (avg down by up to 5.6 points, seed 2). Plans of seeds 0-11
# (benchmarks/synth_paper_check.txt). Only those steps' prefix moves.
CLAUDE_OPENING_MISSES_MAX = 25


@dataclass(slots=True)
class ToolPlan:
    name: str
    call_id: str
    emitted_ms: int = 0
    result_ms: int = 0
    internal_s: float | None = None  # runner-reported duration, when the client reports one
    is_error: bool = False
    result_tokens: int = 0
    result_chars: int = 0
    running: bool = False  # Codex unified exec: process still running after the yield
    rejected: bool = False  # the user refused / interrupted this call
    opening: bool = False  # among the first calls of its request (calibration.OPENING_CALLS)
    subagent: ThreadPlan | None = None


@dataclass(slots=True)
class UserInput:
    kind: str  # prompt | interrupt | compact_summary
    ts: int
    chars: int


@dataclass(slots=True)
class StepPlan:
    model: str
    inputs: list[UserInput] = field(default_factory=list)  # human/harness inputs before the step
    compaction_before: bool = False
    reasoning_ms: int | None = None
    text_ms: int | None = None
    text_chars: int = 0
    tools: list[ToolPlan] = field(default_factory=list)
    first_out_ms: int = 0
    last_out_ms: int = 0
    prefix: int = 0
    append: int = 0
    output: int = 0
    reasoning_tokens: int = 0
    uncached: int = 0  # Claude: usage.input_tokens (the rest of append is cache write)
    aborted: bool = False  # Codex: the turn was interrupted before usage was reported
    stop_reason: str = "end_turn"


@dataclass(slots=True)
class ThreadPlan:
    agent_id: str | None
    steps: list[StepPlan] = field(default_factory=list)
    end_ms: int = 0
    agent_type: str = "general-purpose"  # a sub-agent's Agent call input


@dataclass(slots=True)
class SessionPlan:
    provider: str
    session_id: str
    start_ms: int
    contributor: str
    cwd: str
    git_branch: str
    version: str
    cache_ttl_1h: bool
    main: ThreadPlan
    subagents: list[ThreadPlan] = field(default_factory=list)


class _Context:
    """Token state of one thread: what the next call's prompt is, and what the cache holds."""

    def __init__(self, static: int, limit: int, sub: bool = False):
        self.static = static  # system prompt + tool definitions: cached across sessions
        self.sub = sub  # a sub-agent's thread
        self.limit = limit
        self.prev_total = 0
        self.prev_output = 0
        self.init = 0  # tokens added to the context by the first call only
        self.compact_at = None  # share of the limit that triggers this cycle's compaction
        self.turn_start = 0  # context at the current request's first step


class SessionBuilder:
    """Draws one session plan; all randomness comes from `rng` (seeded per session)."""

    def __init__(
        self,
        rng: random.Random,
        provider: str,
        contributor: str,
        start_ms: int,
        version: str,
        draws: SessionDraws | None = None,
    ):
        """`draws`: the session-level quantiles, spread over the dataset by synth/strata.py;
        drawn here when not given."""
        self.rng = rng
        self.draws = draws
        self.provider = provider
        self.contributor = contributor
        self.start_ms = start_ms
        self.version = version
        # main-thread misses keeping the opening so far (CLAUDE_OPENING_MISSES_MAX)
        self.opening_misses = 0

    # ------------------------------------------------------------------ public

    def build(self) -> SessionPlan:
        rng = self.rng
        d = self.draws or SessionDraws(*(rng.random() for _ in range(7)))
        # Tool-initiated steps and requests are correlated through their normal scores
        # (SIZE_RHO); the tool-step score comes first because it carries the heavy tail.
        # The correlation tightens for the largest sessions (SIZE_RHO_TAIL), which thus hold
        # more of the requests: long-lived sessions are the chatty ones.
        # (`z`, the session's size score for pace and waits, keeps the plain correlation.)
        zs, zn = _phi_inv(d.size), _phi_inv(d.requests)
        # the tool-step size quantile, whose score is `zs` (CODEX_CACHED, CODEX_BASE_MISS_SIZE,
        # CODEX_SMALL_SIZE), not the size score `z`
        self.size_q = d.size
        z = SIZE_RHO * zs + math.sqrt(1.0 - SIZE_RHO**2) * zn
        lo, hi = SIZE_RHO_TAIL_Z
        rho = SIZE_RHO + (SIZE_RHO_TAIL - SIZE_RHO) * min(1.0, max(0.0, (zs - lo) / (hi - lo)))
        z_req = rho * zs + math.sqrt(1.0 - rho**2) * zn
        n_requests = max(1, int(REQUESTS.ppf(_phi(z_req))))
        if n_requests > 2:
            n_requests = 2 + round((n_requests - 2) * REQUEST_SCALE[self.provider])
        # Session-level pace (Table 7 per session): latencies within a session are alike, so
        # the median session is much quicker than the sum of independent draws; human waits
        # of mid-sized sessions sit below those of the largest ones.
        self.size_z = z
        # shell_command residuals and timed apply_patch runner times and residuals: quantiles
        # from the session's phase (_weyl; calibration SHELL_RESIDUAL_STEP, PATCH_EXEC_STEP,
        # PATCH_RESIDUAL_STEP), which also picks the steps keeping CODEX_SHARED_BASE and, in
        # Claude sessions, the sub-agents' first-call outcomes (CLAUDE_SUB_FIRST_STEP); the
        # counts of those calls and sub-agents so far
        self.residual_u, self.shell_calls, self.patch_calls = d.residual, 0, 0
        self.sub_firsts = 0
        self.base_calls = dict.fromkeys(CODEX_BASE_SHARE, 0)  # CODEX_SHARED_BASE candidates
        # Large sessions, which hold most steps, get a weak pace so that a few of them cannot
        # move the pooled per-step and per-call distributions.
        small = z < cal.PACE_SMALL_Z
        self.small = small
        self.parallel = d.size < cal.PARALLEL_SMALL_Q
        self.tool_w = cal.TOOL_SESSION_RHO if small else cal.PACE_LARGE_RHO
        self.gen_w = cal.GEN_SESSION_RHO if small else cal.PACE_LARGE_RHO
        self.tool_noise = math.sqrt(1.0 - self.tool_w**2)
        # Within a large session, a big request's later calls are slower and a small
        # follow-up's quicker (calibration.TOOL_REQUEST_RHO); req_z None: no request pace.
        self.req_w = 0.0 if small else cal.TOOL_REQUEST_RHO
        self.req_noise = math.sqrt(1.0 - self.tool_w**2 - self.req_w**2)
        self.req_z: float | None = None
        self.gen_noise = math.sqrt(max(0.0, 1.0 - _GEN_OUT**2 - self.gen_w**2))
        # Small sessions are also quicker than the pooled steps (Table 7: the median session
        # spends 2.0 min generating and 14.9 s in tools over ~16 steps and ~25 calls).
        self.tool_z = _phi_inv(d.tool_pace) + (
            cal.SMALL_TOOL_PACE_SHIFT if small else cal.LARGE_TOOL_PACE_SHIFT
        )
        self.gen_z = _phi_inv(d.gen_pace) + (
            cal.SMALL_GEN_PACE_SHIFT if small else cal.LARGE_GEN_PACE_SHIFT
        )
        tool_steps = int(TOOL_STEPS.ppf(d.size) * TOOL_STEP_SCALE[self.provider])
        self.static_u = d.static
        # (Sub-agents keep their outputs: OUTPUT_BY_SIZE is about the session's own task.)
        self.output_scale = _log_interp(OUTPUT_BY_SIZE[self.provider], tool_steps + 1)
        if n_requests > 1:
            n_requests = max(n_requests, -(-tool_steps // REQUEST_STEPS_MAX))
        split = self._split(tool_steps, n_requests)
        sid = (
            ids.uuid4_like(rng) if self.provider == "claude" else ids.uuid7_like(rng, self.start_ms)
        )
        # Tool timing (latency, errors, runner reports) and sub-agents draw from their own
        # stream, so that which tools a step calls does not change the session's token draws.
        self.trng = random.Random(f"{sid}:tools")
        project = rng.choice(["api", "webapp", "infra", "ml-exp", "tools", "paper", "sim", "cli"])
        cwd = f"/home/{self.contributor}/projects/{project}-{rng.randrange(1, 9)}"
        plan = SessionPlan(
            provider=self.provider,
            session_id=sid,
            start_ms=self.start_ms,
            contributor=self.contributor,
            cwd=cwd,
            git_branch=rng.choice(["main", "main", "dev", "feature/cache", "fix/timeouts"]),
            version=self.version,
            cache_ttl_1h=self.provider == "claude" and d.cache < 0.5,
            main=ThreadPlan(agent_id=None),
        )
        self.plan = plan
        self.longest = d.size >= cal.CLAUDE_1M_FROM_Q
        self.model, from_haiku = self._pick_model(d.model)
        # Not every session of a 1M-capable model runs with the 1M window (Table 4: Claude
        # sessions with compactions average 2.37 of them, which 1M contexts rarely reach);
        # by size: none of the longest, more of those just below (calibration).
        # (The cache draw's two halves are spread alike, so the window is drawn within each.)
        mid_q, mid_p = cal.CLAUDE_200K_MID
        window_p = mid_p if d.size >= mid_q else cal.CLAUDE_200K_WINDOW_P
        # A session moved out of Haiku's band keeps Haiku's 200k window: its tokens and
        # compactions stay as they were (Tables 4, 8 and 9), only its price changes.
        self.window_200k = (
            self.provider == "claude"
            and not self.longest
            and (from_haiku or (d.cache * 2.0) % 1.0 < window_p)
        )
        self._thread(plan.main, split, self.start_ms, is_sub=False)
        return plan

    # ------------------------------------------------------------------ shape

    def _split(self, total: int, n: int) -> list[int]:
        """Tool-initiated steps per request: a heavy-tailed split of the session total."""
        if n == 1:
            return [total]
        weights = [
            min(REQUEST_WEIGHT_MAX, self.rng.gammavariate(REQUEST_SPLIT_ALPHA, 1.0))
            for _ in range(n)
        ]
        # The big task comes first, follow-ups later: later prompts then meet a long context
        # (Table 12: Claude user steps append 672M at an 86.9 % hit rate, i.e. ~300k tokens of
        # context each, against ~190k for tool-result steps).
        # (So a long session's many small follow-ups come last, and in a 1M session that compacts
        # once, at the end of its big requests, they meet the fresh cycle: seed 0, 2,163 prompts
        # at 267k after vs 1,387 at 510k before. Making the smallest remaining request the next
        # one once the context is past 0.5 of the cycle's compaction level raised the Claude
        # user-step context 4.4B -> 4.8-5.4B (Table 11 / 12), but not kept: see
        # MISS_LARGE_CONTEXT. Interleaving follow-ups after each big request lowers it.)
        weights.sort(reverse=True)
        s = sum(weights) or 1.0
        out = []
        for w in weights:
            x = total * w / s
            k = int(x)
            out.append(k + (1 if self.rng.random() < x - k else 0))
        return out

    def _pick_model(self, u: float | None = None) -> tuple[str, bool]:
        """The main thread's model, and whether it was moved out of Haiku."""
        u = self.rng.random() if u is None else u
        if self.provider == "claude":
            return _main_claude_model(self.longest, u)
        return choice_at(CODEX_MODEL_NAMES, CODEX_MODEL_CUM, u), False

    def _limit(self, model: str) -> int:
        if self.provider == "codex":
            return cal.CODEX_CONTEXT_WINDOW
        if self.window_200k:
            return 200_000
        return cal.CONTEXT_LIMIT.get(model, 200_000)

    # ------------------------------------------------------------------ threads

    def _thread(self, thread: ThreadPlan, split: list[int], t0: int, is_sub: bool) -> None:
        rng = self.rng
        codex = self.provider == "codex"
        # Cached across sessions (system prompt, tool schemas) vs. written on the first call
        # (project instructions, environment): Table 9's short-prefix bins.
        # Sub-agents get a shorter system prompt and a task prompt instead of the project
        # context (Table 9: Claude's 8-16k bin holds 4,034 steps with a median append of 3.5k).
        # The main thread's static size is a session-level draw (synth/strata.py): the few
        # sessions with dozens of compactions (Table 4: p99 of 34) put all their compaction steps
        # in the prefix bin of their static prompt (Table 9: Codex 2-4k vs 4-8k).
        u = self.static_u if not is_sub else rng.random()
        if codex:
            # (Codex has no sub-agents here: _run_tools spawns them for Claude's Agent calls.)
            static, init = self._codex_cached(
                _between(*CODEX_STATIC, u), rng.randint(*CODEX_INIT), u
            )
        elif is_sub:
            static, init = _between(6_000, 12_000, u), rng.randint(500, 4_000)
        else:
            # (Project instructions, memory and MCP tool schemas on top: CLAUDE_INIT_LOG.)
            static, init = _between(*CLAUDE_STATIC, u), int(math.exp(rng.uniform(*CLAUDE_INIT_LOG)))
        ctx = _Context(static, self._limit(self.model), sub=is_sub)
        ctx.init = init
        # (Codex's smaller projects start below 16k: Table 9's 8-16k bin holds early steps.)
        now = t0
        carry: list[UserInput] = []  # inputs that precede the next step (interrupt markers)
        redirect = False  # the previous request was interrupted by the user
        after_tool = False  # the thread's last step answered tool results
        paces = _request_paces(split) if self.req_w and not is_sub else [None] * len(split)
        for r, n_tool_steps in enumerate(split):
            self.req_z = paces[r]
            if not is_sub and r > 0 and rng.random() < MODEL_SWITCH_P:
                # Only between models of the same context size: a drop from 1M to 200k would
                # compact far below the session's peak, which Table 4 does not count.
                model, _ = self._pick_model()
                if self._limit(model) == ctx.limit:
                    self.model = model
            gap = 0.0
            wait_u = None
            if r > 0:
                waits = HUMAN_WAIT_QUICK if self.size_z >= cal.WAIT_QUICK_Z else HUMAN_WAIT
                wait_u = _wait_quantile(self.size_z, rng.gauss(0.0, 1.0))
                gap = waits.ppf(wait_u)
                if redirect and rng.random() < ABORT_REDIRECT_P:
                    # The user pressed Esc to redirect the agent and types the new prompt
                    # right away (the interrupted step's outputs carry over into the next
                    # step, whose generation span then includes a human wait: Table 7's
                    # generation averages, 11.5 s per step and 13.2 s per positive span, hold
                    # a few such spans but not one after every interrupted turn).
                    gap = rng.uniform(*ABORT_REDIRECT_S)
                if redirect:
                    # (this wait is in the next step's generation span: it stays as drawn)
                    wait_u = None
                now += max(1, int(gap * 1000))
            redirect = False
            prompt_chars = max(1, int(PROMPT_CHARS.sample(rng)))
            inputs = [*carry, UserInput("prompt", now, prompt_chars)]
            carry = []
            prompt_tokens = int(prompt_chars / 3.7) + 12
            moved = 0  # turn context sent with the previous tool results: CLAUDE_TURN_CONTEXT_EARLY
            if r > 0:
                turn_context = int(TURN_CONTEXT_TOKENS[self.provider].sample(rng))
                prompt_tokens += turn_context
                if not codex and after_tool and ctx.prev_total >= CLAUDE_TURN_CONTEXT_EARLY_FROM:
                    moved = int(turn_context * CLAUDE_TURN_CONTEXT_EARLY)
                    thread.steps[-1].append += moved
                    ctx.prev_total += moved
            first = r == 0
            interrupted = not is_sub and n_tool_steps > 0 and rng.random() < 0.03
            prev_tools: list[ToolPlan] = []
            opened = 0  # tool calls made so far in this request
            for k in range(n_tool_steps + 1):
                last = k == n_tool_steps
                if last and interrupted:
                    break
                step = StepPlan(model=self.model)
                if k == 0:
                    step.inputs = inputs
                    fresh = prompt_tokens + sum(int(i.chars / 3.7) for i in inputs[:-1]) - moved
                    ready = now
                else:
                    fresh = sum(t.result_tokens + 8 for t in prev_tools)
                    ready = max(t.result_ms for t in prev_tools) + rng.randint(2, 40)
                missed = self._tokens(
                    step,
                    ctx,
                    fresh,
                    user=(k == 0),
                    first=(first and k == 0),
                    gap=gap,
                    ready=ready,
                    moved=moved if k == 0 else 0,
                )
                if k == 0 and wait_u is not None and missed is not None and gap >= self._ttl():
                    # The cache outcome is drawn from `gap`; the wait then moves to agree with
                    # it (timing only: no draw, no token changes).
                    settled = self._settled_wait(waits, wait_u, gap, missed)
                    shift = max(1, int(settled * 1000)) - max(1, int(gap * 1000))
                    now += shift
                    ready += shift
                    inputs[-1].ts += shift
                if step.compaction_before:
                    summary = UserInput("compact_summary", ready, rng.randint(3_000, 16_000))
                    step.inputs = (
                        [*step.inputs[:-1], summary, step.inputs[-1]] if k == 0 else [summary]
                    )
                    ready += rng.randint(5, 60)
                n_calls = 0
                if not last:
                    if k == 0:
                        names, cum = FIRST_CALLS
                    elif self.parallel or is_sub:
                        names, cum = CALLS_PER_STEP_SMALL
                    else:
                        names, cum = CALLS_PER_STEP[self.provider]
                    n_calls = names[min(len(names) - 1, _index(cum, rng.random() * cum[-1]))]
                self._outputs(
                    step,
                    ready,
                    n_calls,
                    1.0 if is_sub else self.output_scale,
                    final=last,
                    user=k == 0,
                    opened=opened,
                )
                opened += n_calls
                ctx.prev_output = step.output
                if codex and last and not is_sub and rng.random() < 0.02:
                    step.aborted = True  # user pressed Esc before usage was reported
                    redirect = True
                if not last:
                    self._run_tools(step)
                    if interrupted and k == n_tool_steps - 1:
                        victim = step.tools[-1]
                        victim.rejected = True
                        victim.is_error = True
                        victim.result_tokens = 40
                        carry = [
                            UserInput("interrupt", max(t.result_ms for t in step.tools) + 3, 0)
                        ]
                    prev_tools = step.tools
                thread.steps.append(step)
                after_tool = k > 0
                now = step.last_out_ms + (25 if codex else 0)
                if prev_tools and not last:
                    now = max(now, max(t.result_ms for t in prev_tools))
            if carry:
                now = carry[-1].ts
        thread.end_ms = now

    def _codex_cached(self, static: int, init: int, u: float) -> tuple[int, int]:
        """The opening `static + init` split into the cached prompt and the rest
        (CODEX_CACHED; in the smaller sessions moved across 2,048, CODEX_SMALL_*): no draw, and
        the sum stays."""
        w_steps, w_init = CODEX_CACHED_WEIGHTS
        lo, hi = CODEX_INIT
        z = (
            w_steps * _phi_inv(self.size_q)
            + w_init * _phi_inv((init - lo + 0.5) / (hi - lo + 1))
            + math.sqrt(1.0 - w_steps**2 - w_init**2) * _phi_inv(u)
        )
        cached = min(_between(*CODEX_CACHED, _phi(z)), static + init - CODEX_REST_MIN)
        top, rest = CODEX_SHARED_BASE[1], static + init - cached
        if self.size_q < CODEX_SMALL_SIZE:
            if cached < top and rest > CODEX_SMALL_PUSH_REST:
                cached = top
            elif top <= cached < CODEX_SMALL_PULL_CACHED and rest < CODEX_SMALL_PULL_REST:
                cached = top - 1
        return cached, static + init - cached

    # ------------------------------------------------------------------ tokens

    def _tokens(
        self,
        step: StepPlan,
        ctx: _Context,
        fresh: int,
        user: bool,
        first: bool,
        gap: float,
        ready: int,
        moved: int = 0,
    ) -> int | None:
        """Sets the step's prefix / append; returns the cache outcome drawn for it (_miss), None
        when none was (first calls, compactions). `moved`: tokens of this prompt's turn context
        already added to the previous step (CLAUDE_TURN_CONTEXT_EARLY); every decision here reads
        the context as without the move, so the move changes no draw."""
        rng = self.rng
        outcome = None
        codex = self.provider == "codex"
        # Fig 3: gpt-5.4 mostly caches the previous output, but not always.
        output_cached = step.model in cal.OUTPUT_CACHED_MODELS and rng.random() > OUTPUT_RESEND_P
        if first:
            total = ctx.static + ctx.init + fresh
            # (Claude's uncached first calls are half of Table 9's <1k bin, median 78k.)
            u = rng.random()  # (still drawn for sub-agents: the thread's later draws stay)
            if ctx.sub:  # (Claude only: Codex has no sub-agents here; any offset would do)
                u = self._weyl(0.3, self.sub_firsts, CLAUDE_SUB_FIRST_STEP)
                self.sub_firsts += 1
            cached_p = FIRST_CACHED[self.provider]
            prefix = ctx.static if u < cached_p else 0
            if not codex:
                schemas_p = cached_p * CLAUDE_FIRST_SCHEMAS_ONLY["sub" if ctx.sub else "main"]
                if u < schemas_p:
                    # (The same draw, rescaled, places the schemas' end: no number is added.)
                    prefix = 4_096 + int(u / schemas_p * (min(ctx.static, 8_192) - 4_096))
        else:
            base = ctx.prev_total + ctx.prev_output
            prev_total = ctx.prev_total - moved
            reduction = 0
            if user and codex and rng.random() < 0.28:
                # Codex drops earlier reasoning items at a new user turn (Table 3 reductions).
                micro = rng.random() < 0.4
                # (Ordinary drops are log-uniform: the dropped reasoning of a turn is mostly a
                # few thousand tokens; uniform sizes up to 63k kept Codex contexts low, Table 8
                # prefix p25/p50 and Table 9's 8-64k bins.)
                reduction = int(
                    rng.uniform(1, 1024) if micro else math.exp(rng.uniform(*CODEX_DROP_LOG))
                )
                # Never below half of the conversation so far: the history stays.
                reduction = min(reduction, max(0, prev_total - ctx.static - ctx.init) // 2)
                reduction = fresh + moved + ctx.prev_output + reduction
            elif (
                user
                and prev_total - ctx.static - ctx.init > REWIND_FROM
                and prev_total < REWIND_BELOW * ctx.limit
                and rng.random() < REWIND_P[self.provider]
            ):
                # The user rewinds the conversation to an earlier prompt (Claude Code's /rewind,
                # Codex's backtrack): a major reduction that is no compaction (Table 4: 40 of
                # Claude's 324 and 71 of Codex's 1,306 major reductions).
                history = prev_total - ctx.static - ctx.init
                back = int(rng.uniform(64_000, history * 0.8))
                reduction = fresh + moved + ctx.prev_output + back
            elif rng.random() < (0.0012 if codex else 0.0006) or (user and rng.random() < 0.009):
                reduction = fresh + moved + ctx.prev_output + int(rng.uniform(1, 6_000))
            total = max(ctx.static, base + fresh - reduction)
            # Compaction near the limit (Table 4); a new prompt triggers it a little earlier.
            high = cal.COMPACT_AT[self.provider]
            # (Claude's auto-compaction is mostly tool-initiated, Table 4: 63 %.)
            # 1M-context sessions compact anywhere from 60 % up (Table 4's 4.5 % of Claude
            # sessions; Table 8's prefix p90 467k with p99 918k).
            early = cal.COMPACT_EARLY_AT_PROMPT[self.provider]
            low = high - 0.1 if ctx.limit < 500_000 else 0.6
            if ctx.compact_at is None:  # one trigger level per context cycle
                ctx.compact_at = rng.uniform(low, high)
                if codex and rng.random() < CODEX_LOW_COMPACT[0]:
                    # Codex's auto-compact limit is per model: after a switch to a model with
                    # a lower one, a cycle compacts well below the session's earlier peak, a
                    # major reduction that is no compaction (Table 4: Codex 1,235 of 1,306,
                    # and ~43 tool-initiated major reductions that are not compactions).
                    ctx.compact_at = rng.uniform(*CODEX_LOW_COMPACT[1:])
            threshold = ctx.limit * ctx.compact_at * (early if user else 1.0)
            # Users also run /compact by hand at a new prompt (Table 4: 37 % of Claude
            # compactions are user-initiated); below the session's peak, such a drop is a
            # major reduction but no compaction (Codex: 1,235 of 1,306).
            manual = (
                user
                and total > max(cal.MANUAL_COMPACT_FROM * ctx.limit, 120_000)
                and rng.random() < cal.MANUAL_COMPACT_P[self.provider]
            )
            if total > threshold or manual:
                step.compaction_before = True
                ctx.compact_at = None
                # (Codex keeps the recent user messages next to the summary.)
                summary = rng.randint(*COMPACT_SUMMARY[self.provider])
                total = ctx.static + ctx.init + summary + fresh + moved
                prefix = ctx.static if rng.random() < COMPACT_KEEPS_STATIC[self.provider] else 0
                if codex and prefix:
                    prefix = self._codex_kept(ctx, "compact", ctx.prev_total)
            else:
                cached = ctx.prev_total + (ctx.prev_output if output_cached else 0)
                seen = cached - moved  # what the decisions below read: as without the move
                if reduction:
                    # (The moved turn context went with the abandoned branch: not cached.)
                    whole = fresh + moved
                    cap = total - whole - int(rng.uniform(0, 0.08) * max(0, total - whole))
                    cached, seen = min(cached, cap), min(seen, cap)
                miss = outcome = self._miss(user, gap, seen)
                if miss:
                    # A miss keeps at most the shared system prompt (Table 9: most Codex misses
                    # land in the 2-8k bins, a few Claude ones keep only the tool schemas).
                    # Codex misses often keep the session's opening as well (Table 9: its 8-32k
                    # bins carry large appends); Claude's mostly drop everything (<1k bin: 2,937
                    # steps with a median append of 78k).
                    # Some misses are partial: the cache evicts a conversation from its end, so
                    # its start survives (Table 9: large appends at every prefix bin, p99 of
                    # 152k / 50k at Codex's 16-32k / 32-64k, 661k at Claude's 16-32k).
                    draw = rng.random()
                    keep_static, keep_init, keep_start = MISS_KEEPS[self.provider]
                    if miss == 2:  # (MISS_LARGE_CONTEXT)
                        prefix = self._capped_opening(ctx, draw)
                    elif draw < keep_static:
                        prefix = self._codex_kept(ctx, "miss", seen) if codex else ctx.static
                        # (The same draw decides, so the session's later draws do not move.)
                        if not codex and draw < keep_static * _log_interp(
                            CLAUDE_MISS_KEEPS_PROJECT, seen
                        ):
                            prefix = self._capped_opening(ctx, draw)
                        # (The top of the same draw range: CLAUDE_SMALL_MISS_DROPS.)
                        elif (
                            not codex
                            and ctx.static >= CLAUDE_SMALL_MISS_DROPS_STATIC
                            and draw
                            > keep_static * (1 - _log_interp(CLAUDE_SMALL_MISS_DROPS, seen))
                        ):
                            prefix = 0
                    elif codex and draw < keep_init:
                        prefix = ctx.static + ctx.init
                    elif not codex and draw < keep_init:
                        prefix = rng.randint(4_096, 8_191)  # (drawn either way: draws stay)
                        if seen < CLAUDE_SCHEMAS_MISS_FROM:
                            prefix = 0
                    elif draw < keep_start:
                        start = ctx.static + ctx.init
                        keep = rng.uniform(0.0, 1.0)
                        # (Toward both ends, the mean kept: MISS_PARTIAL_KEEP_ENDS.)
                        keep += MISS_PARTIAL_KEEP_ENDS * ((1 - math.cos(math.pi * keep)) / 2 - keep)
                        prefix = start + int(keep * MISS_PARTIAL_KEEP_MAX * max(0, cached - start))
                        # (A Codex tool-step miss keeps at least the request's start, from
                        # the same draw: CODEX_TOOL_MISS_KEEPS_TURN.)
                        turn_share = keep_init + CODEX_TOOL_MISS_KEEPS_TURN * (
                            keep_start - keep_init
                        )
                        if codex and not user and draw < turn_share:
                            prefix = max(prefix, min(ctx.turn_start, cached))
                    else:
                        # (Below MISS_DROPS_ALL_FROM the system prompt survives instead.)
                        prefix = (
                            0 if seen >= MISS_DROPS_ALL_FROM.get(self.provider, 0) else ctx.static
                        )
                        if codex and prefix:
                            prefix = self._codex_kept(ctx, "miss", seen)
                        elif codex and CODEX_BASE_DROP[0] <= seen < CODEX_BASE_DROP[1]:
                            prefix = self._codex_base(ctx, "drop") or 0
                        if not codex and draw - keep_start < (1 - keep_start) * _log_interp(
                            CLAUDE_DROP_KEEPS_OPENING, seen
                        ):
                            prefix = self._capped_opening(ctx, draw)
                elif not user and ctx.turn_start and rng.random() < PARTIAL_MISS[self.provider]:
                    # Only the cache written at the request's start survived: the request's own
                    # growth is sent again (Table 9: appends of 10-30k at prefixes over 64k).
                    prefix = min(ctx.turn_start, total - 1)
                else:
                    prefix = min(cached, total - 1)
                    u = rng.random() if user and not codex else 1.0
                    if u < CLAUDE_TURN_REWRITE_DRAW:
                        lag = int(math.exp(rng.uniform(*CLAUDE_TURN_REWRITE[1:])))
                        if u < CLAUDE_TURN_REWRITE[0]:
                            prefix = max(ctx.static, prefix - lag)
        if user or step.compaction_before:
            ctx.turn_start = total
        prefix = max(0, min(prefix, total - 1))
        if codex:
            prefix -= prefix % 128
        step.prefix = prefix
        step.append = total - prefix
        if not codex:
            step.uncached = min(
                step.append, rng.choice([1, 2, 3, 3, 6, 8]) if not first else rng.randint(2, 4000)
            )
        ctx.prev_total = total
        return outcome

    def _ttl(self) -> float:
        """The prompt cache's TTL, seconds."""
        return 3600.0 if self.plan.cache_ttl_1h else 300.0

    def _settled_wait(self, waits: QuantileDist, u: float, gap: float, missed: int) -> float:
        """A human wait past the cache's TTL once its cache outcome (`missed`, from _miss) is
        known (calibration.IDLE_*). `u` is the wait's quantile in `waits`."""
        # (the quantile of the TTL in HUMAN_WAIT)
        u_ttl = cal.WAIT_LONG_Q if self.plan.cache_ttl_1h else U300
        if self.size_z >= cal.IDLE_SETTLE_Z:
            if not missed:
                # the cache survived: a quick reply, at the same rank among them
                lo, hi = cal.IDLE_HIT_REPLY_Q
                return waits.ppf(lo + (u - u_ttl) / (1.0 - u_ttl) * (hi - lo))
            if gap >= MISS_AFTER_IDLE[self.provider][-1][0]:
                # past the last knot the miss probability is flat: the outcome still holds
                return min(gap * cal.IDLE_LONG_MISS_STRETCH, cal.HUMAN_WAIT_S[-1])
        elif missed and gap < 3_600.0:
            # toward 1 h (WAIT_LONG_Q), keeping its rank among these waits
            q = cal.WAIT_LONG_Q
            return waits.ppf(q - (q - u) * cal.IDLE_MISS_TO_HOUR)
        return gap

    def _miss(self, user: bool, gap: float, cached: int = 0) -> int:
        """Prefix-cache eviction after idle time (Fig 11): rare within 5 min, sure after 1 h.
        0: hit, 1: miss, 2: a miss that only the large cached context made (MISS_LARGE_CONTEXT).
        """
        rng = self.rng
        if not user:
            return int(rng.random() < MISS_TOOL_P[self.provider])
        ttl = self._ttl()
        if gap < 300:
            p = 0.002
        elif gap < ttl:
            p = 0.015  # evicted under memory pressure before its TTL
        else:
            p = _log_interp(MISS_AFTER_IDLE[self.provider], gap)
            knots = MISS_LARGE_CONTEXT.get(self.provider)
            u = rng.random()
            miss = int(u < p)
            if not miss and knots and cached > knots[0][0]:
                miss = 2 if u < p + (1.0 - p) * _log_interp(knots, cached) else 0
            return miss
        return 1 if rng.random() < p else 0

    # ------------------------------------------------------------------ outputs and tools

    def _outputs(
        self,
        step: StepPlan,
        ready: int,
        n_calls: int,
        scale: float,
        final: bool,
        user: bool = False,
        opened: int = 0,
    ) -> None:
        rng = self.rng
        codex = self.provider == "codex"
        z = rng.gauss(0.0, 1.0)
        output = int(OUTPUT[self.provider].ppf(_phi(z + (FINAL_OUTPUT_SHIFT if final else 0.0))))
        output = int(output * scale)
        opening = [opened + i < cal.OPENING_CALLS for i in range(n_calls)]
        names = [self._tool_name(o) for o in opening]
        poll_output = rng.randint(28, 60)  # drawn always: the draws stay those of other steps
        if codex and names and all(n == "write_stdin" for n in names):
            output = poll_output  # Fig 4 spike: a poll or Ctrl-C costs ~40 tokens
            z = -1.5
        step.output = max(1, output)
        if codex:
            step.reasoning_tokens = int(step.output * rng.uniform(0.15, 0.7))
        # Output length, the session's pace and (for the step answering a prompt) planning time.
        gz = _GEN_OUT * z + self.gen_w * self.gen_z + self.gen_noise * rng.gauss(0.0, 1.0)
        span = GENERATION.ppf(_phi(gz + (cal.GEN_USER_SHIFT if user else 0.0)))
        span_ms = max(30, int(span * 1000))
        first_out = ready + max(20, int(span_ms * rng.uniform(0.2, 0.85)))
        last_out = ready + span_ms
        has_reasoning = rng.random() < (0.92 if codex else 0.6)
        has_text = final or rng.random() < (0.35 if codex else 0.5)
        if not has_reasoning and not has_text and not names:
            has_text = True
        t = first_out
        if has_reasoning:
            step.reasoning_ms = t
            t += rng.randint(1, 400)
        if has_text:
            vis = step.output - step.reasoning_tokens
            step.text_chars = max(
                1, int(max(1, vis) * rng.uniform(2.5, 4.2) * (0.35 if names else 1.0))
            )
            step.text_ms = min(t, last_out) if names else last_out
        n = len(names)
        floor = step.text_ms if step.text_ms is not None else first_out
        for i, name in enumerate(names):
            call_id = ids.codex_call_id(rng) if codex else ids.claude_tool_id(rng)
            emitted = last_out - (n - 1 - i) * rng.randint(1, 40 if codex else 600)
            # Parallel calls are written in the order they were generated: never earlier than
            # the text before them or the previous call.
            floor = max(emitted, floor)
            step.tools.append(
                ToolPlan(name=name, call_id=call_id, emitted_ms=floor, opening=opening[i])
            )
        times = [x for x in (step.reasoning_ms, step.text_ms) if x is not None]
        times += [t.emitted_ms for t in step.tools]
        step.first_out_ms = min(times)
        step.last_out_ms = max(times)
        step.stop_reason = "tool_use" if names else "end_turn"

    def _tool_name(self, opening: bool = False) -> str:
        names, cum = TOOL_MIX[self.provider, opening]
        return weighted_choice(self.rng, names, cum)

    def _run_tools(self, step: StepPlan) -> None:
        rng, trng = self.rng, self.trng
        codex = self.provider == "codex"
        # Codex results are written after the step's usage report (else a reader would count them
        # as inputs of the step that made the call, TraceLab B8); Claude runs a tool as soon as
        # its block is complete, so its result may predate later blocks of the same response.
        floor = step.last_out_ms + 15 if codex else 0
        # Result sizes depend on how far the context has grown (RESULT_BY_CONTEXT, Table 9).
        boost = _log_interp(RESULT_BY_CONTEXT[self.provider], step.prefix + step.append)
        for tool in step.tools:
            tool.result_tokens = int(RESULT_TOKENS[self.provider].sample(rng) * boost)
            tool.result_chars = max(1, min(int(tool.result_tokens * rng.uniform(2.6, 4.0)), 30_000))
            if tool.name == "Agent" and not codex:
                tool.subagent = self._subagent(tool)
                end = tool.subagent.end_ms + trng.randint(50, 400)
            else:
                # (exec_command keeps the plain draw: whether it draws a yield depends on its
                # latency, and a changed count of draws would re-draw the rest of the session's
                # Codex timing, Table 10.)
                z = self.tool_w * self.tool_z
                if self.req_z is not None and not tool.opening and tool.name != "exec_command":
                    z += self.req_w * self.req_z + self.req_noise * trng.gauss(0.0, 1.0)
                else:
                    z += self.tool_noise * trng.gauss(0.0, 1.0)
                u = _phi(z)
                latency = TOOL_LATENCY.get(tool.name, TOOL_LATENCY["_default"]).ppf(u)
                if codex:
                    phase_u = self._codex_timing(tool, latency)
                    residual = self._residual(tool, phase_u)
                    end = tool.emitted_ms + max(
                        1, int(round((tool.internal_s or 0) * 1000 + residual))
                    )
                    if tool.internal_s is None:
                        end = tool.emitted_ms + max(1, int(latency * 1000))
                else:
                    if tool.name == "WebSearch":
                        tool.internal_s = round(max(0.0, latency - trng.uniform(0.002, 0.02)), 12)
                    elif tool.name == "WebFetch":
                        tool.internal_s = (
                            float(max(0, int(latency * 1000) - trng.randint(1, 30))) / 1000
                        )
                    end = tool.emitted_ms + max(1, int(latency * 1000))
                tool.is_error = trng.random() < _error_rate(tool.name)
            tool.result_ms = max(end, floor + trng.randint(0, 5), tool.emitted_ms + 1)

    def _codex_timing(self, tool: ToolPlan, latency: float) -> float | None:
        """Set the call's runner time (`internal_s`); return its residual's quantile where the
        session's phase sets it (shell_command, timed apply_patch), else None (a draw)."""
        rng = self.trng
        if tool.name in ("exec_command", "write_stdin"):
            zero_p = cal.CODEX_ZERO_WALL_OPENING_P if tool.opening else cal.CODEX_ZERO_WALL_LATER_P
            if tool.name == "exec_command" and rng.random() < zero_p:
                latency = 0.0  # "Wall time: 0.0000 seconds": a non-positive effective latency
            elif tool.name == "exec_command" and latency > 10.0 and rng.random() < 0.7:
                tool.running = True  # yield returned before the process finished
                latency = round(rng.uniform(9.9, 10.2), 4)
            elif tool.name == "write_stdin" and rng.random() < 0.4:
                tool.running = True
            tool.internal_s = round(latency, 4)
        elif tool.name == "shell_command":
            tool.internal_s = round(latency, 4)
            n, self.shell_calls = self.shell_calls, self.shell_calls + 1
            return self._weyl(0.0, n, cal.SHELL_RESIDUAL_STEP)
        elif tool.name == "apply_patch" and rng.random() < cal.APPLY_PATCH_WALL_TIME_SHARE:
            # A "Wall time" output (calibration.APPLY_PATCH_EXEC_S): its runner time's quantile,
            # like its residual's, from the session's phase, not a draw. The offsets couple them:
            # in the session's n-th timed patch call the residual's quantile is the runner
            # time's + 0.25 + n * (PATCH_RESIDUAL_STEP - PATCH_EXEC_STEP) (mod 1): in the first
            # exactly + 0.25, and the session's first shell_command residual (at the phase
            # itself) is locked to both, at the runner time's - 0.25. Table 10's rows see each
            # marginal alone, not this coupling.
            n, self.patch_calls = self.patch_calls, self.patch_calls + 1
            tool.internal_s = round(
                APPLY_PATCH_EXEC.ppf(self._weyl(0.25, n, cal.PATCH_EXEC_STEP)), 4
            )
            return self._weyl(0.5, n, cal.PATCH_RESIDUAL_STEP)
        return None

    def _codex_kept(self, ctx: _Context, kind: str, seen: int) -> int:
        """The prefix a Codex compaction or miss keeps where it would keep the session's cached
        part: that part, the shared base (CODEX_SHARED_BASE; a miss only past CODEX_BASE_MISS_FROM
        in the largest sessions, CODEX_BASE_MISS_SIZE), or nothing where that part is under the
        base's top."""
        late = seen >= CODEX_BASE_MISS_FROM and self.size_q >= CODEX_BASE_MISS_SIZE
        base = self._codex_base(ctx, kind) if kind != "miss" or late else None
        if base is not None:
            return base
        return 0 if ctx.static < CODEX_SHARED_BASE[1] else ctx.static

    def _codex_base(self, ctx: _Context, kind: str) -> int | None:
        """The shared base's size if this candidate of `kind` keeps it (CODEX_BASE_SHARE): only
        a session's first candidate of each kind can, where the session's phase falls in that
        kind's window. Never more than the session's own cached part."""
        n = self.base_calls[kind]
        self.base_calls[kind] = n + 1
        share = CODEX_BASE_SHARE[kind]
        u = (self.residual_u + CODEX_BASE_OFFSET[kind]) % 1.0
        if n or u >= share:
            return None
        lo, hi = CODEX_SHARED_BASE
        return min(lo + int(u / share * (hi - lo)), ctx.static)

    def _capped_opening(self, ctx: _Context, draw: float) -> int:
        """A miss's prefix that keeps the shared opening (_kept_opening), or nothing past the
        main thread's CLAUDE_OPENING_MISSES_MAX-th such miss."""
        if not ctx.sub:
            self.opening_misses += 1
            if self.opening_misses > CLAUDE_OPENING_MISSES_MAX:
                return 0
        return _kept_opening(ctx, draw)

    def _weyl(self, off: float, n: int, step: float) -> float:
        """The n-th point of the session's Weyl sequence offset by `off`: evenly spread over a
        session's calls, with the session's phase (`residual_u`) as its start."""
        return (self.residual_u + off + n * step) % 1.0

    def _residual(self, tool: ToolPlan, u: float | None) -> float:
        drawn = self.trng.random()  # drawn for every call: the stream stays that of other tools
        return RESIDUAL.get(tool.name, RESIDUAL["_default"]).ppf(drawn if u is None else u) * 1000

    def _subagent(self, tool: ToolPlan) -> ThreadPlan:
        sub = ThreadPlan(agent_id=ids.agent_id(self.trng))
        steps = int(SUBAGENT_STEPS.sample(self.trng))
        start = tool.emitted_ms + self.trng.randint(20, 200)
        # The sub-agent draws from its own stream (seeded by its id), so what the session
        # draws next does not depend on how long its sub-agents ran.
        saved, saved_rng, saved_z = self.model, self.rng, self.req_z
        self.rng = random.Random(f"{sub.agent_id}:{self.trng.random()}")
        # Explore and other light agents run on Haiku (calibration.CLAUDE_SUBAGENT_HAIKU_P),
        # drawn from a stream of its own: the sub-agent's other draws are unmoved.
        explore = random.Random(f"{sub.agent_id}:model").random() < cal.CLAUDE_SUBAGENT_HAIKU_P
        if explore and steps <= cal.CLAUDE_SUBAGENT_HAIKU_MAX_STEPS:
            self.model, sub.agent_type = HAIKU, "Explore"
        try:
            self._thread(sub, [steps], start, is_sub=True)
        finally:
            self.model, self.rng, self.req_z = saved, saved_rng, saved_z
        self.plan.subagents.append(sub)
        return sub


def _kept_opening(ctx: _Context, draw: float) -> int:
    """The prefix of a Claude miss that keeps the shared opening: the system prompt and the
    project context the project's sessions share (CLAUDE_PROJECT_SHARED_MAX), below 32k for
    the share of such openings past it that CLAUDE_OPENING_PAST_32K_WHOLE does not keep whole.
    The miss's draw decides (its digits past the first, draw * 7919 mod 1, a second uniform
    that does not depend on which range of the draw chose the miss's kind): no number is added.
    """
    shared = min(ctx.init, CLAUDE_PROJECT_SHARED_MAX)
    whole = CLAUDE_OPENING_PAST_32K_WHOLE
    h = (draw * 7919.0) % 1.0
    if ctx.static + shared >= 32_768 and h >= whole:
        shared = int((h - whole) / (1.0 - whole) * max(0, 32_767 - ctx.static))
    return ctx.static + shared


def _error_rate(name: str) -> float:
    return {
        "Bash": 0.08,
        "exec_command": 0.07,
        "Edit": 0.04,
        "apply_patch": 0.03,
        "Read": 0.02,
    }.get(name, 0.01)


def _request_paces(split: list[int]) -> list[float | None]:
    """Each request's pace score from its size rank in the session: the normal score of the
    middle of its share of the session's later tool steps, counted from the biggest request
    (calibration.TOOL_REQUEST_RHO, REQUEST_PACE_*); None for a session's only request and for
    requests of at most REQUEST_PACE_SKIP_STEPS tool steps, which make few calls past the
    opening ones."""
    skip = cal.REQUEST_PACE_SKIP_STEPS
    weights = [max(0, n - skip) for n in split]
    total = sum(weights)
    out: list[float | None] = [None] * len(split)
    if len(split) < 2 or total <= 0:
        return out
    before = 0
    for i in sorted(range(len(split)), key=lambda i: -weights[i]):
        if weights[i]:
            mid = (before + weights[i] / 2.0) / total
            out[i] = max(cal.REQUEST_PACE_FLOOR, -_phi_inv(mid))
            before += weights[i]
    return out


def _wait_quantile(size_z: float, noise: float) -> float:
    """Quantile of a human wait in HUMAN_WAIT from the session's size score and the wait's own
    noise (calibration.WAIT_*: weakly size-dependent below 1 h, strongly within the tail)."""
    rho = cal.WAIT_SIZE_RHO
    u = _phi(rho * (size_z - cal.WAIT_SIZE_CENTER) + math.sqrt(1.0 - rho**2) * noise)
    q, a = cal.WAIT_LONG_Q, cal.WAIT_LONG_RHO
    if u > q and a:
        # the position within the tail, re-drawn from the same noise with the size score mixed in
        z = _phi_inv((u - q) / (1.0 - q))
        shift = (size_z - cal.WAIT_LONG_CENTER) / cal.WAIT_SIZE_SD
        u = q + (1.0 - q) * _phi(a * shift + math.sqrt(1.0 - a**2) * z)
    return u


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _log_interp(knots: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise linear in log(x) through (x, y) knots; flat outside them."""
    if x <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in zip(knots, knots[1:], strict=False):
        if x < x1:
            return y0 + (y1 - y0) * math.log(x / x0) / math.log(x1 / x0)
    return knots[-1][1]


def _between(lo: int, hi: int, u: float) -> int:
    """The integer at quantile `u` of lo..hi (both included), like randint."""
    return min(hi, lo + int(u * (hi - lo + 1)))


def _phi_inv(u: float) -> float:
    return _NORMAL.inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))


def _index(cum: list[float], x: float) -> int:
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1
