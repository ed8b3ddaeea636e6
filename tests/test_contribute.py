"""`tracelab contribute`: one archive per distinct set of logs, dropped under the handle."""

import shutil

from click.testing import CliRunner
from landing_helpers import CODEX, claude_home_with, fixture

from tracelab_pipeline.cli import main
from tracelab_pipeline.collect import find_logs
from tracelab_pipeline.landing.contribute import contribute
from tracelab_pipeline.landing.land import land_inbox


def test_contribute_drops_one_archive_idempotently_and_it_lands(tmp_path, monkeypatch):
    claude_home = tmp_path / "home" / ".claude"
    codex_home = tmp_path / "home" / ".codex"
    (claude_home / "projects" / "p").mkdir(parents=True)
    (codex_home / "sessions" / "2026" / "04").mkdir(parents=True)
    shutil.copy(fixture("ccviewer__fe5e1c67.jsonl"), claude_home / "projects" / "p" / "s.jsonl")
    shutil.copy(CODEX[0], codex_home / "sessions" / "2026" / "04" / "r.jsonl")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    inbox = tmp_path / "inbox"
    runner = CliRunner()

    first = runner.invoke(main, ["contribute", "--as", "dana", "--to", str(inbox)])
    assert first.exit_code == 0, first.output
    assert "dropped 2 log file(s)" in first.output
    second = runner.invoke(main, ["contribute", "--as", "dana", "--to", str(inbox)])
    assert second.exit_code == 0 and "unchanged" in second.output
    (archive,) = (inbox / "dana").iterdir()
    assert archive.name.startswith("tracelab-") and archive.name.endswith(".tar.gz")

    report = land_inbox(str(inbox), tmp_path / "landed")
    assert [(d["outcome"], d["files_landed"]) for d in report.drops] == [("landed", 2)]

    # a grown log makes a new archive; its unchanged file is a duplicate, the grown one lands
    with (claude_home / "projects" / "p" / "s.jsonl").open("ab") as f:
        f.write(b'{"type":"summary","summary":"s","leafUuid":"u"}\n')
    third = runner.invoke(main, ["contribute", "--as", "dana", "--to", str(inbox)])
    assert "dropped" in third.output and len(list((inbox / "dana").iterdir())) == 2
    report = land_inbox(str(inbox), tmp_path / "landed")
    assert [(d["outcome"], d["files_landed"]) for d in report.drops] == [("landed", 1)]


def test_contribute_refuses_bad_handle_and_no_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    runner = CliRunner()
    bad = runner.invoke(main, ["contribute", "--as", "Not Valid", "--to", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid contributor handle" in bad.output
    assert "not present" not in bad.output  # refused before looking for logs
    empty = runner.invoke(main, ["contribute", "--as", "ok", "--to", str(tmp_path)])
    assert empty.exit_code != 0 and "no Claude Code or Codex logs" in empty.output


def test_contribute_to_an_inbox_that_is_a_file_fails_naming_it(tmp_path, monkeypatch):
    claude_home_with(tmp_path, monkeypatch)
    not_a_dir = tmp_path / "inbox"
    not_a_dir.write_text("a file, not a directory")
    result = CliRunner().invoke(main, ["contribute", "--as", "dana", "--to", str(not_a_dir)])
    assert result.exit_code == 1
    error = result.output.splitlines()[-1]
    assert error.startswith("Error: ") and str(not_a_dir / "dana") in error
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_contribute_says_where_it_looked_and_reports_progress(tmp_path, monkeypatch):
    claude_home = tmp_path / "home" / ".claude"
    (claude_home / "projects" / "p" / "s" / "subagents").mkdir(parents=True)
    (claude_home / "projects" / "empty").mkdir()
    (claude_home / "projects" / "p" / "notes.txt").write_text("not a log")
    log = claude_home / "projects" / "p" / "s.jsonl"
    shutil.copy(fixture("ccviewer__5c0375b4.jsonl"), log)
    sub = claude_home / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl"
    shutil.copy(fixture("ccviewer__fe5e1c67.jsonl"), sub)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "no-codex"))
    inbox = tmp_path / "inbox"

    result = CliRunner().invoke(main, ["contribute", "--as", "dana", "--to", str(inbox)])
    assert result.exit_code == 0, result.output
    assert f"{claude_home / 'projects'} (2 log file(s), 1 other file(s) not taken)" in result.output
    assert (
        "not dropped: 1 file(s) not named *.jsonl/*.jsonl.gz/*.jsonl.zst (1 .txt)" in result.output
    )
    assert str(claude_home / "projects" / "p" / "notes.txt") in result.output
    assert f"{tmp_path / 'no-codex' / 'sessions'} (not present)" in result.output

    # the progress callback sees every byte hashed, then every byte packed; nothing when unchanged
    seen = []
    logs = find_logs()
    first = contribute(logs, "erin", str(inbox), on_bytes=seen.append)
    size = log.stat().st_size + sub.stat().st_size
    assert first.uploaded and sum(seen) == 2 * size
    seen.clear()
    assert not contribute(logs, "erin", str(inbox), on_bytes=seen.append).uploaded
    assert sum(seen) == size


def test_contribute_help_gives_the_handle_rule():
    out = " ".join(CliRunner().invoke(main, ["contribute", "--help"]).output.split())
    assert "lower-case letters, digits" in out and "CODEX_HOME" in out


def test_the_demo_summary_accounts_for_every_file_contributed(tmp_path, monkeypatch):
    """Two drops (the second after a log grew): every file sent is new, a duplicate, or the
    older version of a log a newer one replaced, and the demo summary says which."""
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize

    claude_home = tmp_path / "home" / ".claude"
    (claude_home / "projects" / "p").mkdir(parents=True)
    grown = claude_home / "projects" / "p" / "s.jsonl"
    shutil.copy(fixture("ccviewer__fe5e1c67.jsonl"), grown)
    shutil.copy(fixture("ccviewer__5c0375b4.jsonl"), claude_home / "projects" / "p" / "t.jsonl")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    contribute(find_logs(), "dana", str(inbox))
    with grown.open("ab") as f:
        f.write(b'{"type":"summary","summary":"s","leafUuid":"u"}\n')
    contribute(find_logs(), "dana", str(inbox))
    land_inbox(str(inbox), data / "landed")

    text = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home"))
    line = next(x for x in text.splitlines() if x.startswith("  landed so far:"))
    assert line == (
        "  landed so far: 2 inbox drop(s); files: 3 new, 1 already landed, 0 skipped or "
        "unreadable; 1 replaced by a newer version of the same log"
    )


def test_a_bucket_inbox_without_credentials_fails_saying_what_to_set(tmp_path, monkeypatch):
    """botocore's NoCredentialsError is no OSError: s3fs lets it through, and it was a
    traceback. Both commands that reach a bucket name it and the variables to set; forget
    deletes nothing."""
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata wait
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3fs.S3FileSystem.clear_instance_cache()  # an instance made with credentials elsewhere
    claude_home_with(tmp_path, monkeypatch, "ccviewer__1af7fc5e.jsonl")
    inbox = "s3://tracelab-inbox/drops"

    monkeypatch.setenv("TRACELAB_INBOX", inbox)  # forget's inbox (contribute names its own)
    for args in (
        ["contribute", "--as", "dana", "--to", inbox],
        ["forget", "dana", "--data-dir", str(tmp_path / "data"), "--yes"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        error = result.output.splitlines()[-1]
        assert error.startswith("Error: ") and inbox in error
        assert "Unable to locate credentials" in error and "AWS_ACCESS_KEY_ID" in error
    s3fs.S3FileSystem.clear_instance_cache()
