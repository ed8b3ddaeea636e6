"""Synthetic workload generator: raw logs that normalize to exactly the recorded ground truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from click.testing import CliRunner

from tracelab_pipeline.anonymize.vocabulary import FIXED_VALUES
from tracelab_pipeline.normalize import iter_log_files, normalize_files
from tracelab_pipeline.synth import generate
from tracelab_pipeline.synth.calibration import TARGETS
from tracelab_pipeline.synth.check import report
from tracelab_pipeline.synth.session_model import HAIKU
from tracelab_pipeline.synth.truth import read_truth

KEYS = {
    "steps": ("step_id",),
    "tool_calls": ("step_id", "tool_index"),
    "timing_events": ("step_id", "event_index"),
}


def _normalized(inbox: Path) -> dict[str, list[dict]]:
    """Normalize every contributor directory of the inbox, paths made relative to the inbox."""
    out: dict[str, list[dict]] = {name: [] for name in KEYS}
    for contributor in sorted(p for p in inbox.iterdir() if p.is_dir()):
        tables = normalize_files(iter_log_files([contributor]), contributor=contributor.name)
        for row in tables.ingest_accounting.to_pylist():
            assert row["records_rejected"] == 0, row
            assert row["error"] is None, row
        for name in KEYS:
            rows = getattr(tables, name).to_pylist()
            for row in rows:
                if row.get("source_file"):
                    row["source_file"] = str(Path(row["source_file"]).relative_to(inbox))
            out[name].extend(rows)
    return out


def _assert_equal_to_truth(inbox: Path, truth_dir: Path) -> dict[str, int]:
    got = _normalized(inbox)
    truth = read_truth(truth_dir)
    counts = {}
    for name, key in KEYS.items():
        want = {tuple(r[k] for k in key): r for r in truth[name].to_pylist()}
        have = {tuple(r[k] for k in key): r for r in got[name]}
        assert len(want) == truth[name].num_rows, f"{name}: duplicate keys in the truth"
        assert set(have) == set(want), (
            f"{name}: {len(set(want) - set(have))} missing, {len(set(have) - set(want))} extra"
        )
        for k, row in want.items():
            diff = {c: (have[k].get(c), v) for c, v in row.items() if have[k].get(c) != v}
            assert not diff, f"{name} {k}: (normalized, truth) differ in {diff}"
        counts[name] = len(want)
    return counts


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("synth")
    summary = generate(
        "demo",
        seed=11,
        inbox_dir=root / "inbox",
        truth_dir=root / "truth",
        contributors=4,
        months=2,
        sessions=30,
        workers=2,
    )
    return root / "inbox", root / "truth", summary


def test_normalizing_the_generated_inbox_gives_exactly_the_truth(sample):
    inbox, truth, summary = sample
    counts = _assert_equal_to_truth(inbox, truth)
    assert counts["steps"] == summary["steps"] > 500
    assert counts["tool_calls"] == summary["tool_calls"] > 500
    assert counts["timing_events"] == summary["timing_events"]


def test_every_timing_source_of_the_corpus_is_in_the_fixed_vocabulary(sample):
    # The readers reproduce this truth exactly (test above), so its sources are theirs; a source
    # missing from FIXED_VALUES is scanned as data, and a handle that is one of its words would
    # then block the release.
    inbox, truth, _ = sample
    assert any(p.is_file() for p in inbox.rglob("*.jsonl"))
    events = read_truth(truth)["timing_events"]
    sources = set(events.column("source").drop_null().to_pylist())
    assert any(s.startswith("assistant.") for s in sources)  # Claude Code
    assert any(s.startswith(("event_msg.", "response_item.")) for s in sources)  # Codex
    assert sources - FIXED_VALUES["timing_events.source"] == set()


def test_another_seed_and_layout_also_match(tmp_path):
    summary = generate(
        "paper",
        seed=2026,
        inbox_dir=tmp_path / "inbox",
        truth_dir=tmp_path / "truth",
        contributors=3,
        months=1,
        sessions=10,
        workers=1,
    )
    counts = _assert_equal_to_truth(tmp_path / "inbox", tmp_path / "truth")
    assert counts["steps"] == summary["steps"] > 0


def test_inbox_layout_is_that_of_the_clients(sample):
    inbox, _, summary = sample
    claude = list(inbox.glob("*/.claude/projects/*/*.jsonl"))
    subagents = list(inbox.glob("*/.claude/projects/*/*/subagents/agent-*.jsonl"))
    day_dirs = "*/.codex/sessions/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"
    # (rollouts idle a week are stored as .jsonl.zst, as Codex rewrites them: synth/quirks.py)
    codex = list(inbox.glob(f"{day_dirs}/rollout-*.jsonl"))
    codex += inbox.glob(f"{day_dirs}/rollout-*.jsonl.zst")
    assert claude and codex
    every = list(inbox.rglob("*.jsonl")) + list(inbox.rglob("*.jsonl.zst"))
    assert len(every) == len(claude) + len(subagents) + len(codex) == summary["files"]
    for path in subagents:
        parent = path.parent.parent
        assert (parent.parent / f"{parent.name}.jsonl").exists()
    for path in claude:
        assert path.parent.name.startswith("-home-")


def test_explore_agents_are_written_as_haiku_sub_agents(sample):
    """The Agent call's subagent_type, as written, names the model its sub-agent file runs."""
    inbox, _, _ = sample
    kinds: dict[str, int] = {}
    for main in inbox.glob("*/.claude/projects/*/*.jsonl"):
        types, agents, main_models = {}, {}, set()
        for line in main.read_bytes().splitlines():
            rec = orjson.loads(line)
            if rec.get("type") == "assistant":
                main_models.add(rec["message"]["model"])
            result = rec.get("toolUseResult")
            content = (rec.get("message") or {}).get("content")
            for block in content if isinstance(content, list) else ():
                if block.get("type") == "tool_use" and block.get("name") == "Agent":
                    types[block["id"]] = block["input"]["subagent_type"]
                if block.get("type") == "tool_result" and isinstance(result, dict):
                    agents[block["tool_use_id"]] = result.get("agentId")
        for call, agent_type in types.items():
            if agents.get(call) is None:  # interrupted or rejected: no sub-agent ran
                continue
            sub = main.parent / main.stem / "subagents" / f"agent-{agents[call]}.jsonl"
            models = {
                rec["message"]["model"]
                for rec in map(orjson.loads, sub.read_bytes().splitlines())
                if rec.get("type") == "assistant"
            }
            if agent_type == "general-purpose":  # on its main thread's model
                assert models <= main_models, (sub, models, main_models)
            kinds[agent_type] = kinds.get(agent_type, 0) + 1
            if agent_type == "Explore":
                assert models == {HAIKU}, (sub, models)
    assert kinds.get("Explore") and kinds.get("general-purpose")


def test_quirks_readers_must_survive_are_present(sample):
    inbox, truth_dir, _ = sample
    seen = {
        "codex info null": 0,
        "codex repeated token_count": 0,
        "codex exec_command_end": 0,
        "codex patch_apply_end": 0,
        "codex still running": 0,
        "claude split response": 0,
        "claude placeholder usage": 0,
        "claude tool error": 0,
        "claude sidechain": 0,
        "claude 1h cache write": 0,
        "claude api error placeholder": 0,
        "parallel tool calls": 0,
    }
    for path in inbox.rglob("*.jsonl"):
        records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        if ".codex" in path.parts:
            last_total = None
            for r in records:
                p = r["payload"]
                kind = p.get("type")
                if kind == "token_count":
                    info = p["info"]
                    seen["codex info null"] += info is None
                    if info is not None:
                        seen["codex repeated token_count"] += (
                            info["total_token_usage"] == last_total
                        )
                        last_total = info["total_token_usage"]
                seen["codex exec_command_end"] += kind == "exec_command_end"
                seen["codex patch_apply_end"] += kind == "patch_apply_end"
                out = p.get("output")
                seen["codex still running"] += isinstance(out, str) and "Process running" in out
            continue
        ids: dict[str, int] = {}
        for r in records:
            if r.get("isSidechain"):
                seen["claude sidechain"] += 1
            msg = r.get("message")
            if r.get("type") == "assistant" and msg["model"] == "<synthetic>":
                seen["claude api error placeholder"] += 1
            elif r.get("type") == "assistant":
                ids[msg["id"]] = ids.get(msg["id"], 0) + 1
                seen["claude placeholder usage"] += msg["stop_reason"] is None
                split = msg["usage"].get("cache_creation") or {}
                seen["claude 1h cache write"] += split.get("ephemeral_1h_input_tokens", 0) > 0
            elif r.get("type") == "user" and isinstance(msg["content"], list):
                for block in msg["content"]:
                    if block.get("type") == "tool_result" and block.get("is_error"):
                        seen["claude tool error"] += 1
        seen["claude split response"] += sum(n > 1 for n in ids.values())
    steps = read_truth(truth_dir)["steps"]
    seen["parallel tool calls"] = sum(n > 1 for n in steps.column("tool_call_count").to_pylist())
    missing = [name for name, n in seen.items() if n == 0]
    assert not missing, f"quirks never generated: {missing}"


def test_same_seed_gives_byte_identical_output(tmp_path):
    def run(name: str, workers: int) -> dict[str, str]:
        root = tmp_path / name
        generate("demo", seed=7, inbox_dir=root / "in", truth_dir=root / "truth", contributors=3,
                 months=1, sessions=6, workers=workers)  # fmt: skip
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    first, second = run("a", 1), run("b", 2)
    assert first and first == second
    other = tmp_path / "c"
    generate("demo", seed=8, inbox_dir=other / "in", truth_dir=other / "truth", contributors=3,
             months=1, sessions=6, workers=1)  # fmt: skip
    assert (
        hashlib.sha256((other / "truth" / "steps.parquet").read_bytes()).hexdigest()
        != first["truth/steps.parquet"]
    )


def test_truth_directory_inside_inbox_is_refused(tmp_path):
    with pytest.raises(ValueError, match="truth"):
        generate("demo", inbox_dir=tmp_path, truth_dir=tmp_path / "truth", sessions=1)


def test_truth_tables_follow_the_schema(sample):
    from tracelab_pipeline import schema

    _, truth_dir, _ = sample
    for name, table in read_truth(truth_dir).items():
        assert table.schema.equals(schema.TABLES[name], check_metadata=False), name
        assert table.num_rows > 0
    steps = read_truth(truth_dir)["steps"]
    total = pa.compute.add(steps.column("prefix_tokens"), steps.column("append_tokens"))
    assert total.equals(steps.column("input_tokens_total"))


def test_check_reports_every_statistic_against_the_paper(sample):
    _, truth_dir, _ = sample
    rows, text = report(truth_dir)
    assert [r["statistic"] for r in rows] == [t.key for t in TARGETS]
    assert all(r["verdict"] in ("PASS", "FAIL") for r in rows)
    missing = [r["statistic"] for r in rows if r["generated"] is None]
    assert not missing, f"statistics not computed: {missing}"
    by_key = {r["statistic"]: r for r in rows}
    # Shares that are calibrated directly, per call or per step, hold even on a small sample
    # (the token-weighted hit rate over all steps does not: one long session with a few idle
    # misses carries most of a 30-session sample's tokens).
    for key in ("tool_share.claude.Bash", "tool_share.codex.exec_command", "hit_rate.claude.tool"):
        assert by_key[key]["verdict"] == "PASS", by_key[key]
    assert "statistics within tolerance" in text.splitlines()[-1]


def test_paper_check_uses_the_report_comparison_consistently(sample):
    """The paper-table check runs the project's metric code; verdicts agree with the numbers."""
    import duckdb

    from tracelab_pipeline import catalog
    from tracelab_pipeline.metrics import build_table
    from tracelab_pipeline.report.tables import paper_values
    from tracelab_pipeline.synth import paper_check
    from tracelab_pipeline.warehouse import build_warehouse

    _, truth_dir, _ = sample
    result = paper_check.compare(truth_dir)
    # every table the paper publishes values for is compared, value for value
    assert set(result) == set(paper_values())
    for name, diffs in result.items():
        expected = sum(len(entry[-1]) for entry in paper_values()[name]["rows"])
        assert len(diffs) == expected, name
    counts = paper_check.totals(result)
    for diffs in result.values():
        for d in diffs:
            ours, paper, ok = d["ours_value"], d["paper_value"], d["within_tolerance"]
            if ok is None:
                continue
            assert isinstance(ours, int | float) and isinstance(paper, int | float)
            if d["difference"].endswith(" pt"):  # shares: 3 points
                assert ok == (abs(ours - paper) <= 0.03), d
            else:
                limit = 0.35 if d["column"] in ("p99", "p99_s") else 0.15
                printed_alike = abs(ours - paper) <= d["resolution"]
                assert ok == (abs(ours - paper) / abs(paper) <= limit or printed_alike), d
    # values the small sample does compute, e.g. Table 2's medians and Table 11's hit rates
    assert counts["table_02_loop_counts"][0] + counts["table_02_loop_counts"][1] > 0
    found = [d for d in result["table_11_prefix_cache_hit_rate"] if d["found"]]
    assert found and all(0 <= d["ours_value"] <= 1 for d in found)
    text = paper_check.render(result)
    ok, judged = (sum(c[0] for c in counts.values()), sum(sum(c) for c in counts.values()))
    assert text.splitlines()[-1].startswith(f"{ok}/{judged} paper values within tolerance")
    assert "table_07_timing" in text and ("PASS" in text or "FAIL" in text)
    # the issue's own bounds: p50/p90/p99 (Table 4 names them in its rows) and shares, counted
    # over the tables the issue names and over all
    criterion = [d for diffs in result.values() for d in diffs if paper_check.in_issue_criterion(d)]
    columns = {d["column"] for d in criterion}
    assert {"p50", "p90", "p99", "p99_s", "share", "claude_pct"} <= columns
    assert not columns & {"avg", "n", "p25", "avg_s", "calls"}
    table_4 = {d["row"] for d in criterion if d in result["table_04_compaction"]}
    assert any("P99 (" in row for row in table_4) and not any("Avg (" in row for row in table_4)
    named = [
        d
        for name, diffs in result.items()
        if int(name[6:8]) in {1, 2, 3, 4, 7, 8, 9, 11}
        for d in diffs
        if paper_check.in_issue_criterion(d)
    ]
    for scope, values in (("the tables the issue names", named), ("all tables", criterion)):
        judged = [d["within_tolerance"] for d in values if d["within_tolerance"] is not None]
        assert f"{scope} within the issue's bounds: {sum(judged)}/{len(judged)}" in text
    marked = [line for line in text.splitlines() if line.endswith(("issue  PASS", "issue  FAIL"))]
    assert len(marked) == sum(d["within_tolerance"] is not None for d in named)
    # a corpus far from the paper's size says its counts cannot compare
    scale = "counts and totals scale with the corpus"
    assert scale in paper_check.render(result, steps=paper_check.truth_steps(truth_dir))
    assert scale not in paper_check.render(result, steps=357_161)
    # a listing of some tables still names every value outside tolerance, with how its table
    # is compared
    misses = [
        (n, d) for n, diffs in result.items() for d in diffs if d["within_tolerance"] is False
    ]
    listed = paper_check.render(result, tables={"table_07_timing"})
    assert misses and sum(line.endswith("FAIL") for line in listed.splitlines()) == len(misses)
    missed_10 = any(n.startswith("table_10") for n, _ in misses)
    assert ("(table_10_codex_tool_overhead:" in listed) == missed_10
    # Table 10 is compared through its TraceLab-way companion, and says so
    assert "table_10_codex_tool_overhead_tracelab_way" in text
    con = duckdb.connect()
    build_warehouse(con, truth_dir)
    build_table(con, next(t for t in catalog.TABLES if t.number == 10))
    timed = "SELECT calls FROM paper.{} WHERE tool = 'All timed'"
    (companion,) = con.execute(timed.format("table_10_codex_tool_overhead_tracelab_way")).fetchone()
    (own,) = con.execute(timed.format("table_10_codex_tool_overhead")).fetchone()
    con.close()
    compared = {
        (d["row"], d["column"]): d["ours_value"] for d in result["table_10_codex_tool_overhead"]
    }
    assert compared[("All timed", "calls")] == companion
    assert companion < own  # the sample's JSON-timed apply_patch calls tell the two apart


def test_cli_generates_and_checks(tmp_path):
    from tracelab_pipeline.cli import main

    runner = CliRunner()
    inbox, truth = tmp_path / "inbox", tmp_path / "truth"
    args = ["synth", "--preset", "demo", "--contributors", "2", "--months", "1"]
    args += ["--sessions", "3", "--seed", "4", "--inbox", str(inbox), "--truth", str(truth)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "steps" in result.output and (truth / "steps.parquet").exists()
    assert any(inbox.rglob("*.jsonl"))
    result = runner.invoke(main, ["synth", "--check", "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    assert "prefix.claude.p50" in result.output and "Table 8" in result.output
    assert "paper values within tolerance" in result.output
    assert "table_11_prefix_cache_hit_rate" in result.output


def _find_plan(provider: str, version: str, wanted, tries: int = 400):
    import random

    from tracelab_pipeline.synth.session_model import SessionBuilder

    for i in range(tries):
        rng = random.Random(f"{provider}:{version}:{i}")
        plan = SessionBuilder(rng, provider, "ada", 1_767_225_600_000, version).build()
        if wanted(plan):
            return plan, rng
    pytest.fail(f"no {provider} session with the wanted feature in {tries} draws")


def _single_file_matches(writer, root: Path) -> list[dict]:
    """Write one session, read its file(s) back with the readers, compare with its truth."""
    from tracelab_pipeline.formats import read_log

    written = writer.write()
    steps, tools, events = writer.finish()
    got = {"steps": [], "tool_calls": [], "timing_events": []}
    paths = sorted(root.rglob("*.jsonl"))
    assert written == len(paths)
    for path in paths:
        result = read_log(path, "ada")
        got["steps"] += result.steps
        got["tool_calls"] += result.tool_calls
        got["timing_events"] += result.timing_events
    for row in got["steps"]:
        row["source_file"] = str(Path(row["source_file"]).relative_to(root))
    for name, rows in (("steps", steps), ("tool_calls", tools), ("timing_events", events)):
        key = KEYS[name]
        want = {tuple(r[k] for k in key): r for r in rows}
        have = {tuple(r[k] for k in key): r for r in got[name]}
        assert set(want) == set(have), name
        for k, row in want.items():
            diff = {c: (have[k].get(c), v) for c, v in row.items() if have[k].get(c) != v}
            diff.pop("session_started_at", None)  # normalize sets it from the root session
            assert not diff, (name, k, diff)
    return steps


def test_old_client_sidechains_inline_are_their_own_threads(tmp_path):
    """1.x Claude Code wrote Task sub-agents inline (isSidechain, no agentId): still exact."""
    from tracelab_pipeline.synth.claude_writer import ClaudeWriter

    plan, rng = _find_plan("claude", "1.0.98", lambda p: bool(p.subagents))
    steps = _single_file_matches(ClaudeWriter(plan, rng, tmp_path), tmp_path)
    assert len(list(tmp_path.rglob("*.jsonl"))) == 1, "1.x sub-agents stay in the session file"
    assert any(s["is_sidechain"] for s in steps)


def test_rejected_tool_and_interrupt_marker(tmp_path):
    """The user refuses a tool: an error result, then the interrupt marker as user input."""
    from tracelab_pipeline.synth.claude_writer import ClaudeWriter

    def rejected(plan):
        # A refusal in the session's last request has no next prompt to carry its marker.
        return any(i.kind == "interrupt" for s in plan.main.steps for i in s.inputs)

    plan, rng = _find_plan("claude", "2.1.97", rejected)
    steps = _single_file_matches(ClaudeWriter(plan, rng, tmp_path), tmp_path)
    text = b"".join(p.read_bytes() for p in tmp_path.rglob("*.jsonl"))
    assert b"doesn't want to proceed" in text
    assert b"[Request interrupted by user for tool use]" in text
    # The request after the refusal starts from the refused result: tool-initiated.
    assert any(s["current_user_message_count"] >= 2 and s["trigger"] == "tool" for s in steps)


def test_interrupted_codex_turn_carries_its_outputs_over(tmp_path):
    """Esc before usage: no token_count, so those outputs join the next step (TraceLab §4.4)."""
    from tracelab_pipeline.synth.codex_writer import CodexWriter

    def aborted(plan):
        steps = plan.main.steps
        return any(s.aborted for s in steps[:-1])

    plan, rng = _find_plan("codex", "0.120.0", aborted)
    _single_file_matches(CodexWriter(plan, rng, tmp_path), tmp_path)
    text = b"".join(p.read_bytes() for p in tmp_path.rglob("*.jsonl"))
    assert b'"turn_aborted"' in text


def test_session_draws_are_stratified_over_each_provider():
    """One size quantile per stratum of all a provider's sessions; the other draws stay uniform,
    and the largest sessions get spread models and paces rather than independent ones."""
    from collections import Counter

    from tracelab_pipeline.synth.presets import layout, resolve

    preset = resolve("paper", None, None, None)
    plans = layout(preset, 3)
    assert plans == layout(preset, 3)
    for provider in ("claude", "codex"):
        draws = [d for c in plans for d in getattr(c, f"{provider}_draws")]
        n = len(draws)
        assert n == sum(getattr(c, f"{provider}_sessions") for c in plans) > 1000
        assert sorted(int(d.size * n) for d in draws) == list(range(n))
        for name in ("requests", "model", "tool_pace", "gen_pace", "cache", "static"):
            deciles = Counter(int(getattr(d, name) * 10) for d in draws)
            assert max(abs(k - n / 10) for k in deciles.values()) < 0.02 * n, name
        largest = sorted(draws, key=lambda d: -d.size)[:20]
        assert len({int(d.model * 10) for d in largest}) >= 8


def test_cli_refuses_counts_below_one_and_a_check_without_truth(tmp_path):
    """--contributors 0 generated the whole preset (0 read as 'not given'), -1 generated nothing
    and exited 0; --check on a missing --truth died with a FileNotFoundError traceback, an
    --inbox that cannot be created with a NotADirectoryError one, a --truth inside --inbox with
    a ValueError one."""
    from tracelab_pipeline.cli import main

    runner = CliRunner()
    out = ["--inbox", str(tmp_path / "inbox"), "--truth", str(tmp_path / "truth")]
    for option in ("--contributors", "--months", "--sessions", "--workers"):
        for value in ("0", "-1"):
            result = runner.invoke(main, ["synth", option, value, *out])
            assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output
    assert not (tmp_path / "inbox").exists() and not (tmp_path / "truth").exists()
    missing = tmp_path / "no-truth"
    result = runner.invoke(main, ["synth", "--check", "--truth", str(missing)])
    assert result.exit_code == 1 and f"{missing / 'steps.parquet'} not found" in result.output
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    args = ["synth", "--inbox", str(blocker / "in"), "--truth", str(tmp_path / "t")]
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "Not a directory" in result.output
    assert str(blocker / "in") in result.output
    inside = ["synth", "--inbox", str(tmp_path / "in"), "--truth", str(tmp_path / "in" / "t")]
    result = runner.invoke(main, [*inside, "--sessions", "1"])
    assert result.exit_code == 1 and "must not be inside the inbox" in result.output
    assert not (tmp_path / "in" / "t").exists()


def test_cli_refuses_an_inbox_that_already_holds_files(tmp_path):
    """Old files would be landed beside the new ones, and the truth would not describe them."""
    from tracelab_pipeline.cli import main

    inbox = tmp_path / "inbox"
    (inbox / "someone").mkdir(parents=True)
    args = ["synth", "--sessions", "1", "--inbox", str(inbox), "--truth", str(tmp_path / "t")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "is not empty" in result.output
    assert not (tmp_path / "t").exists()
