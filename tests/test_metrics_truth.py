"""SQL metrics vs an independent pandas/Python recomputation on a generated corpus with truth.

The generator writes its ground truth in our schema; we load it as the public layer, build the
warehouse and the paper tables, and recompute a representative set of metrics here with plain
pandas / NumPy / Python loops written straight from docs/reference/tracelab-metrics.md.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from tracelab_pipeline.metrics import build_all_tables
from tracelab_pipeline.metrics.pricing import DEFAULT_PATH
from tracelab_pipeline.synth import generate
from tracelab_pipeline.warehouse import build_warehouse

OUT = ("reasoning", "text", "tool_call")
INP = ("user_message", "tool_result")
SCOPES = (("Claude", "claude"), ("Codex", "codex"), ("Total", None))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    generate(
        "demo", seed=7, inbox_dir=root / "inbox", truth_dir=root / "truth", sessions=36, workers=1
    )
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    build_warehouse(con, root / "truth")
    build_all_tables(con)
    steps = pd.read_parquet(root / "truth" / "steps.parquet")
    steps = steps.sort_values(
        ["contributor", "provider", "session_id", "step_index", "source_line", "step_id"]
    ).reset_index(drop=True)
    steps["session"] = list(zip(steps.contributor, steps.provider, steps.session_id, strict=True))
    steps["total"] = steps.prefix_tokens + steps.append_tokens
    g = steps.groupby("session", sort=False)
    steps["prev_total"] = g.total.shift()
    steps["prev_output"] = g.output_tokens.shift()
    events = pd.read_parquet(root / "truth" / "timing_events.parquet")
    tools = pd.read_parquet(root / "truth" / "tool_calls.parquet")
    yield con, steps, events, tools
    con.close()


def q(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def cell(con, table, column, **where):
    cond = " AND ".join(f"{k} = ?" for k in where)
    return q(con, f"SELECT {column} FROM paper.{table} WHERE {cond}", *where.values())


def test_corpus_is_big_enough(corpus):
    con, steps, _, _ = corpus
    assert len(steps) > 1000
    assert set(steps.provider) == {"claude", "codex"}
    assert q(con, "SELECT count(*) FROM steps") == len(steps)


def test_overview_totals(corpus):
    con, steps, events, tools = corpus
    t = "table_01_overview"
    for provider, part in steps.groupby("provider"):
        assert cell(con, t, provider, metric="LLM steps") == len(part)
        assert cell(con, t, provider, metric="Sessions") == part.session.nunique()
        assert cell(con, t, provider, metric="Append tokens") == part.append_tokens.sum()
        assert cell(con, t, provider, metric="Prefix tokens") == part.prefix_tokens.sum()
        assert cell(con, t, provider, metric="Output tokens (incl. reasoning)") == (
            part.output_tokens.sum()
        )
        assert cell(con, t, provider, metric="Total input tokens") == part.total.sum()
        assert cell(con, t, provider, metric="Distinct models") == part.model.nunique()
    assert cell(con, t, "total", metric="Tool calls") == len(tools)
    assert cell(con, t, "total", metric="Distinct users") == steps.contributor.nunique()
    assert cell(con, t, "total", metric="Total input tokens") == steps.total.sum()
    # Claude logs no reasoning tokens apart ("—" in the paper): only Codex's are summed
    assert cell(con, t, "claude", metric="Reasoning tokens") is None
    codex = steps[steps.provider == "codex"]
    assert cell(con, t, "codex", metric="Reasoning tokens") == codex.reasoning_tokens.sum()
    priced = _costs(steps).cost.notna()
    assert cell(con, t, "total", metric="Priced steps") == pytest.approx(priced.mean())
    assert 0 < priced.mean() < 1
    # observation window: first to last timestamp of any event or tool call, by month
    times = pd.concat([events.timestamp, tools.emitted_at, tools.result_at]).dropna()
    window = f"{times.min():%b %Y}–{times.max():%b %Y}"
    assert q(con, f"SELECT total_text FROM paper.{t} WHERE metric = 'Observation window'") == (
        window
    )


def test_token_percentiles(corpus):
    con, steps, _, _ = corpus
    for block, column in (
        ("Prefix tokens", "prefix_tokens"),
        ("Append tokens", "append_tokens"),
        ("Output tokens", "output_tokens"),
    ):
        for label, part in (
            ("Claude", steps[steps.provider == "claude"]),
            ("Codex", steps[steps.provider == "codex"]),
            ("Total", steps),
        ):
            values = part[column].to_numpy()
            for p in (25, 50, 90, 99):
                got = cell(con, "table_08_token_lengths", f"p{p}", block=block, metric=label)
                assert got == pytest.approx(np.percentile(values, p), rel=1e-12), (block, label)
            avg = cell(con, "table_08_token_lengths", "avg", block=block, metric=label)
            assert avg == pytest.approx(values.mean())


def test_hit_rates(corpus):
    con, steps, _, _ = corpus
    ok = steps[(steps.prefix_tokens + steps.append_tokens) > 0]
    for metric, part in (
        ("Prefix cache-hit rate", ok),
        ("Prefix hit rate (user-initiated)", ok[ok.first_event_type == "user_message"]),
        ("Prefix hit rate (tool-result)", ok[ok.first_event_type == "tool_result"]),
    ):
        want = part.prefix_tokens.sum() / (part.prefix_tokens + part.append_tokens).sum()
        got = cell(con, "table_11_prefix_cache_hit_rate", "total", metric=metric)
        assert got == pytest.approx(want, rel=1e-12)


def test_growth_fresh_and_amplification(corpus):
    con, steps, _, _ = corpus
    ev = steps[steps.prev_total.notna() & steps.first_event_type.isin(INP)]
    delta = ev.total - ev.prev_total
    t3 = "table_03_context_growth"
    assert cell(con, t3, "total", block="All steps", metric="Steps") == len(ev)
    assert cell(con, t3, "total", block="All steps", metric="Negative (reduction) %") == (
        pytest.approx((delta < 0).mean())
    )
    assert cell(con, t3, "total", block="All steps", metric="Major reductions") == (
        (-delta >= 64_000).sum()
    )
    growth = delta.clip(lower=0)
    fresh = growth.sum() - ev.prev_output.sum()
    t12 = "table_12_fresh_tokens_amplification"
    assert cell(con, t12, "total", block="Overall", metric="Total fresh tokens") == fresh
    assert cell(con, t12, "total", block="Overall", metric="Prefill amplification") == (
        pytest.approx(ev.append_tokens.sum() / fresh)
    )
    clipped = np.minimum((growth - ev.prev_output).clip(lower=0), ev.append_tokens).sum()
    assert (
        cell(
            con, t12, "total", block="Overall", metric="Corrected: fresh tokens (clipped per step)"
        )
        == clipped
    )
    intro = "Growth-based amplification (intro: all-step append / growth)"
    assert cell(con, t12, "total", block="Overall", metric=intro) == pytest.approx(
        steps.append_tokens.sum() / growth.sum()
    )


def _price_table():
    data = json.loads(DEFAULT_PATH.read_text())
    exact = {(r["provider"], r["model"]): r for r in data["exact"]}

    def resolve(provider, model):
        if model is None:
            return None
        if (provider, model) in exact:
            return exact[(provider, model)]
        return next((f for f in data["families"] if f["match"] in model.lower()), None)

    return resolve


def _costs(steps):
    resolve = _price_table()
    rows = []
    for r in steps.itertuples():
        p = resolve(r.provider, r.model)
        if p is None:
            rows.append((np.nan, np.nan, np.nan, np.nan))
            continue
        cw = 0 if pd.isna(r.cache_write_tokens) else r.cache_write_tokens
        w = min(max(cw, 0), r.append_tokens)
        w1h = min(max(0 if pd.isna(r.cache_write_1h_tokens) else r.cache_write_1h_tokens, 0), w)
        write_rate = p["cache_write_5m"] if p["cache_write_5m"] is not None else p["input"]
        app = ((r.append_tokens - w) * p["input"] + w * write_rate) / 1e6
        app_ttl = (
            (r.append_tokens - w) * p["input"] + (w - w1h) * write_rate + w1h * 2 * p["input"]
        ) / 1e6
        rest = (r.prefix_tokens * p["cache_read"] + r.output_tokens * p["output"]) / 1e6
        rows.append((app, rest, app + rest, app_ttl + rest))
    return pd.DataFrame(rows, columns=["app", "rest", "cost", "cost_ttl"], index=steps.index)


def test_costs(corpus):
    con, steps, _, _ = corpus
    costs = _costs(steps)
    priced = costs.cost.notna()
    assert cell(con, "table_01_overview", "total", metric="Est. API price equiv.") == (
        pytest.approx(costs.cost.sum())
    )
    t5 = "table_05_cost_distribution"
    for scope, provider in SCOPES:
        per_step = costs.cost[priced & (provider is None or steps.provider == provider)]
        where = dict(block="Per step", metric="Total", scope=scope)
        assert cell(con, t5, "n", **where) == len(per_step)
        assert cell(con, t5, "avg", **where) == pytest.approx(per_step.mean())
        assert cell(con, t5, "p90", **where) == pytest.approx(np.percentile(per_step, 90))
    per_session = costs[priced].groupby(steps.session[priced]).cost.sum().to_numpy()
    where = dict(block="Per session", metric="Total", scope="Total")
    assert cell(con, t5, "p50", **where) == pytest.approx(np.percentile(per_session, 50))
    for scope, provider in SCOPES:
        mine = priced & (provider is None or steps.provider == provider)
        share = costs.app[mine].sum() / costs.cost[mine].sum()
        assert cell(
            con, t5, "pct_cost", block="Per step", metric="Append tokens", scope=scope
        ) == pytest.approx(share)
    ttl = q(
        con,
        "SELECT total FROM paper.table_05_cost_distribution_ttl "
        "WHERE block = 'Per step' AND metric = 'Total' AND scope = 'Total'",
    )
    assert ttl == pytest.approx(costs.cost_ttl.sum())


def _walk_requests(steps, events):
    """The request state machine of tracelab-metrics §0.4, literally: one Python walk."""
    ts = events.assign(us=events.timestamp.astype("int64"))
    by_step = {k: g for k, g in ts.groupby(["contributor", "step_id"])}
    open_turn: dict = {}
    kept = []

    def close(session):
        turn = open_turn.pop(session, None)
        if turn and turn["end"] is not None and turn["end"] - turn["start"] > 0:
            kept.append(turn)

    for r in steps.itertuples():
        ev = by_step.get((r.contributor, r.step_id))
        outputs = [] if ev is None else ev.us[ev.event_type.isin(OUT)].tolist()
        users = [] if ev is None else ev.us[ev.event_type == "user_message"].tolist()
        trigger = None
        if outputs:
            first = min(outputs)
            eligible = [u for u in users if u <= first]
            trigger = max(eligible) if eligible else None
        if trigger is not None:
            close(r.session)
            open_turn[r.session] = {"start": trigger, "end": None, "steps": 0, "of": r.provider}
        turn = open_turn.get(r.session)
        if turn is not None:
            turn["steps"] += 1
            if outputs:
                turn["end"] = (
                    max(outputs) if turn["end"] is None else max(turn["end"], max(outputs))
                )
    for session in list(open_turn):
        close(session)
    return kept


def test_requests_match_a_python_walk(corpus):
    con, steps, events, _ = corpus
    every = _walk_requests(steps, events)
    assert q(con, "SELECT count(*) FROM requests WHERE kept") == len(every)
    for scope, provider in (("Claude", "claude"), ("Codex", "codex"), ("Total", None)):
        kept = [t for t in every if provider in (None, t["of"])]
        e2e = np.array([(t["end"] - t["start"]) / 1e6 for t in kept])
        where = dict(block="Per request", metric="Total (response time)", scope=scope)
        assert cell(con, "table_07_timing", "n", **where) == len(kept)
        for p in (50, 90, 99):
            assert cell(con, "table_07_timing", f"p{p}", **where) == pytest.approx(
                np.percentile(e2e, p)
            )
        assert cell(con, "table_07_timing", "avg", **where) == pytest.approx(e2e.mean())
        steps_per = np.array([t["steps"] for t in kept])
        where = dict(block="Per request", metric="LLM steps (all rows of the request)")
        assert cell(con, "table_02_loop_counts", "n", **where, scope=scope) == len(kept)
        assert cell(con, "table_02_loop_counts", "avg", **where, scope=scope) == (
            pytest.approx(steps_per.mean())
        )


def test_human_waits_match_a_python_walk(corpus):
    con, steps, events, _ = corpus
    ev = events[events.timestamp.notna()].assign(us=lambda d: d.timestamp.astype("int64"))
    order = {(r.contributor, r.step_id): (r.session, i) for i, r in enumerate(steps.itertuples())}
    ev = ev.assign(
        session=[order[(c, s)][0] for c, s in zip(ev.contributor, ev.step_id, strict=True)],
        pos=[order[(c, s)][1] for c, s in zip(ev.contributor, ev.step_id, strict=True)],
    ).sort_values(["pos", "us", "event_index"], kind="stable")
    waits, providers, last = [], [], {}
    for r in ev.itertuples():
        prev = last.get(r.session)
        if r.event_type == "user_message" and prev is not None and r.us - prev > 0:
            waits.append((r.us - prev) / 1e6)
            providers.append(r.session[1])
        last[r.session] = r.us
    waits, providers = np.array(waits), np.array(providers)
    where = dict(block="Per individual latency", metric="Human thinking", scope="Total")
    assert cell(con, "table_07_timing", "n", **where) == len(waits)
    assert cell(con, "table_07_timing", "p50", **where) == pytest.approx(np.percentile(waits, 50))
    capped = dict(block="Per session, human capped (1h)", metric="Human thinking", scope="Total")
    total_capped = q(con, "SELECT sum(human_capped_s) FROM sessions WHERE wall_s > 0")
    assert cell(con, "table_07_timing", "total", **capped) == pytest.approx(total_capped)
    assert total_capped <= waits.sum() + 1e-6
    assert q(con, "SELECT sum(human_capped_s) FROM sessions") == pytest.approx(
        np.minimum(waits, 3600).sum()
    )
    for scope, provider in SCOPES:
        mine = waits if provider is None else waits[providers == provider]
        assert cell(con, "table_07_timing", "total", **capped | {"scope": scope}) == (
            pytest.approx(np.minimum(mine, 3600).sum())
        )


def test_counterfactual(corpus):
    con, steps, _, _ = corpus
    user = (steps.first_event_type == "user_message") & steps.prev_total.notna()
    growth = (steps.total - steps.prev_total).clip(lower=0)
    cf = np.where(user, np.minimum(steps.append_tokens, growth), steps.append_tokens)
    t13 = "table_13_human_think_counterfactual"
    assert cell(con, t13, "total", metric="User steps w/ predecessor") == user.sum()
    assert cell(con, t13, "total", metric="Append after retained cache") == cf.sum()
    # the counterfactual cost: cache writes shrink first, the moved tokens are read from cache
    resolve = _price_table()
    cf_cost = []
    for r, cf_append in zip(steps.itertuples(), cf, strict=True):
        p = resolve(r.provider, r.model)
        if p is None:
            cf_cost.append(np.nan)
            continue
        written = 0 if pd.isna(r.cache_write_tokens) else r.cache_write_tokens
        w = min(max(written, 0), r.append_tokens)
        cf_w = min(max(w - (r.append_tokens - cf_append), 0), cf_append)
        write_rate = p["cache_write_5m"] if p["cache_write_5m"] is not None else p["input"]
        cost = (cf_append - cf_w) * p["input"] + cf_w * write_rate
        cost += (r.total - cf_append) * p["cache_read"] + r.output_tokens * p["output"]
        cf_cost.append(cost / 1e6)
    frame = steps.assign(cf=cf, user=user, cf_cost=cf_cost, cost=_costs(steps).cost)
    for scope, provider in SCOPES:
        part = _scope(frame, provider)
        column = scope.lower()
        users = part[part.user]
        assert cell(con, t13, column, metric="Append after retained cache") == part.cf.sum()
        assert (
            cell(con, t13, column, metric="Reduced steps") == (users.cf < users.append_tokens).sum()
        )
        share = "Append reduction, share of user-step append"
        assert cell(con, t13, column, metric=share) == pytest.approx(
            (part.append_tokens.sum() - part.cf.sum()) / users.append_tokens.sum()
        )
        assert cell(con, t13, column, metric="Cost after retained cache") == pytest.approx(
            part.cf_cost.sum()
        )
        saved = (users.cost - users.cf_cost)[(users.cf < users.append_tokens)]
        assert cell(con, t13, column, metric="Avg saved / reduced step") == pytest.approx(
            saved[saved > 0].mean()
        )


def _scope(frame, provider):
    return frame if provider is None else frame[frame.provider == provider]


def test_append_by_prefix_bin(corpus):
    # tracelab-metrics §2 Table 9: half-open bins of prefix tokens, in 1024-token units
    con, steps, _, _ = corpus
    edges = [k * 1024 for k in (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)] + [np.inf]
    t9 = "table_09_append_by_prefix_bin"
    compared = 0
    for block, provider in SCOPES:
        part = _scope(steps, provider)
        bins = pd.cut(part.prefix_tokens, edges, right=False, labels=False)
        for i, lo in enumerate(edges[:-1]):
            values = part.append_tokens[bins == i].to_numpy()
            where = dict(block=block, lo_tokens=int(lo))
            assert cell(con, t9, "n", **where) == len(values), where
            if len(values) == 0:
                assert cell(con, t9, "avg", **where) is None, where
                continue
            compared += 1
            assert cell(con, t9, "total", **where) == values.sum(), where
            assert cell(con, t9, "avg", **where) == pytest.approx(values.mean()), where
            for p in (25, 50, 90, 99):
                assert cell(con, t9, f"p{p}", **where) == pytest.approx(np.percentile(values, p)), (
                    where,
                    p,
                )
    assert compared >= 20  # most bins hold steps in this corpus


@pytest.mark.parametrize("tracelab_way", [False, True], ids=["ours", "tracelab_way"])
def test_codex_tool_overhead(corpus, tracelab_way):
    # tracelab-metrics §2 Table 10: timed = Codex call with wall > 0 and internal >= 0; the
    # TraceLab-way companion (compared with the paper) times a call only when its internal
    # latency came from a "Wall time" line, the only Codex source TraceLab reads (B9)
    con, steps, _, tools = corpus
    codex = tools.merge(steps[["contributor", "step_id", "provider"]])
    codex = codex[codex.provider == "codex"]
    timed = codex[(codex.wall_latency_ms > 0) & (codex.internal_latency_ms >= 0)]
    assert 0 < len(timed) < len(codex)  # both kinds of call are there
    t10 = "table_10_codex_tool_overhead"
    if tracelab_way:
        by_json = timed.internal_latency_source == "output_metadata"
        assert by_json.any()  # apply_patch's JSON outputs: timed by us only
        assert set(timed.internal_latency_source) == {"wall_time_line", "output_metadata"}
        timed = timed[timed.internal_latency_source == "wall_time_line"]
        t10 = "table_10_codex_tool_overhead_tracelab_way"
    for label in ("All timed", "exec_command", "write_stdin", "shell_command", "apply_patch"):
        every = codex if label == "All timed" else codex[codex.tool_name == label]
        part = timed if label == "All timed" else timed[timed.tool_name == label]
        assert len(part) > 0, label
        residual = (part.wall_latency_ms - part.internal_latency_ms).clip(lower=0)
        assert cell(con, t10, "calls", tool=label) == len(part)
        assert cell(con, t10, "all_calls", tool=label) == len(every)
        hours = {
            "e2e_h": part.wall_latency_ms.sum(),
            "int_h": part.internal_latency_ms.sum(),
            "res_h": residual.sum(),
        }
        for column, ms in hours.items():
            assert cell(con, t10, column, tool=label) == pytest.approx(ms / 3.6e6), (label, column)
        seconds = (residual / 1000).to_numpy(dtype=float)
        assert cell(con, t10, "avg_s", tool=label) == pytest.approx(seconds.mean())
        for p in (50, 90, 99):
            assert cell(con, t10, f"p{p}_s", tool=label) == pytest.approx(
                np.percentile(seconds, p)
            ), (label, p)


def test_compaction_counts_match_a_python_walk(corpus):
    # tracelab-metrics §2 Table 4, literally: per session in order, a user/tool-triggered drop of
    # >= 64k from a total near the session's peak, not recovered within the next three steps
    con, steps, _, _ = corpus
    found = {"claude": [0, 0, 0, 0], "codex": [0, 0, 0, 0]}  # major, compactions, user, tool
    per_session = []
    for (_, provider, _), s in steps.groupby("session", sort=False):
        total = s.total.tolist()
        trigger = s.first_input_event_type.tolist()
        peak = max(total)
        compactions = 0
        for i in range(1, len(total)):
            if trigger[i] not in INP:
                continue
            prev = total[i - 1]
            if prev - total[i] < 64_000:
                continue
            found[provider][0] += 1
            later = total[i + 1 : i + 4]
            if prev >= 0.75 * peak and later and all(t < 0.75 * prev for t in later):
                compactions += 1
                found[provider][1] += 1
                found[provider][2 if trigger[i] == "user_message" else 3] += 1
        per_session.append((provider, compactions))
    t4 = "table_04_compaction"
    for provider, (major, comp, user, tool) in found.items():
        assert cell(con, t4, provider, metric="Major reductions (64k drop)") == major
        assert cell(con, t4, provider, metric="of which compactions") == comp
        assert cell(con, t4, provider, metric="User-initiated") == user
        assert cell(con, t4, provider, metric="Tool-initiated") == tool
        with_one = sum(1 for p, n in per_session if p == provider and n >= 1)
        assert cell(con, t4, provider, metric="Sessions with ≥1 compaction") == with_one
    assert sum(comp for _, comp, _, _ in found.values()) > 0  # the corpus has compactions
    counts = np.array([n for _, n in per_session])
    assert cell(con, t4, "total", metric="Sessions") == len(counts)
    assert cell(con, t4, "total", metric="Avg (all sessions)") == pytest.approx(counts.mean())
    assert cell(con, t4, "total", metric="P90 (sessions with ≥1)") == pytest.approx(
        np.percentile(counts[counts >= 1], 90)
    )


def test_corrections_beside_the_paper_definitions(corpus):
    # paper.corrections: the paper's definition and the corrected one, each recomputed here
    con, steps, _, _ = corpus
    rows = con.execute(
        "SELECT table_name, metric, scope, paper_value, corrected_value FROM paper.corrections"
    ).fetchall()
    got = {(t, m, s): (p, c) for t, m, s, p, c in rows}
    costs = _costs(steps)
    assert (costs.cost_ttl != costs.cost).any()  # 1-hour cache writes are there
    ev = steps[steps.prev_total.notna() & steps.first_event_type.isin(INP)]
    for scope, provider in SCOPES:
        part, cost = (
            _scope(steps, provider),
            _scope(costs.assign(provider=steps.provider), provider),
        )
        e = _scope(ev, provider)
        growth = (e.total - e.prev_total).clip(lower=0)
        fresh = growth.sum() - e.prev_output.sum()
        clipped = np.minimum((growth - e.prev_output).clip(lower=0), e.append_tokens).sum()
        rest = cost.cost - cost.app
        want = {
            ("table_01_overview", "LLM steps"): (len(part), len(part)),  # no copies here
            ("table_05_cost_distribution", "Total cost (priced steps)"): (
                cost.cost.sum(),
                cost.cost_ttl.sum(),
            ),
            ("table_05_cost_distribution", "Append cost (incl. cache writes)"): (
                cost.app.sum(),
                (cost.cost_ttl - rest).sum(),
            ),
            ("table_12_fresh_tokens_amplification", "Total fresh tokens"): (fresh, clipped),
            ("table_12_fresh_tokens_amplification", "Prefill amplification"): (
                e.append_tokens.sum() / fresh,
                e.append_tokens.sum() / clipped,
            ),
        }
        for (table, metric), (paper, corrected) in want.items():
            p, c = got[(table, metric, scope)]
            assert p == pytest.approx(paper), (table, metric, scope)
            assert c == pytest.approx(corrected), (table, metric, scope)
