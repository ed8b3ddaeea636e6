"""Compare a generated dataset's statistics with the paper's (`tracelab synth --check`).

Statistics are computed from the truth Parquet with the paper's definitions as restated in
docs/reference/tracelab-metrics.md (linear-interpolation percentiles; T-first-event trigger for
growth and cache hit rates, T-column for Table 2 and compaction; the request state machine of
§0.4; human waits of §0.5). Threads are ordered by step_index, which for generated data is
the file order the paper uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tracelab_pipeline.synth.calibration import TARGETS, TOLERANCE, Target

_STEP_COLS = [
    "step_id",
    "provider",
    "session_id",
    "step_index",
    "model",
    "prefix_tokens",
    "append_tokens",
    "output_tokens",
    "first_input_event_type",
    "first_event_type",
    "input_ready_at",
    "first_output_at",
    "last_output_at",
    "usage_at",
    "tool_call_count",
]


def compute(truth_dir: str | Path) -> dict[str, float]:
    """Every statistic named in calibration.TARGETS, from the truth tables."""
    import pyarrow.parquet as pq

    truth_dir = Path(truth_dir)
    steps = pq.read_table(truth_dir / "steps.parquet", columns=_STEP_COLS).to_pandas()
    tools = pq.read_table(
        truth_dir / "tool_calls.parquet",
        columns=["step_id", "tool_name", "wall_latency_ms", "internal_latency_ms", "result_at"],
    ).to_pandas()
    events = pq.read_table(
        truth_dir / "timing_events.parquet",
        columns=["step_id", "event_index", "event_type", "timestamp"],
    ).to_pandas()
    steps = steps.sort_values(["session_id", "step_index"], kind="stable").reset_index(drop=True)
    for col in ("input_ready_at", "first_output_at", "last_output_at", "usage_at"):
        steps[col] = _seconds(steps[col])
    events["t"] = _seconds(events["timestamp"])
    tools["provider"] = tools["step_id"].str.split(":", n=1).str[0]
    out: dict[str, float] = {}
    _mix(steps, tools, out)
    _loop(steps, events, out)
    _tokens(steps, out)
    _growth(steps, out)
    _timing(steps, events, tools, out)
    # First timestamped event of each step in list order (Fig 3 gap, Fig 11 first activity).
    timed = events[~np.isnan(events["t"])].sort_values(["step_id", "event_index"], kind="stable")
    first_listed = timed.groupby("step_id")["t"].first()
    _cache(steps, events, tools, out, first_listed)
    _attribution(steps, out, first_listed)
    # A model or tool that never occurs has a share of 0, not an unknown one.
    providers = set(steps["provider"])
    for t in TARGETS:
        kind, _, rest = t.key.partition(".")
        if kind in ("model_share", "tool_share") and rest.split(".")[0] in providers:
            out.setdefault(t.key, 0.0)
    return out


def _seconds(col: pd.Series) -> np.ndarray:
    values = col.to_numpy(dtype="datetime64[us]")
    out = values.astype("int64").astype("float64") / 1e6
    out[np.isnat(values)] = np.nan
    return out


def _pcts(out: dict, key: str, values) -> None:
    v = np.asarray(values, dtype="float64")
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    out[f"{key}.p50"], out[f"{key}.p90"], out[f"{key}.p99"] = p50, p90, p99
    out[f"{key}.avg"] = float(v.mean())


def _mix(steps: pd.DataFrame, tools: pd.DataFrame, out: dict) -> None:
    for provider, group in steps.groupby("provider"):
        shares = group["model"].value_counts(normalize=True)
        for model, share in shares.items():
            out[f"model_share.{provider}.{model}"] = float(share)
    out["provider_share.steps.claude"] = float((steps["provider"] == "claude").mean())
    out["provider_share.tool_calls.claude"] = float((tools["provider"] == "claude").mean())
    sessions = steps.drop_duplicates("session_id")
    out["provider_share.sessions.claude"] = float((sessions["provider"] == "claude").mean())
    for provider, group in tools.groupby("provider"):
        for name, share in group["tool_name"].value_counts(normalize=True).items():
            out[f"tool_share.{provider}.{name}"] = float(share)


def _loop(steps: pd.DataFrame, events: pd.DataFrame, out: dict) -> None:
    """Table 2 with the request state machine (tracelab-metrics §0.4)."""
    users = events[events["event_type"] == "user_message"][["step_id", "t"]]
    by_step = users.groupby("step_id")["t"].apply(list).to_dict()
    per_session: dict[str, list[int]] = {}
    requests: list[list[int]] = []
    for sid, group in steps.groupby("session_id", sort=False):
        n_req = 0
        u_steps = int((group["first_input_event_type"] == "user_message").sum())
        t_steps = int((group["first_input_event_type"] == "tool_result").sum())
        open_turn = None
        for row in group.itertuples(index=False):
            first_out = row.first_output_at
            trigger = None
            if not np.isnan(first_out):
                ts = [t for t in by_step.get(row.step_id, ()) if t <= first_out]
                trigger = max(ts) if ts else None
            if trigger is not None:
                if (
                    open_turn is not None
                    and open_turn[1] is not None
                    and open_turn[1] > open_turn[0]
                ):
                    requests.append(open_turn[2])
                    n_req += 1
                open_turn = [trigger, None, [0, 0, 0]]
            if open_turn is not None:
                counts = open_turn[2]
                counts[0] += row.first_input_event_type == "user_message"
                counts[1] += row.first_input_event_type == "tool_result"
                counts[2] += row.tool_call_count
                if not np.isnan(row.last_output_at):
                    end = open_turn[1]
                    open_turn[1] = (
                        row.last_output_at if end is None else max(end, row.last_output_at)
                    )
        if open_turn is not None and open_turn[1] is not None and open_turn[1] > open_turn[0]:
            requests.append(open_turn[2])
            n_req += 1
        calls = int(group["tool_call_count"].sum())
        per_session[sid] = [n_req, u_steps, t_steps, calls]
    s = np.array(list(per_session.values()), dtype="float64")
    _pcts(out, "session.requests", s[:, 0])
    _pcts(out, "session.tool_steps", s[:, 2])
    _pcts(out, "session.tool_calls", s[:, 3])
    r = np.array(requests, dtype="float64")
    if len(r):
        _pcts(out, "request.tool_steps", r[:, 1])
        _pcts(out, "request.tool_calls", r[:, 2])
    _pcts(out, "step.tool_calls", steps["tool_call_count"])


def _tokens(steps: pd.DataFrame, out: dict) -> None:
    for provider, g in steps.groupby("provider"):
        _pcts(out, f"prefix.{provider}", g["prefix_tokens"])
        _pcts(out, f"append.{provider}", g["append_tokens"])
        _pcts(out, f"output.{provider}", g["output_tokens"])
        bins = {"lt1k": (0, 1), "4k_8k": (4, 8), "64k_128k": (64, 128), "128k_256k": (128, 256)}
        for name, (lo, hi) in bins.items():
            sel = g[(g["prefix_tokens"] >= lo * 1024) & (g["prefix_tokens"] < hi * 1024)]
            if len(sel):
                p50 = float(np.percentile(sel["append_tokens"], 50))
                out[f"append_by_prefix.{provider}.{name}.p50"] = p50
    append = steps["append_tokens"].to_numpy(dtype="float64")
    out["append_share_ge_10k"] = float(append[append >= 10_000].sum() / max(1.0, append.sum()))
    out["steps_share_append_lt_1k"] = float((append < 1_000).mean())


def _growth(steps: pd.DataFrame, out: dict) -> None:
    """Table 3 reductions and Table 4 compactions, per thread in step order."""
    total = (steps["prefix_tokens"] + steps["append_tokens"]).to_numpy(dtype="int64")
    same = steps["session_id"].to_numpy()[1:] == steps["session_id"].to_numpy()[:-1]
    delta = np.zeros(len(steps), dtype="int64")
    delta[1:] = total[1:] - total[:-1]
    has_prev = np.zeros(len(steps), dtype=bool)
    has_prev[1:] = same
    first = steps["first_event_type"].to_numpy()
    for provider in ("claude", "codex"):
        prov = (steps["provider"] == provider).to_numpy() & has_prev
        for trig, types in (("all", ("user_message", "tool_result")), ("user", ("user_message",))):
            sel = prov & np.isin(first, types)
            if sel.any():
                out[f"reduction.{provider}.{trig}"] = float((delta[sel] < 0).mean())
        sel = prov & (first == "tool_result")
        if sel.any():
            out[f"reduction.{provider}.tool"] = float((delta[sel] < 0).mean())
    # Table 4
    col_trigger = steps["first_input_event_type"].to_numpy()
    compaction_triggers = []
    sessions_with = {"claude": 0, "codex": 0}
    sessions_all = {"claude": 0, "codex": 0}
    starts = np.flatnonzero(~np.concatenate([[False], same]))
    ends = np.append(starts[1:], len(steps))
    providers = steps["provider"].to_numpy()
    for a, b in zip(starts, ends, strict=True):
        provider = providers[a]
        sessions_all[provider] += 1
        t = total[a:b]
        if len(t) < 2 or t.max() <= 0:
            continue
        peak = t.max()
        found = 0
        for i in range(1, len(t)):
            trig = col_trigger[a + i]
            if trig not in ("user_message", "tool_result"):
                continue
            if t[i - 1] - t[i] < 64_000 or t[i - 1] < 0.75 * peak or i + 1 >= len(t):
                continue
            if np.any(t[i + 1 : i + 4] >= 0.75 * t[i - 1]):
                continue
            found += 1
            compaction_triggers.append(trig)
        sessions_with[provider] += found > 0
    for provider in ("claude", "codex"):
        if sessions_all[provider]:
            out[f"compaction_sessions.{provider}"] = (
                sessions_with[provider] / sessions_all[provider]
            )
    if compaction_triggers:
        out["compaction_tool_initiated"] = float(
            np.mean([t == "tool_result" for t in compaction_triggers])
        )


def _timing(steps: pd.DataFrame, events: pd.DataFrame, tools: pd.DataFrame, out: dict) -> None:
    """Table 7 individual latencies (human wait, generation span, tool latency), Fig 8/9."""
    order = steps[["step_id", "session_id", "step_index"]]
    ev = events.merge(order, on="step_id", how="inner")
    ev = ev[~np.isnan(ev["t"])].sort_values(
        ["session_id", "step_index", "t", "event_index"], kind="stable"
    )
    sid = ev["session_id"].to_numpy()
    t = ev["t"].to_numpy()
    is_user = (ev["event_type"] == "user_message").to_numpy()
    prev_same = np.zeros(len(ev), dtype=bool)
    prev_same[1:] = sid[1:] == sid[:-1]
    gap = np.full(len(ev), np.nan)
    gap[1:] = t[1:] - t[:-1]
    waits_mask = is_user & prev_same & (gap > 0)
    _pcts(out, "human_wait_s", gap[waits_mask])
    sessions_with_wait = set(sid[waits_mask])
    n_sessions = steps["session_id"].nunique()
    out["sessions_without_human_wait"] = 1 - len(sessions_with_wait) / max(1, n_sessions)
    span = steps["last_output_at"] - steps["input_ready_at"]
    _pcts(out, "generation_s", span[span > 0])
    eff = tools["internal_latency_ms"].where(
        tools["internal_latency_ms"].notna(), tools["wall_latency_ms"]
    )
    eff = eff.astype("float64") / 1000
    pos = eff > 0
    _pcts(out, "tool_latency_s", eff[pos])
    for provider in ("claude", "codex"):
        sel = pos & (tools["provider"] == provider)
        lat = eff[sel]
        if len(lat):
            out[f"tool_latency.{provider}.share_lt_1s"] = float((lat < 1).mean())
            out[f"tool_latency.{provider}.share_lt_10s"] = float((lat < 10).mean())
            out[f"tool_latency.{provider}.share_ge_1m"] = float((lat >= 60).mean())
        for name in ("Read", "Edit", "Bash"):
            lat = eff[sel & (tools["tool_name"] == name)]
            if len(lat):
                out[f"tool_latency.{provider}.{name}.p50"] = float(np.percentile(lat, 50))


def _cache(
    steps: pd.DataFrame,
    events: pd.DataFrame,
    tools: pd.DataFrame,
    out: dict,
    first_listed: pd.Series,
) -> None:
    """Table 11 token-weighted hit rates; Fig 11 idle gap before low-hit user steps."""
    total = steps["prefix_tokens"] + steps["append_tokens"]
    ok = total > 0
    first = steps["first_event_type"]
    for provider in ("claude", "codex"):
        prov = ok & (steps["provider"] == provider)
        for name, sel in (
            ("all", prov),
            ("user", prov & (first == "user_message")),
            ("tool", prov & (first == "tool_result")),
        ):
            denom = total[sel].sum()
            if denom:
                out[f"hit_rate.{provider}.{name}"] = float(
                    steps["prefix_tokens"][sel].sum() / denom
                )
    # Idle gap: first activity of a step minus the last activity of the previous step.
    first_t = first_listed.combine_first(events.groupby("step_id")["t"].min())
    last_t = events.groupby("step_id")["t"].max()
    res = tools.assign(r=_seconds(tools["result_at"])).groupby("step_id")["r"].max()
    last_t = pd.concat([last_t, res], axis=1).max(axis=1)
    ids = steps["step_id"]
    f = first_t.reindex(ids).to_numpy()
    lt = last_t.reindex(ids).to_numpy()
    gap = np.full(len(steps), np.nan)
    same = steps["session_id"].to_numpy()[1:] == steps["session_id"].to_numpy()[:-1]
    gap[1:] = np.where(same, f[1:] - lt[:-1], np.nan)
    hit = (steps["prefix_tokens"] / total.where(ok)).to_numpy()
    low_user = (first == "user_message").to_numpy() & (hit < 0.10) & ~np.isnan(gap) & (gap >= 0)
    _pcts(out, "low_hit_user_gap_s", gap[low_user])


def _attribution(steps: pd.DataFrame, out: dict, first_listed: pd.Series) -> None:
    """Fig 3: among consecutive pairs with a previous output >= 2k, the share that re-send it."""
    s = steps
    same = s["session_id"].to_numpy()[1:] == s["session_id"].to_numpy()[:-1]
    prev_total = (s["prefix_tokens"] + s["append_tokens"]).to_numpy()[:-1]
    prev_out = s["output_tokens"].to_numpy()[:-1]
    prev_last = s["last_output_at"].to_numpy()[:-1]
    cur_first = first_listed.reindex(s["step_id"]).to_numpy()[1:]
    gap = cur_first - prev_last
    prefix_delta = s["prefix_tokens"].to_numpy()[1:] - prev_total
    nxt_append = s["append_tokens"].to_numpy()[1:]
    tol = np.maximum(512, 0.10 * prev_out)
    resend = (prefix_delta < prev_out - tol) & (nxt_append >= prev_out - tol)
    ok = same & (prev_out >= 2000) & (gap >= 0) & (gap <= 240)
    prev_provider = s["provider"].to_numpy()[:-1]
    prev_model = s["model"].to_numpy()[:-1]
    groups = {
        "claude": prev_provider == "claude",
        "gpt-5.5": (prev_provider == "codex") & (prev_model == "gpt-5.5"),
        "gpt-5.4": (prev_provider == "codex") & (prev_model == "gpt-5.4"),
    }
    for name, sel in groups.items():
        m = ok & sel
        if m.any():
            out[f"output_resend.{name}"] = float(resend[m].mean())


def verdict(target: Target, value: float | None) -> tuple[str, str]:
    """(deviation text, PASS/FAIL) of one statistic against its paper value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a", "FAIL"
    tol = TOLERANCE[target.kind]
    if target.kind == "share":
        dev = (value - target.paper) * 100
        return f"{dev:+.1f} pt", "PASS" if abs(dev) <= tol * 100 + 1e-9 else "FAIL"
    if target.kind == "min":
        return (
            f"{(value - target.paper) * 100:+.1f} pt",
            "PASS" if value >= target.paper else "FAIL",
        )
    dev = (value - target.paper) / target.paper if target.paper else float("inf")
    return f"{dev * 100:+.1f} %", "PASS" if abs(dev) <= tol + 1e-9 else "FAIL"


def report(truth_dir: str | Path) -> tuple[list[dict], str]:
    """Rows (statistic, source, paper, generated, deviation, verdict) and a printable table."""
    values = compute(truth_dir)
    rows = []
    for t in TARGETS:
        value = values.get(t.key)
        dev, ok = verdict(t, value)
        rows.append(
            {
                "statistic": t.key,
                "source": t.source,
                "kind": t.kind,
                "paper": t.paper,
                "generated": value,
                "deviation": dev,
                "verdict": ok,
            }
        )
    lines = [f"{'statistic':44} {'source':34} {'paper':>12} {'generated':>12} {'dev':>9}  result"]
    for r in rows:
        lines.append(
            f"{r['statistic'][:44]:44} {r['source'][:34]:34} {_fmt(r['paper']):>12} "
            f"{_fmt(r['generated']):>12} {r['deviation']:>9}  {r['verdict']}"
        )
    passed = sum(r["verdict"] == "PASS" for r in rows)
    lines.append(f"{passed}/{len(rows)} statistics within tolerance")
    return rows, "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if abs(v) < 1:
        return f"{v:.3f}"
    if abs(v) < 100:
        return f"{v:.2f}"
    return f"{v:,.0f}"
