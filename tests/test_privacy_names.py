"""Red team of the name columns: real Claude Code and Codex logs with a canary in every field a
user can fill (MCP server names, custom tools, proxy models, Bedrock ARNs, client builds, stop
reasons, record kinds, paths, branches, hooks, sub-agent types, rollout names), run through
normalize and anonymize: none reaches the public tables, and the blocking check
`only_listed_names` fails when a name goes out unlisted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anonymize_helpers import all_strings

import tracelab_pipeline.anonymize.anonymize as anonymize_module
from tracelab_pipeline.anonymize.partition import prepare_partition
from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer
from tracelab_pipeline.anonymize.public_checks import unlisted_names
from tracelab_pipeline.anonymize.vocabulary import (
    KNOWN_TOOLS,
    UNLISTED,
    is_listed,
    public_client_version,
    public_ignored_key,
    public_model_name,
    public_tool_name,
)
from tracelab_pipeline.normalize import normalize_files

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
CONTRIBUTOR = "jdoe-acme"
KEY = Pseudonymizer(b"names-red-team-key-0123456789")
CANARY = "zqc"  # in every planted value; no real log or vocabulary word holds it
ACCOUNT = "123456789012"
TOOLS = ["mcp__acmezqcsrv-db__query", "zqccustomtool_deploy", "mcp__plugin_zqcplug_gh__pr"]
MODELS = [
    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/zqcprofile",
    "acme-zqcmodel-proxy",
    "claude-sonnet-4-zqcfinetune",
]


def _claude_log(path: Path, model: str, *, agent: str | None = None) -> None:
    src = REAL / "claude" / "tracelab__claude-example-segment.jsonl"
    calls = iter(TOOLS * 10)
    out = []
    for line in src.read_text().splitlines():
        r = json.loads(line)
        r.update(cwd="/home/jdoe/zqccwd", gitBranch="feature/zqcbranch") if "cwd" in r else None
        if "version" in r:
            r.update(version="2.1.157-zqcbuild", userType="zqcuser", entrypoint="zqcentry")
        if agent:
            r.update(agentId=agent, isSidechain=True)
        msg = r.get("message")
        if isinstance(msg, dict) and r.get("type") == "assistant":
            # each copy its own calls (a copied message id is one call, counted once)
            msg.update(model=model, id=f"{msg.get('id')}-{len(model)}")
            if msg.get("stop_reason") == "end_turn":
                msg["stop_reason"] = "zqcstop"
        for block in msg.get("content") if isinstance(msg, dict) else ():
            if isinstance(block, dict) and block.get("type") == "tool_use":
                block["name"] = next(calls)
        out.append(r)
    last = next(r for r in reversed(out) if "timestamp" in r)
    sid, ts = last["sessionId"], last["timestamp"]
    out += [
        {"type": "zqcrecord", "sessionId": sid, "timestamp": ts},
        {"type": "system", "subtype": "zqcsubtype", "sessionId": sid, "timestamp": ts},
        {"type": "progress", "data": {"type": "hook_progress", "hookName": "Stop:zqchook"}}
        | {"sessionId": sid, "timestamp": ts},
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in out))


def _codex_log(path: Path) -> None:
    src = REAL / "codex" / "trezo-ai__codex-session.jsonl"
    out = []
    for line in src.read_text().splitlines():
        r = json.loads(line)
        p = r.get("payload") or {}
        if r.get("type") == "session_meta":
            p.update(cwd="/Users/jdoe/zqccwd", originator="zqcorig", cli_version="0.120.0-zqc")
            p["git"] = {"branch": "zqcbranch", "repository_url": "git@github.com:acme/zqc.git"}
        if r.get("type") == "turn_context":
            p.update(model="zqccodexmodel", cwd="/Users/jdoe/zqccwd", effort="zqceffort")
        if p.get("type") in ("function_call", "custom_tool_call") and p.get("name") == "read":
            p["name"] = "mcp__zqcsrv__read"
        out.append(r)
    ts = out[-1]["timestamp"]
    out += [
        {"timestamp": ts, "type": "zqcrectype", "payload": {}},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "zqcevent"}},
        {"timestamp": ts, "type": "response_item", "payload": {"type": "message", "role": "zqc"}},
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in out))


def _partitions(tmp_path: Path):
    project = tmp_path / ".claude/projects/-home-jdoe-zqcproject"
    session = "2f8b1c4d-6a73-4e9b-91c0-5d7f3a8e2b46"
    _claude_log(project / f"{session}.jsonl", MODELS[0])
    _claude_log(project / session / "subagents/agent-zqcagent.jsonl", MODELS[1], agent="zqcagent")
    _claude_log(project / "zqcsession.jsonl", MODELS[2])
    rollout = "rollout-2026-04-20T10-18-48-019daa66-5b7b-7b01-b9ce-b527014cc09f.jsonl"
    _codex_log(tmp_path / ".codex/sessions/2026/04/20" / rollout)
    for month, files in (
        ("2026-06", sorted(project.rglob("*.jsonl"))),
        ("2026-04", sorted((tmp_path / ".codex").rglob("*.jsonl"))),
    ):
        private = normalize_files(files, CONTRIBUTOR).tables()
        yield private, prepare_partition(private, CONTRIBUTOR, month, KEY, gx=False)


@pytest.fixture(scope="module")
def partitions(tmp_path_factory):
    return list(_partitions(tmp_path_factory.mktemp("names")))


def test_no_canary_of_a_user_chosen_name_is_public(partitions):
    for private, prepared in partitions:
        private_text = " ".join(all_strings(private))
        # the plants were read into the private layer (else this test proves nothing) ...
        assert CANARY in private_text
        public = " ".join(all_strings(prepared.anonymized.tables))
        # ... and none is public, nor the account id of a Bedrock ARN
        for leaked in (CANARY, ACCOUNT, "acme", "jdoe"):
            assert leaked not in public.lower(), leaked
        assert [c.name for c in prepared.checks if not c.passed] == []


def test_user_chosen_names_are_pseudonyms_that_keep_metrics(partitions):
    private, prepared = partitions[0]
    public = prepared.anonymized.tables
    tools = set(public["tool_calls"].column("tool_name").to_pylist())
    assert {"mcp__" + KEY.pseudonym("tool", TOOLS[0]), KEY.pseudonym("tool", TOOLS[1])} <= tools
    # timing events name a call's tool as its tool call does
    assert set(public["timing_events"].column("tool_name").drop_null().to_pylist()) <= tools
    models = set(public["steps"].column("model").to_pylist())
    # a model that matches a price family keeps it: the cost tables do not change
    assert f"sonnet-{KEY.pseudonym('model', MODELS[2])}" in models
    assert KEY.pseudonym("model", MODELS[0]) in models
    assert set(public["steps"].column("client_version").to_pylist()) == {"2.1.157"}
    assert "<UNLISTED>" in public["steps"].column("stop_reason").to_pylist()
    ignored = {
        k
        for row in public["ingest_accounting"].column("ignored_by_type").to_pylist()
        for k, _ in row or ()
    }
    assert {f"unknown:{UNLISTED}", f"system:{UNLISTED}"} <= ignored
    assert "system:stop_hook_summary" in ignored  # known kinds stay
    # nothing lost: the counts of the replaced keys add up
    private_total = sum(
        v
        for row in private["ingest_accounting"].column("ignored_by_type").to_pylist()
        for _, v in row or ()
    )
    public_total = sum(
        v
        for row in public["ingest_accounting"].column("ignored_by_type").to_pylist()
        for _, v in row or ()
    )
    assert public_total == private_total


def test_listed_names_check_fails_when_names_go_out_raw(tmp_path, monkeypatch):
    """The anonymizer as it was (Presidio only): the blocking check stops the partition."""
    monkeypatch.setattr(anonymize_module, "VOCABULARY", {})
    failed = {}
    for _private, prepared in _partitions(tmp_path):
        check = next(c for c in prepared.checks if c.name == "only_listed_names")
        assert not check.passed
        failed.update(check.metadata["unlisted_values"])
        # the verdict counts, it never quotes
        assert CANARY not in repr(check.metadata)
    assert {"steps.model", "tool_calls.tool_name", "timing_events.tool_name"} <= set(failed)
    assert {"steps.client_version", "steps.stop_reason"} <= set(failed)
    assert "ingest_accounting.ignored_by_type" in failed


@pytest.mark.parametrize(
    "model",
    [
        "claude-opus-4-8",
        "claude-sonnet-4-20250514",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-3-5-sonnet-v2@20241022",
        "glm-4.7",
        "nvidia/nemotron-3-super-120b-a12b-20230311:free",
        "gpt-5.1-codex-max",
        "gpt-4o-mini",
        "qwen3-coder-30b-a3b-instruct",
        "<synthetic>",
    ],
)
def test_real_model_ids_are_published_as_they_are(model):
    assert public_model_name(model, lambda raw: pytest.fail(raw)) == model
    assert is_listed("steps.model", model)


@pytest.mark.parametrize(
    "model",
    [
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/x1",
        "ft:gpt-4o-mini-2024-07-18:acme-corp:jdoe-exp:9aBcD",
        f"claude-{ACCOUNT}",
        f"claude-x{ACCOUNT}",
        f"qwen{ACCOUNT}-coder",
        "jdoe-llm",
    ],
)
def test_other_model_ids_are_pseudonyms(model):
    public = public_model_name(model, lambda raw: KEY.pseudonym("model", raw))
    assert public.endswith(KEY.pseudonym("model", model))
    assert is_listed("steps.model", public) and not is_listed("steps.model", model)


@pytest.mark.parametrize(
    "tool",
    # Codex's MCP resource and agent tools, Claude Code's worktree, team, cron and PowerShell
    # tools: pseudonymized, a paper's tool mix lost their label.
    [
        "list_mcp_resources",
        "list_mcp_resource_templates",
        "read_mcp_resource",
        "resume_agent",
        "EnterWorktree",
        "ExitWorktree",
        "SendMessage",
        "TeamCreate",
        "TeamDelete",
        "CronCreate",
        "CronDelete",
        "CronList",
        "PowerShell",
    ],
)
def test_built_in_tools_of_current_clients_keep_their_name(tool):
    assert public_tool_name(tool, lambda raw: KEY.pseudonym("tool", raw)) == tool
    assert is_listed("tool_calls.tool_name", tool)


def test_every_tool_of_the_real_logs_keeps_its_name():
    real = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
    tables = normalize_files(sorted(real.rglob("*.jsonl*")))
    names = {n for n in tables.tool_calls.column("tool_name").to_pylist() if n}
    assert names and all(n in KNOWN_TOOLS or n.startswith("mcp__") for n in names)


def test_tool_names_client_versions_and_record_kinds():
    pseudo = lambda raw: KEY.pseudonym("tool", raw)  # noqa: E731
    assert all(public_tool_name(t, pseudo) == t for t in KNOWN_TOOLS)
    assert public_tool_name("mcp__acme__q", pseudo) == "mcp__" + pseudo("mcp__acme__q")
    assert public_tool_name("acme_deploy", pseudo) == pseudo("acme_deploy")
    assert public_client_version("2.1.3-acmecorp") == "2.1.3"
    assert public_client_version("0.46.0-alpha.2") == "0.46.0-alpha.2"
    assert public_client_version("acme") == UNLISTED
    assert public_ignored_key("response_item.message(role=dict)") == (
        "response_item.message(role=dict)"
    )
    assert public_ignored_key("legacy.event_msg.token_count") == "legacy.event_msg.token_count"
    assert public_ignored_key("legacy.event_msg.acme") == f"legacy.event_msg.{UNLISTED}"


def test_unlisted_names_counts_per_column():
    outcome = unlisted_names([("tool_calls", "tool_name", ["Bash", "mcp__acme__q", "x y"])])
    assert outcome.metadata == {"unlisted_values": {"tool_calls.tool_name": 2}}
    assert not outcome.passed
