"""Bad input found by a red-team pass: each case is read, counted and reported by file and line
(or by file, when the file cannot be read at all), never silently dropped."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracelab_pipeline.cli import main as cli
from tracelab_pipeline.formats import read_log
from tracelab_pipeline.formats.common import parse_ts
from tracelab_pipeline.formats.tracelab_rounds import write_tracelab_rounds
from tracelab_pipeline.landing.scan import scan_log
from tracelab_pipeline.normalize import iter_log_files
from tracelab_pipeline.schema import to_table

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
CLAUDE = FIXTURES / "claude" / "tracelab__claude-example-segment.jsonl"
CODEX = FIXTURES / "codex" / "tracelab__codex-example-segment.jsonl"
BOM = b"\xef\xbb\xbf"
FAR_FUTURE = "9999-12-31T23:59:59Z"
NOBODY = 65534


def _counts(result) -> tuple:
    acc = result.accounting
    return result.provider, acc.lines_read, acc.used, acc.ignored, len(acc.rejected)


@pytest.mark.parametrize("source", [CLAUDE, CODEX], ids=["claude", "codex"])
@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_byte_order_mark_does_not_cost_the_first_record(tmp_path, source, packed):
    data = BOM + source.read_bytes()
    path = tmp_path / "bom.jsonl"
    path.write_bytes(gzip.compress(data) if packed else data)
    assert _counts(read_log(path)) == _counts(read_log(source))
    assert len(read_log(path).steps) == len(read_log(source).steps)


def test_a_one_line_file_with_a_byte_order_mark_is_recognized_and_placed(tmp_path):
    # Codex's first line (session_meta) names the session: landing places the file by it.
    first = CODEX.read_bytes().splitlines(keepends=True)[0]
    path = tmp_path / "one.jsonl"
    path.write_bytes(BOM + first)
    result = read_log(path)
    assert (result.provider, result.error, result.accounting.rejected) == ("codex", None, [])
    assert scan_log(path, 2**20).root_session == scan_log(CODEX, 2**30).root_session


def _codex_with_future_usage(tmp_path: Path) -> tuple[Path, int]:
    lines = CODEX.read_bytes().splitlines(keepends=True)
    index = next(
        i for i, line in enumerate(lines) if b'"token_count"' in line and b'"info":{' in line
    )
    record = json.loads(lines[index])
    record["timestamp"] = FAR_FUTURE
    lines[index] = json.dumps(record).encode() + b"\n"
    path = tmp_path / "future.jsonl"
    path.write_bytes(b"".join(lines))
    return path, index + 1


def test_codex_rejects_a_timestamp_in_the_future_naming_its_line(tmp_path):
    path, line = _codex_with_future_usage(tmp_path)
    result = read_log(path)
    acc = result.accounting
    assert acc.lines_read == acc.used + acc.ignored + len(acc.rejected)
    assert [(r["line_number"], r["reason"]) for r in acc.rejected] == [
        (line, "timestamp in the future")
    ]
    assert len(result.steps) == len(read_log(CODEX).steps) - 1
    assert all(s["usage_at"].year < 9999 for s in result.steps)


def test_codex_session_start_in_the_future_falls_back_to_the_record_time(tmp_path):
    lines = CODEX.read_bytes().splitlines(keepends=True)
    meta = json.loads(lines[0])
    meta["payload"]["timestamp"] = FAR_FUTURE
    path = tmp_path / "meta.jsonl"
    path.write_bytes(json.dumps(meta).encode() + b"\n" + b"".join(lines[1:]))
    starts = {s["session_started_at"] for s in read_log(path).steps}
    assert starts == {parse_ts(meta["timestamp"])}


def test_a_round_export_rejects_an_event_in_the_future_naming_its_line(tmp_path):
    result = read_log(CODEX)
    path = tmp_path / "rounds.jsonl"
    tables = [to_table(name, getattr(result, name)) for name in ("steps", "tool_calls")]
    write_tracelab_rounds(*tables, to_table("timing_events", result.timing_events), path)
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["timing_events"][0]["timestamp"] = FAR_FUTURE
    lines[2] = json.dumps(record).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    rejected = read_log(path).accounting.rejected
    assert [(r["line_number"], r["reason"]) for r in rejected] == [
        (3, "timing event timestamp in the future")
    ]


def test_the_search_follows_linked_directories_and_keeps_dangling_log_links(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.jsonl").write_bytes(CODEX.read_bytes())
    root = tmp_path / "in"
    root.mkdir()
    (root / "linked").symlink_to(elsewhere)
    (root / "loop").symlink_to(root)  # must not search forever
    (root / "gone.jsonl").symlink_to(tmp_path / "deleted.jsonl")
    (root / "notes.txt").symlink_to(tmp_path / "deleted.txt")  # not a log name: not listed
    os.mkfifo(root / "pipe.jsonl")  # reading a pipe would block: not a log
    (root / "self.jsonl").symlink_to(root / "self.jsonl")  # a link loop (resolve() raises)
    found = [root / "gone.jsonl", root / "linked" / "a.jsonl", root / "self.jsonl"]
    assert iter_log_files([root]) == found
    assert iter_log_files([root / "self.jsonl"]) == [root / "self.jsonl"]

    out = tmp_path / "out"
    run = CliRunner().invoke(cli, ["normalize", str(root), "--out", str(out)])
    assert run.exit_code == 1, run.output
    assert f"error: {root / 'gone.jsonl'}: cannot read" in run.output
    assert f"error: {root / 'self.jsonl'}: cannot read" in run.output
    assert "9 (0 duplicates dropped)" in run.output  # the linked file's steps


@pytest.fixture
def shared_tmp(tmp_path):
    """A directory any user may use: tmp_path's parents are root's own (mode 0700)."""
    if os.geteuid() != 0:
        return tmp_path
    path = Path(tempfile.mkdtemp(prefix="tracelab-test-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def unprivileged(fn):
    """fn() run by a user without root's rights (root reads a directory whatever its mode, and
    CI runs as root): a forked child that becomes `nobody`. It keeps the modules already
    imported and can import no more from root's home, so callers run `fn` once first."""
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome = ("ok", fn())
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            outcome = ("error", repr(exc))
        os.write(write_end, pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        kind, value = pickle.loads(f.read())
    os.waitpid(pid, 0)
    assert kind == "ok", value
    return value


def test_a_directory_the_search_cannot_list_is_reported_by_name(shared_tmp):
    root = shared_tmp / "in"
    locked = root / "locked"
    locked.mkdir(parents=True)
    (locked / "a.jsonl").write_bytes(CODEX.read_bytes())
    (root / "b.jsonl").write_bytes(CODEX.read_bytes())

    def normalize(out):
        run = CliRunner().invoke(cli, ["normalize", str(root), "--out", str(shared_tmp / out)])
        return iter_log_files([root]), run.exit_code, run.output

    normalize("warm")
    locked.chmod(0)
    try:
        found, exit_code, output = unprivileged(lambda: normalize("out"))
    finally:
        locked.chmod(0o755)
    assert found == [root / "b.jsonl", locked]
    assert exit_code == 1, output
    assert f"error: {locked}: cannot read" in output


def test_an_out_dir_that_cannot_be_written_fails_before_reading_naming_it(tmp_path):
    if os.geteuid() == 0:  # root writes any directory; /proc refuses new files even to root
        out = Path("/proc/self")
        if not out.is_dir():
            pytest.skip("no /proc here")
    else:
        out = tmp_path / "read-only"
        out.mkdir()
        out.chmod(0o555)
    run = CliRunner().invoke(cli, ["normalize", str(CODEX), "--out", str(out)])
    assert run.exit_code == 1
    assert isinstance(run.exception, SystemExit), run.exception  # a message, not a traceback
    assert f"Error: cannot write to --out {out}:" in run.output


def test_synth_refuses_months_that_would_date_sessions_in_the_future(tmp_path):
    # The readers reject future timestamps: such a corpus would be generated only to be lost.
    inbox, truth = tmp_path / "inbox", tmp_path / "truth"
    args = ["synth", "--months", "1000", "--inbox", str(inbox), "--truth", str(truth)]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 1, run.output
    assert "1000 months from 2026-03 would date sessions after today" in run.output
    assert not inbox.exists() and not truth.exists()


def test_collect_reports_log_links_that_lead_nowhere_and_copies_the_rest(tmp_path):
    project = tmp_path / "claude" / "projects" / "p"
    project.mkdir(parents=True)
    (project / "a.jsonl").write_bytes(CLAUDE.read_bytes())
    (project / "gone.jsonl").symlink_to(tmp_path / "deleted.jsonl")
    (project / "self.jsonl").symlink_to(project / "self.jsonl")
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "CODEX_HOME": str(tmp_path / "none")}
    dest = tmp_path / "dest"
    run = CliRunner().invoke(cli, ["collect", "--dest", str(dest)], env=env)
    assert run.exit_code == 1, run.output
    assert f"error: {project / 'gone.jsonl'}: " in run.output
    assert f"error: {project / 'self.jsonl'}: " in run.output
    assert (dest / "claude" / "projects" / "p" / "a.jsonl").read_bytes() == CLAUDE.read_bytes()


def test_collect_reports_a_directory_it_cannot_list(shared_tmp):
    locked = shared_tmp / "claude" / "projects" / "locked"
    locked.mkdir(parents=True)
    (locked / "a.jsonl").write_bytes(CLAUDE.read_bytes())
    env = {"CLAUDE_CONFIG_DIR": str(shared_tmp / "claude"), "CODEX_HOME": str(shared_tmp / "none")}

    def collect(dest):
        run = CliRunner().invoke(cli, ["collect", "--dest", str(shared_tmp / dest)], env=env)
        return run.exit_code, run.output

    collect("warm")
    locked.chmod(0)
    try:
        exit_code, output = unprivileged(lambda: collect("dest"))
    finally:
        locked.chmod(0o755)
    assert exit_code == 1, output
    assert f"error: {locked}: " in output


def test_an_archive_given_to_normalize_is_named_not_read_as_one_log(tmp_path):
    # Its members' lines would be read as one Claude log (the Codex member's records ignored,
    # tar headers rejected as malformed JSON) and the run would exit 0.
    archives = [tmp_path / "logs.tar.gz", tmp_path / "logs.zip"]
    with tarfile.open(archives[0], "w:gz") as tar:
        tar.add(CLAUDE, "a.jsonl")
        tar.add(CODEX, "b.jsonl")
    with zipfile.ZipFile(archives[1], "w") as archive:
        archive.write(CLAUDE, "a.jsonl")
    for path, kind in zip(archives, ("tar", "zip"), strict=True):
        result = read_log(path)
        assert result.error.startswith(f"cannot read: a {kind} archive, not a log")
        assert (result.accounting.lines_read, result.steps) == (0, [])
    run = CliRunner().invoke(
        cli, ["normalize", *map(str, archives), str(CODEX), "--out", str(tmp_path / "out")]
    )
    assert run.exit_code == 1, run.output
    for path in archives:
        assert f"error: {path}: cannot read: a " in run.output
    assert "9 (0 duplicates dropped)" in run.output  # the log beside them is read


def test_the_demo_summary_counts_the_bad_input_it_set_aside(tmp_path):
    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.orchestration.demo import DemoResult
    from tracelab_pipeline.orchestration.demo_summary import summarize
    from tracelab_pipeline.partitioned.build import build_partitions

    data = tmp_path / "data"
    inbox = data / "inbox"
    lines = CLAUDE.read_bytes().splitlines(keepends=True)
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "a.jsonl").write_bytes(b"".join([*lines[:5], b"[1, 2]\n", *lines[5:]]))
    (inbox / "alice" / "garbage.jsonl").write_bytes(b"\xff\xfe no log\n")  # no month: unplaced
    (inbox / "Not A Handle").mkdir()
    (inbox / "Not A Handle" / "b.jsonl").write_bytes(CODEX.read_bytes())
    report = land_inbox(str(inbox), data / "landed")
    keys = report.changed_partitions
    list(build_partitions(data / "landed", data / "private", keys))

    text = summarize(DemoResult(data_dir=data, dagster_home=data / "dagster_home"))
    assert (
        "bad input: 1 inbox drop(s) not landed, 1 landed file(s) unplaced, 1 record(s) rejected,"
        " 0 file(s) with an error" in text
    )


def test_a_file_in_no_known_format_keeps_its_lines_aside_even_when_cut_short(tmp_path):
    lines = [json.dumps({"tool": "other", "n": i}).encode() + b"\n" for i in range(2000)]
    path = tmp_path / "other.jsonl.gz"
    packed = gzip.compress(b"".join(lines))
    path.write_bytes(packed[: len(packed) * 3 // 4])  # cut inside the gzip stream
    result = read_log(path)
    acc = result.accounting
    assert result.error == "unrecognized log format"
    assert acc.lines_read == len(acc.rejected) > 100
    first, last = acc.rejected[0], acc.rejected[-1]
    assert json.loads(first["raw"]) == {"tool": "other", "n": 0}  # the record, kept aside
    assert last["reason"].startswith("unreadable rest of file:") and last["raw"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--data-dir", "{loop}"],
        ["metrics", "--data-dir", "{loop}"],
        ["synth", "--inbox", "{loop}", "--truth", "{tmp}/truth", "--months", "1"],
    ],
    ids=["demo", "metrics", "synth"],
)
def test_a_directory_option_that_is_a_link_loop_gets_a_message(tmp_path, args, monkeypatch):
    monkeypatch.delenv("TRACELAB_INBOX", raising=False)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    argv = [a.format(loop=loop, tmp=tmp_path) for a in args]
    run = CliRunner().invoke(cli, argv)
    assert run.exit_code == 1, run.output
    assert isinstance(run.exception, SystemExit), run.exception  # a message, not a traceback
    assert "Error: " in run.output and str(loop) in run.output


def test_the_ui_table_of_drops_keeps_one_row_per_drop_whatever_the_names(tmp_path):
    import re

    from tracelab_pipeline.landing.land import land_inbox
    from tracelab_pipeline.orchestration.resources import AnonymizationConfig, TraceLabConfig
    from tracelab_pipeline.orchestration.sweep import ContributorNames, _drop_table

    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "two\nlines.jsonl").write_bytes(b"\x1f\x8bnot gzip\n")
    (inbox / "alice" / "junk.tar.gz").write_bytes(b"not an archive at all")  # multi-line reason
    (inbox / "a|b").mkdir()
    (inbox / "a|b" / "c.jsonl").write_bytes(CODEX.read_bytes())
    report = land_inbox(str(inbox), tmp_path / "landed")
    assert len(report.drops) == 3
    assert any("\n" in (d["reason"] or "") for d in report.drops)
    names = ContributorNames(
        AnonymizationConfig(pseudonym_key="k" * 32), TraceLabConfig(data_dir=str(tmp_path))
    )
    rows = _drop_table(report.drops, names).splitlines()
    assert len(rows) == 2 + 3
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row  # five cells, none split


def test_contribute_drops_the_readable_logs_and_names_the_others(tmp_path, monkeypatch):
    # One broken link under ~/.claude used to fail the whole contribution.
    project = tmp_path / "claude" / "projects" / "p"
    project.mkdir(parents=True)
    (project / "a.jsonl").write_bytes(CLAUDE.read_bytes())
    (project / "gone.jsonl").symlink_to(tmp_path / "deleted.jsonl")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    inbox = tmp_path / "inbox"
    run = CliRunner().invoke(cli, ["contribute", "--as", "dana", "--to", str(inbox)])
    assert run.exit_code == 1, run.output
    assert "dropped 1 log file(s)" in run.output
    assert f"error: {project / 'gone.jsonl'}: not dropped: " in run.output
    (archive,) = (inbox / "dana").glob("tracelab-*.tar.gz")
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["claude/projects/p/a.jsonl"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_log_saved_as_utf16_is_named_with_what_to_do(tmp_path, encoding):
    # Windows tools save text as UTF-16: every line was rejected as invalid UTF-8.
    path = tmp_path / "windows.jsonl"
    text = CLAUDE.read_text(encoding="utf-8")
    path.write_bytes((b"\xfe\xff" if encoding == "utf-16-be" else b"") + text.encode(encoding))
    result = read_log(path)
    assert result.error == "cannot read: a UTF-16 text file, not a log (convert it to UTF-8)"
    assert result.accounting.lines_read == 0


@pytest.mark.parametrize("kind", ["pre-envelope codex", "unknown"])
def test_a_gzip_cut_within_the_lines_format_detection_reads_keeps_what_was_read(tmp_path, kind):
    """Format detection peeks at up to 50 lines (past the first for a pre-envelope Codex
    header); a gzip cut there made the whole file unreadable, though landing had landed it
    for its readable lines."""
    if kind == "unknown":
        records = [{"tool": "other", "n": i} for i in range(20)]
    else:
        header = {"id": "5973b6c0-94b8-487b-a530-2aeb6098ae0e"}
        header |= {"timestamp": "2025-06-07T17:24:21Z", "instructions": None}
        records = [header, {"record_type": "state", "pad": "x" * 5000}]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    packed = gzip.compress(data)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) - 12])  # inside the last line (and no trailer)
    result = read_log(path)
    acc = result.accounting
    acc.check()
    assert 1 < acc.lines_read <= len(records)
    assert acc.rejected[-1]["reason"].startswith("unreadable rest of file:")
    if kind == "unknown":
        assert result.error == "unrecognized log format"
    else:
        assert result.error is None and result.provider == "codex"
        assert acc.ignored_by_type == {"legacy.session_header": 1}
