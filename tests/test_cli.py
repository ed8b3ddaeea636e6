"""`tracelab collect` and `tracelab normalize`, run through click on real files in tmp dirs."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import click
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tracelab_pipeline.cli import main
from tracelab_pipeline.landing.handles import handle_from, is_valid_handle
from tracelab_pipeline.schema import TABLES

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
CLAUDE_SEGMENT = FIXTURES / "claude" / "tracelab__claude-example-segment.jsonl"
CODEX_SEGMENT = FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl"
CODEX_TREZO = FIXTURES / "codex" / "trezo-ai__codex-session.jsonl"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def homes(tmp_path) -> dict[str, str]:
    """A fake machine: Claude Code and Codex homes relocated by their environment variables."""
    claude = tmp_path / "claude-home"
    project = claude / "projects" / "-work-demo"
    (project / "5c0375b4" / "subagents").mkdir(parents=True)
    shutil.copy(CLAUDE_SEGMENT, project / "5c0375b4.jsonl")
    shutil.copy(CLAUDE_SEGMENT, project / "5c0375b4" / "subagents" / "agent-a1.jsonl")
    (project / "5c0375b4" / "subagents" / "agent-a1.meta.json").write_text("{}")
    (claude / "settings.json").write_text("{}")
    (claude / "todos").mkdir()
    (claude / "todos" / "stray.jsonl").write_text("{}\n")  # outside projects/: not a session

    codex = tmp_path / "codex-home"
    (codex / "sessions" / "2026" / "01" / "02").mkdir(parents=True)
    shutil.copy(CODEX_SEGMENT, codex / "sessions" / "2026" / "01" / "02" / "rollout-a.jsonl")
    (codex / "archived_sessions").mkdir()
    archived = codex / "archived_sessions" / "rollout-b.jsonl.gz"
    archived.write_bytes(gzip.compress(CODEX_TREZO.read_bytes()))
    return {"CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(codex)}


EXPECTED_LAYOUT = [
    "claude/projects/-work-demo/5c0375b4.jsonl",
    "claude/projects/-work-demo/5c0375b4/subagents/agent-a1.jsonl",
    "codex/archived_sessions/rollout-b.jsonl.gz",
    "codex/sessions/2026/01/02/rollout-a.jsonl",
]


def test_collect_copies_both_providers_keeping_the_layout(tmp_path, homes):
    dest = tmp_path / "dest"
    result = run("collect", "--dest", str(dest), env=homes)
    assert result.exit_code == 0, result.output
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == EXPECTED_LAYOUT
    assert (dest / EXPECTED_LAYOUT[0]).read_bytes() == CLAUDE_SEGMENT.read_bytes()
    assert "claude: 2 files" in result.output and "codex: 2 files" in result.output
    assert "copied 4 files" in result.output

    again = run("collect", "--dest", str(dest), env=homes)
    assert "copied 0 files" in again.output and "4 unchanged" in again.output


def test_collect_list_copies_nothing(tmp_path, homes):
    result = run("collect", "--list", "--dest", str(tmp_path / "dest"), env=homes)
    assert result.exit_code == 0
    assert not (tmp_path / "dest").exists()
    listed = [line.split("\t") for line in result.output.splitlines() if "\t" in line]
    assert sorted(Path(p).name for _, _, p in listed) == [
        "5c0375b4.jsonl",
        "agent-a1.jsonl",
        "rollout-a.jsonl",
        "rollout-b.jsonl.gz",
    ]
    assert {provider for provider, _, _ in listed} == {"claude", "codex"}


def test_collect_on_a_machine_without_logs(tmp_path):
    """It said "copied 0 files to DEST", a directory it never made, and exited 0."""
    claude, codex = tmp_path / "none1", tmp_path / "none2"
    (claude / "projects" / "-work").mkdir(parents=True)
    (claude / "projects" / "-work" / "notes.txt").write_text("not a log")
    env = {"CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(codex)}
    for dest in (["--dest", str(tmp_path / "dest")], []):  # the default: the inbox
        result = run("collect", *dest, env={**env, "TRACELAB_INBOX": str(tmp_path / "inbox")})
        assert result.exit_code == 1, result.output
        assert "copied 0" not in result.output and " to " not in result.output
        assert (
            f"Error: no Claude Code or Codex logs found (looked in {claude / 'projects'}, "
            f"{codex / 'sessions'}, {codex / 'archived_sessions'}); if they are kept elsewhere, "
            "set CLAUDE_CONFIG_DIR or CODEX_HOME"
        ) in result.output
        assert f"{codex / 'sessions'} (not present)" in result.output
        assert str(claude / "projects" / "-work" / "notes.txt") in result.output
        assert not (tmp_path / "dest").exists() and not (tmp_path / "inbox").exists()
    listed = run("collect", "--list", env=env)
    assert listed.exit_code == 0 and "claude: 0 files" in listed.output


def test_collect_by_default_drops_into_the_inbox_under_a_valid_handle(tmp_path, homes):
    inbox = tmp_path / "inbox"
    env = {**homes, "TRACELAB_INBOX": str(inbox), "LOGNAME": "John Smith"}
    result = run("collect", env=env)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["john-smith"]
    copied = sorted(str(p.relative_to(inbox / "john-smith")) for p in inbox.rglob("*.j*"))
    assert copied == EXPECTED_LAYOUT


def test_collect_refuses_a_remote_inbox_as_default(tmp_path, homes):
    result = CliRunner().invoke(main, ["collect"], env={**homes, "TRACELAB_INBOX": "s3://b/in"})
    assert result.exit_code == 2
    assert "s3://b/in, not a local directory" in result.output


def test_collect_into_a_dest_inside_a_log_root_does_not_copy_its_own_copies(tmp_path, homes):
    """Re-running must not nest a further copy of every log on each run."""
    dest = Path(homes["CLAUDE_CONFIG_DIR"]) / "projects" / "backup"
    for _ in range(3):
        result = run("collect", "--dest", str(dest), env=homes)
        assert result.exit_code == 0, result.output
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == EXPECTED_LAYOUT
    assert "claude: 2 files" in result.output and "4 unchanged" in result.output


def test_collect_by_default_as_a_user_without_a_passwd_entry(tmp_path, homes, monkeypatch):
    """Containers often run under a uid /etc/passwd does not know, with no $USER: getpass
    then raises KeyError (checked with setpriv --reuid 54321). The uid lookup is the one thing
    stood in for here; the handle falls back to 'local'."""
    import pwd

    def unknown_uid(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", unknown_uid)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    inbox = tmp_path / "inbox"
    result = CliRunner().invoke(main, ["collect"], env={**homes, "TRACELAB_INBOX": str(inbox)})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in inbox.iterdir()) == ["local"]


@pytest.mark.parametrize(
    ("name", "handle"),
    [
        ("alice", "alice"),
        ("John Smith", "john-smith"),
        ("DOMAIN\\bob", "domain-bob"),
        ("..x..y", "x.y"),
        ("_", "local"),
        ("", "local"),
        ("é" * 3 + "z", "z"),
    ],
)
def test_handle_from_a_user_name(name, handle):
    assert handle_from(name) == handle and is_valid_handle(handle)


def test_collect_then_normalize(tmp_path, homes):
    dest = tmp_path / "dest"
    run("collect", "--dest", str(dest), env=homes)
    result = run("normalize", str(dest), "--out", str(tmp_path / "out"), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "files:            4 (2 claude, 2 codex)" in result.output
    acc = pq.read_table(tmp_path / "out" / "ingest_accounting.parquet").to_pylist()
    assert len(acc) == 4 and all(row["error"] is None for row in acc)


def test_normalize_writes_every_table(tmp_path):
    out = tmp_path / "out"
    result = run("normalize", str(FIXTURES), "--out", str(out), "--contributor", "alice")
    assert result.exit_code == 0, result.output
    for name, schema in TABLES.items():
        table = pq.read_table(out / f"{name}.parquet")
        assert table.schema.names == schema.names
    steps = pq.read_table(out / "steps.parquet")
    assert steps.num_rows > 0
    assert set(steps.column("contributor").to_pylist()) == {"alice"}
    assert f"steps:            {steps.num_rows} " in result.output
    assert "files:            12 (9 claude, 3 codex)" in result.output
    # a Codex file ends mid-turn: its events are ignored lines, noted, not "kept"
    assert "noted (already counted above as used or ignored):" in result.output
    assert "events dropped at end of file" in result.output


def test_normalize_reports_rejected_lines_by_file_and_line_and_exits_0(tmp_path):
    broken = tmp_path / "broken.jsonl"
    lines = CODEX_SEGMENT.read_bytes().splitlines(keepends=True)
    lines[4] = b'{"type": "event_msg", "payload": \n'
    broken.write_bytes(b"".join(lines) + b'{"timestamp": "2026-')
    result = run("normalize", str(broken), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "malformed JSON" in result.output
    assert f"{broken}:5: malformed JSON" in result.output
    assert f"{broken}:{len(lines) + 1}: truncated last line" in result.output
    rejected = pq.read_table(tmp_path / "out" / "rejected_records.parquet").to_pylist()
    assert [r["line_number"] for r in rejected] == [5, len(lines) + 1]


def test_normalize_fails_naming_a_missing_input_but_writes_the_rest(tmp_path):
    missing = tmp_path / "no-such-file.jsonl"
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["normalize", str(CODEX_SEGMENT), str(missing), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert f"error: {missing}: cannot read" in result.output
    assert pq.read_table(out / "steps.parquet").num_rows > 0


def test_normalize_fails_on_a_file_that_cannot_be_decompressed(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    good = tmp_path / "good.jsonl"
    shutil.copy(CODEX_SEGMENT, good)
    result = CliRunner().invoke(main, ["normalize", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert f"error: {bad}: cannot read" in result.output
    assert pq.read_table(tmp_path / "o" / "steps.parquet").num_rows == 9


def test_normalize_does_not_read_back_its_own_output_inside_an_input_dir(tmp_path):
    """`normalize logs --out logs/out`, run twice: the second run must not take the first run's
    round_trace.jsonl as another input (its duplicates won over the source's steps, which lost
    git_branch, client_version and source_line)."""
    logs = tmp_path / "my logs"
    logs.mkdir()
    shutil.copy(CODEX_SEGMENT, logs / "a.jsonl")
    fresh = run("normalize", str(logs), "--out", str(tmp_path / "fresh"))
    assert fresh.exit_code == 0, fresh.output
    for _ in range(2):
        result = run(
            "normalize", str(logs), "--out", str(logs / "out"), "--format", "tracelab-jsonl"
        )
        assert result.exit_code == 0, result.output
        assert "files:            1 (1 codex)" in result.output
    again = run("normalize", str(logs), "--out", str(logs / "out"))
    assert "files:            1 (1 codex)" in again.output, again.output
    assert "0 duplicates dropped" in again.output
    got = pq.read_table(logs / "out" / "steps.parquet")
    assert got.equals(pq.read_table(tmp_path / "fresh" / "steps.parquet"))
    # named explicitly, an earlier output is read like any other input
    named = run("normalize", str(logs / "out" / "round_trace.jsonl"), "--out", str(logs / "out"))
    assert "files:            1 (1 codex)" in named.output, named.output


def test_normalize_warns_about_an_empty_dir_beside_one_with_a_similar_name(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs2").mkdir()
    shutil.copy(CODEX_SEGMENT, tmp_path / "logs2" / "a.jsonl")
    inputs = [str(tmp_path / "logs"), str(tmp_path / "logs2")]
    result = run("normalize", *inputs, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    warning = f"warning: no .jsonl, .jsonl.gz, .jsonl.zst files under {tmp_path / 'logs'}"
    assert warning in result.output
    assert f"under {tmp_path / 'logs2'}" not in result.output


def test_normalize_to_an_out_dir_it_cannot_create_fails_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run("normalize", str(CODEX_SEGMENT), "--out", str(blocker / "out"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and str(blocker / "out") in result.output


def test_normalize_exports_tracelab_round_jsonl(tmp_path):
    out = tmp_path / "out"
    result = run("normalize", str(CODEX_SEGMENT), "--out", str(out), "--format", "tracelab-jsonl")
    assert result.exit_code == 0, result.output
    rows = (out / "round_trace.jsonl").read_text().splitlines()
    assert len(rows) == 9  # tracelab-ingest §12: the Codex segment has 9 rounds
    assert not (out / "steps.parquet").exists()


def test_a_round_file_of_both_providers_counts_as_mixed(tmp_path):
    out = tmp_path / "rounds"
    both = [str(CLAUDE_SEGMENT), str(CODEX_SEGMENT)]
    run("normalize", *both, "--out", str(out), "--format", "tracelab-jsonl")
    result = run("normalize", str(out / "round_trace.jsonl"), "--out", str(tmp_path / "again"))
    assert result.exit_code == 0, result.output
    assert "files:            1 (1 mixed)" in result.output
    assert pq.read_table(tmp_path / "again" / "steps.parquet").num_rows == 19


def test_every_subcommand_has_help():
    assert set(main.commands) >= {"collect", "contribute", "demo", "forget", "normalize"}
    for name in main.commands:
        result = run(name, "--help")
        assert result.exit_code == 0 and f"Usage: main {name}" in result.output, name
        assert main.commands[name].help, name
    # the two that finish with partial results say when they exit non-zero
    for name in ("demo", "normalize"):
        assert "exits 1 when" in " ".join(run(name, "--help").output.split()), name


def test_every_option_of_every_subcommand_says_what_it_does():
    """`--help` listed e.g. `--workers INTEGER RANGE [default: 1; x>=1]` and nothing else."""
    bare = [
        f"{name} {param.opts[0]}"
        for name, cmd in main.commands.items()
        for param in cmd.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert bare == []


def test_collect_says_how_many_logs_each_place_holds(tmp_path, homes):
    env = {**homes, "CODEX_HOME": str(tmp_path / "no-codex")}
    result = run("collect", "--list", env=env)
    assert result.exit_code == 0
    claude_projects = Path(homes["CLAUDE_CONFIG_DIR"]) / "projects"
    # the sub-agent's .meta.json is not a log: counted and named, not copied
    assert f"{claude_projects} (2 log file(s), 1 other file(s) not taken)" in result.output
    assert f"{tmp_path / 'no-codex' / 'archived_sessions'} (not present)" in result.output
